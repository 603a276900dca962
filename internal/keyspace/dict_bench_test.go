package keyspace

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// chainStats returns the longest chain and the number of entries.
func chainStats(d *Dict) (maxChain, n int) {
	for i := 0; i < 2; i++ {
		for _, h := range d.t[i].buckets {
			c := 0
			for e := h; e != nil; e = e.next {
				c++
			}
			n += c
			if c > maxChain {
				maxChain = c
			}
		}
	}
	return
}

// Overwriting random existing keys (SET on a populated keyspace) must keep
// chains short: this is the hot path of SET.
func TestDictOverwriteKeepsChainsShort(t *testing.T) {
	ks := New(1)
	ks.Now = func() int64 { return 0 }
	db := ks.DBs[0]
	keys := make([]string, 100000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%012d", i)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 500000; i++ {
		k := keys[r.IntN(len(keys))]
		db.LookupWrite(k)
		db.Set(NewStringEntry(k, []byte("x")), false)
	}
	for db.dict.rehashing() {
		db.dict.rehashStep(100)
	}
	mc, n := chainStats(db.dict)
	if n != db.Len() {
		t.Fatalf("entries %d != len %d", n, db.Len())
	}
	if mc > 12 {
		t.Fatalf("longest chain %d (len %d, buckets %d)", mc, db.Len(), len(db.dict.t[0].buckets))
	}
}

func BenchmarkDictGet(b *testing.B) {
	d := NewDict()
	keys := make([]string, 100000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%012d", i)
		d.Add(&Entry{key: keys[i]})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d.Get(keys[i%len(keys)]) == nil {
			b.Fatal("missing")
		}
	}
}
