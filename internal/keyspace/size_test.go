package keyspace

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/vigil-kv/vigil/internal/rdb"
)

// The entry is the per-key overhead; keep it within the 80-byte size class
// (the memory-per-key target against redis-server depends on it).
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(Entry{}); n > 80 {
		t.Fatalf("Entry is %d bytes, want <= 80", n)
	}
}

// TestHashListpackModel: under random HSET/HDEL sequences (integer-like
// and string fields and values of every listpack encoding size), a
// compact hash's storage is byte for byte the listpack Redis would hold
// (rdb.ListpackEncode of the pairs in insertion order), and Get, Len, Each
// and a reload through NewHashFromListpack agree with a model.
func TestHashListpackModel(t *testing.T) {
	words := []string{"0", "7", "-1", "127", "128", "-4096", "4095", "4096", "32767", "-32769",
		"8388607", "-8388609", "2147483647", "2147483648", "9223372036854775807",
		"-9223372036854775808", "9223372036854775808", "007", "+1", "-0", "", "a", "field",
		strings.Repeat("x", 63), strings.Repeat("y", 64), strings.Repeat("z", 200), strings.Repeat("w", 5000)}
	for seed := uint64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		h := NewHash()
		type pair struct{ f, v string }
		var model []pair
		find := func(f string) int {
			for i, p := range model {
				if p.f == f {
					return i
				}
			}
			return -1
		}
		for op := 0; op < 300 && h.IsCompact(); op++ {
			if rng.IntN(8) == 0 {
				h.Reserve(rng.IntN(100)) // HSET reserves before adding pairs
			}
			f := words[rng.IntN(len(words))]
			if rng.IntN(4) == 0 {
				f = fmt.Sprint(rng.Int64N(1 << 40))
			}
			if rng.IntN(5) == 0 {
				i := find(f)
				if h.Delete([]byte(f)) != (i >= 0) {
					t.Fatalf("seed %d: Delete(%q) disagrees with the model", seed, f)
				}
				if i >= 0 {
					model = append(model[:i], model[i+1:]...)
				}
			} else {
				v := words[rng.IntN(len(words))]
				i := find(f)
				if h.SetLimits([]byte(f), []byte(v), 512, 10000) != (i < 0) {
					t.Fatalf("seed %d: Set(%q) new = %v", seed, f, i < 0)
				}
				if i >= 0 {
					model[i].v = v
				} else {
					model = append(model, pair{f, v})
				}
			}
			if h.Len() != len(model) {
				t.Fatalf("seed %d: Len %d, model %d", seed, h.Len(), len(model))
			}
			var elems [][]byte
			for _, p := range model {
				elems = append(elems, []byte(p.f), []byte(p.v))
				if v, ok := h.Get([]byte(p.f)); !ok || string(v) != p.v {
					t.Fatalf("seed %d: Get(%q) = %q %v, want %q", seed, p.f, v, ok, p.v)
				}
			}
			if len(model) == 0 {
				if h.Listpack() != nil {
					t.Fatalf("seed %d: empty hash keeps a listpack", seed)
				}
				continue
			}
			if want := rdb.ListpackEncode(elems); !bytes.Equal(h.Listpack(), want) {
				t.Fatalf("seed %d op %d: listpack\n%x\nwant\n%x", seed, op, h.Listpack(), want)
			}
			k := 0
			h.Each(func(f, v []byte) bool {
				if string(f) != model[k].f || string(v) != model[k].v {
					t.Fatalf("seed %d: Each #%d = %q=%q, want %q=%q", seed, k, f, v, model[k].f, model[k].v)
				}
				k++
				return true
			})
			if op%37 == 0 {
				r := NewHashFromListpack(bytes.Clone(h.Listpack()), -1)
				compact := len(model) <= DefaultHashMaxListpackEntries
				for _, p := range model {
					compact = compact && len(p.f) <= DefaultHashMaxListpackValue && len(p.v) <= DefaultHashMaxListpackValue
					if v, ok := r.Get([]byte(p.f)); !ok || string(v) != p.v {
						t.Fatalf("seed %d: reloaded Get(%q) = %q", seed, p.f, v)
					}
				}
				if r.IsCompact() != compact || r.Len() != len(model) {
					t.Fatalf("seed %d: reloaded compact=%v len=%d, want %v %d", seed, r.IsCompact(), r.Len(), compact, len(model))
				}
			}
		}
	}
}

// BenchmarkHashCompactSetGet: a compact hash of 100 fields (f1..f100 =
// v0000001..), built with Set, then Get of every field; and an update of
// an existing field, as HSET/HGET/HINCRBY on small hashes do.
func BenchmarkHashCompactSetGet(b *testing.B) {
	var fields, vals [][]byte
	for f := 1; f <= 100; f++ {
		fields = append(fields, []byte(fmt.Sprintf("f%d", f)))
		vals = append(vals, []byte(fmt.Sprintf("v%07d", f)))
	}
	b.Run("build100", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			h := NewHash()
			for j := range fields {
				h.Set(fields[j], vals[j])
			}
		}
	})
	h := NewHash()
	for j := range fields {
		h.Set(fields[j], vals[j])
	}
	b.Run("get", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := h.Get(fields[i%100]); !ok {
				b.Fatal("missing")
			}
		}
	})
	b.Run("update", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			h.Set(fields[i%100], vals[(i+1)%100])
		}
	})
	b.Run("incr-like", func(b *testing.B) {
		n := []byte("12345")
		for i := 0; i < b.N; i++ {
			h.Set(fields[i%100], n)
		}
	})
}
