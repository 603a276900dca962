package keyspace

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

type zmodel map[string]float64

func (m zmodel) sorted() []ZItem {
	var out []ZItem
	for k, v := range m {
		out = append(out, ZItem{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return zless(out[i].Score, out[i].Member, out[j].Score, out[j].Member) })
	return out
}

func checkZSet(t *testing.T, step int, z *ZSet, m zmodel) {
	t.Helper()
	want := m.sorted()
	if z.Len() != len(want) {
		t.Fatalf("step %d: len %d want %d", step, z.Len(), len(want))
	}
	i := 0
	z.Each(func(mem []byte, s float64) bool {
		if string(mem) != want[i].Member || s != want[i].Score {
			t.Fatalf("step %d: at %d got %s/%v want %v", step, i, mem, s, want[i])
		}
		i++
		return true
	})
	for r, it := range want {
		if got, ok := z.Rank([]byte(it.Member)); !ok || got != r {
			t.Fatalf("step %d: rank of %s = %d,%v want %d", step, it.Member, got, ok, r)
		}
		if at := z.At(r); at != it {
			t.Fatalf("step %d: at %d = %v want %v", step, r, at, it)
		}
	}
	if z.sl != nil && z.sl.length != len(want) {
		t.Fatalf("skiplist length")
	}
}

func TestZSetRandom(t *testing.T) {
	for _, limit := range []int{0, 16, 128} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(limit)))
			z := NewZSet()
			z.MaxCompactEntries = limit
			m := zmodel{}
			for step := 0; step < 15000; step++ {
				mem := fmt.Sprintf("m%d", r.IntN(300))
				switch op := r.IntN(10); op {
				case 0, 1, 2, 3:
					sc := float64(r.IntN(50))
					_, existed := m[mem]
					if added := z.Add([]byte(mem), sc); added == existed {
						t.Fatalf("step %d: add reported %v", step, added)
					}
					m[mem] = sc
				case 4, 5:
					_, existed := m[mem]
					if z.Remove([]byte(mem)) != existed {
						t.Fatalf("step %d: remove", step)
					}
					delete(m, mem)
				case 6:
					lo, hi := float64(r.IntN(50)), float64(r.IntN(50))
					min, max := ScoreBound{lo, r.IntN(2) == 0}, ScoreBound{hi, r.IntN(2) == 0}
					f, l := z.ScoreRange(min, max)
					want := m.sorted()
					wf, wl := -1, -2
					for i, it := range want {
						if scoreAboveMin(it.Score, min) && scoreBelowMax(it.Score, max) {
							if wf < 0 {
								wf = i
							}
							wl = i
						}
					}
					if wf >= 0 && (f != wf || l != wl) || wf < 0 && f <= l {
						t.Fatalf("step %d: score range %v %v = %d..%d want %d..%d", step, min, max, f, l, wf, wl)
					}
					var got []string
					z.Range(f, l, true, func(m string, _ float64) bool { got = append(got, m); return true })
					if wf >= 0 && (len(got) != wl-wf+1 || got[0] != want[wl].Member) {
						t.Fatalf("step %d: rev range", step)
					}
				case 7:
					// lex on an all-equal-score set
					zz := NewZSet()
					zz.MaxCompactEntries = limit
					var names []string
					for i := 0; i < r.IntN(40); i++ {
						n := fmt.Sprintf("%c%d", 'a'+r.IntN(26), r.IntN(10))
						zz.Add([]byte(n), 0)
						names = append(names, n)
					}
					sort.Strings(names)
					uniq := names[:0]
					for i, n := range names {
						if i == 0 || n != names[i-1] {
							uniq = append(uniq, n)
						}
					}
					min := LexBound{V: fmt.Sprintf("%c", 'a'+r.IntN(26)), Excl: r.IntN(2) == 0}
					max := LexBound{V: fmt.Sprintf("%c", 'a'+r.IntN(26)), Excl: r.IntN(2) == 0, Inf: r.IntN(3) - 1}
					f, l := zz.LexRange(min, max)
					cnt := 0
					for _, n := range uniq {
						if lexAboveMin(n, min) && lexBelowMax(n, max) {
							cnt++
						}
					}
					if got := l - f + 1; (cnt == 0 && got > 0) || (cnt > 0 && got != cnt) {
						t.Fatalf("step %d: lex count %d want %d", step, got, cnt)
					}
				case 8:
					if r.IntN(50) == 0 && z.Len() > 0 {
						s := r.IntN(z.Len())
						e := s + r.IntN(3)
						want := m.sorted()
						removed := z.DeleteRange(s, e)
						for i, mm := range removed {
							if want[s+i].Member != mm {
								t.Fatalf("deleterange")
							}
							delete(m, mm)
						}
					}
				case 9:
					if r.IntN(100) == 0 {
						c := z.Clone().(*ZSet)
						checkZSet(t, step, c, m)
						c.ConvertCompact()
						checkZSet(t, step, c, m)
					}
				}
				if step%101 == 0 {
					checkZSet(t, step, z, m)
				}
			}
			checkZSet(t, -1, z, m)
			if limit == 16 && z.Encoding() != "skiplist" {
				t.Fatalf("expected conversion")
			}
		})
	}
}

