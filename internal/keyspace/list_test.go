package keyspace

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

func listContents(l *List) [][]byte {
	var out [][]byte
	l.Each(func(v []byte) bool { out = append(out, v); return true })
	return out
}

func checkList(t *testing.T, step int, l *List, model [][]byte) {
	t.Helper()
	got := listContents(l)
	if l.Len() != len(model) || len(got) != len(model) {
		t.Fatalf("step %d: len %d/%d, model %d", step, l.Len(), len(got), len(model))
	}
	for i := range model {
		if !bytes.Equal(got[i], model[i]) {
			t.Fatalf("step %d: index %d: %q != %q", step, i, got[i], model[i])
		}
	}
	var rev [][]byte
	l.EachReverse(func(v []byte) bool { rev = append(rev, v); return true })
	for i := range model {
		if !bytes.Equal(rev[len(rev)-1-i], model[i]) {
			t.Fatalf("step %d: reverse mismatch at %d", step, i)
		}
	}
}

func TestListDequeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := NewList()
	var model [][]byte
	ctr := 0
	for step := 0; step < 20000; step++ {
		ctr++
		v := []byte(fmt.Sprint(ctr))
		switch op := r.IntN(12); op {
		case 0, 1:
			l.PushBack(v)
			model = append(model, v)
		case 2, 3:
			l.PushFront(v)
			model = append([][]byte{v}, model...)
		case 4:
			x, ok := l.PopFront()
			if ok != (len(model) > 0) || (ok && !bytes.Equal(x, model[0])) {
				t.Fatalf("step %d: popfront", step)
			}
			if ok {
				model = model[1:]
			}
		case 5:
			x, ok := l.PopBack()
			if ok != (len(model) > 0) || (ok && !bytes.Equal(x, model[len(model)-1])) {
				t.Fatalf("step %d: popback", step)
			}
			if ok {
				model = model[:len(model)-1]
			}
		case 6:
			if len(model) > 0 {
				i := r.IntN(len(model)*2) - len(model)
				x, ok := l.Index(i)
				j := i
				if j < 0 {
					j += len(model)
				}
				if !ok || !bytes.Equal(x, model[j]) {
					t.Fatalf("step %d: index %d", step, i)
				}
				l.Set(i, v)
				model[j] = v
			}
		case 7:
			i := r.IntN(len(model) + 1)
			l.Insert(i, v)
			model = append(model[:i], append([][]byte{v}, model[i:]...)...)
		case 8:
			if len(model) > 0 {
				s := r.IntN(len(model))
				e := s + r.IntN(len(model)-s)
				var got [][]byte
				l.Range(s, e, func(v []byte) { got = append(got, v) })
				var rgot [][]byte
				l.RangeReverse(s, e, func(v []byte) { rgot = append(rgot, v) })
				for k := s; k <= e; k++ {
					if !bytes.Equal(got[k-s], model[k]) || !bytes.Equal(rgot[e-k], model[k]) {
						t.Fatalf("step %d: range %d..%d", step, s, e)
					}
				}
			}
		case 9:
			if r.IntN(20) == 0 {
				mod := r.IntN(5)
				rev := r.IntN(2) == 0
				keep := func(v []byte) bool { return len(v)%5 != mod || v[0]%2 == 0 }
				n := l.Filter(rev, keep)
				var nm [][]byte
				for _, x := range model {
					if keep(x) {
						nm = append(nm, x)
					}
				}
				if n != len(model)-len(nm) {
					t.Fatalf("step %d: filter count", step)
				}
				model = nm
			}
		case 10:
			if r.IntN(30) == 0 && len(model) > 0 {
				s := r.IntN(len(model))
				e := s + r.IntN(len(model)-s)
				l.Trim(s, e)
				model = append([][]byte(nil), model[s:e+1]...)
			}
		case 11:
			c := l.Clone().(*List)
			checkList(t, step, c, model)
		}
		if step%97 == 0 {
			checkList(t, step, l, model)
		}
	}
	checkList(t, -1, l, model)
}