// checkSkiplist verifies the skiplist's invariants: order, spans, backward
// links, the tail, the length and the scores cached in the links.
func checkSkiplist(t *testing.T, step int, sl *skiplist) {
	t.Helper()
	var nodes []*slNode
	for x := sl.header.level[0].forward; x != nil; x = x.level[0].forward {
		nodes = append(nodes, x)
	}
	if len(nodes) != sl.length {
		t.Fatalf("step %d: %d nodes, length %d", step, len(nodes), sl.length)
	}
	rank := map[*slNode]int{sl.header: 0}
	for i, x := range nodes {
		rank[x] = i + 1
		if i > 0 && !zless(nodes[i-1].score, nodes[i-1].member, x.score, x.member) {
			t.Fatalf("step %d: out of order at %d", step, i)
		}
		want := (*slNode)(nil)
		if i > 0 {
			want = nodes[i-1]
		}
		if x.backward != want {
			t.Fatalf("step %d: backward link at %d", step, i)
		}
	}
	if len(nodes) > 0 && sl.tail != nodes[len(nodes)-1] || len(nodes) == 0 && sl.tail != nil {
		t.Fatalf("step %d: tail", step)
	}
	check := func(x *slNode, levels int) {
		for i := 0; i < levels; i++ {
			l := x.level[i]
			if l.forward == nil {
				continue
			}
			if l.score != l.forward.score {
				t.Fatalf("step %d: cached score %v, node has %v", step, l.score, l.forward.score)
			}
			if got := rank[l.forward] - rank[x]; got != l.span {
				t.Fatalf("step %d: span %d want %d (level %d)", step, l.span, got, i)
			}
			if len(l.forward.level) <= i {
				t.Fatalf("step %d: link at level %d to a node of height %d", step, i, len(l.forward.level))
			}
		}
	}
	check(sl.header, sl.level)
	for _, x := range nodes {
		if len(x.level) > sl.level {
			t.Fatalf("step %d: node height %d above list level %d", step, len(x.level), sl.level)
		}
		check(x, len(x.level))
	}
}

// TestSkiplistUpdateScore moves members around by small steps (kept in
// place), big jumps (relinked) and onto tied scores, checking every
// invariant against a model.
func TestSkiplistUpdateScore(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	z := NewZSetSkiplist()
	m := zmodel{}
	for step := 0; step < 20000; step++ {
		mem := fmt.Sprintf("m%d", r.IntN(400))
		sc, ok := m[mem]
		switch op := r.IntN(6); {
		case !ok || op == 0:
			sc = float64(r.IntN(100))
		case op == 1:
			sc += 0.001 // usually stays between its neighbours
		case op == 2:
			sc -= 0.001
		case op == 3:
			if z.Remove([]byte(mem)) != ok {
				t.Fatalf("step %d: remove", step)
			}
			delete(m, mem)
			continue
		default:
			sc = float64(r.IntN(100)) // ties with others
		}
		z.Add([]byte(mem), sc)
		m[mem] = sc
		if step%97 == 0 {
			checkSkiplist(t, step, z.sl)
			checkZSet(t, step, z, m)
		}
	}
	checkSkiplist(t, -1, z.sl)
	checkZSet(t, -1, z, m)
}

// BenchmarkZSetAdd is redis-benchmark's ZADD test on a warm set: random
// members out of 100k get random integer scores out of 100k.
func BenchmarkZSetAdd(b *testing.B) {
	const n = 100000
	r := rand.New(rand.NewPCG(1, 2))
	z := NewZSetSkiplist()
	members := make([][]byte, n)
	for i := range members {
		members[i] = []byte(fmt.Sprintf("element:%012d", i))
		z.Add(members[i], float64(r.IntN(n)))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		z.Add(members[r.IntN(n)], float64(r.IntN(n)))
	}
}
