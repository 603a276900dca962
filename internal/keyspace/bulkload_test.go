package keyspace

import (
	"fmt"
	"testing"
)

func TestLoadBatch(t *testing.T) {
	for _, reserve := range []int{0, 10, 5000} {
		t.Run(fmt.Sprint("reserve", reserve), func(t *testing.T) {
			ks := New(1)
			ks.Now = func() int64 { return 1000 }
			db := ks.DBs[0]
			if reserve > 0 {
				db.Reserve(reserve)
			}
			// 3000 keys in uneven batches, every 7th with a TTL, and
			// duplicates both inside a batch and across batches.
			var es []*Entry
			var exps []int64
			want := map[string]string{}
			wantTTL := map[string]int64{}
			add := func(k, v string, exp int64) {
				es = append(es, NewStringEntry(k, []byte(v)))
				exps = append(exps, exp)
				want[k] = v
				if exp != 0 {
					wantTTL[k] = exp
				} else {
					delete(wantTTL, k)
				}
			}
			for i := 0; i < 3000; i++ {
				var exp int64
				if i%7 == 0 {
					exp = 5000 + int64(i)
				}
				add(fmt.Sprintf("k%d", i), fmt.Sprint("v", i), exp)
				if i%500 == 3 {
					add(fmt.Sprintf("k%d", i), "dup-in-batch", 0) // same batch
				}
				if i%450 == 10 {
					add(fmt.Sprintf("k%d", i-9), "dup-later", 99999) // an earlier batch
				}
			}
			dups := 0
			for start := 0; start < len(es); {
				n := min(1+start%97, len(es)-start)
				dups += db.LoadBatch(es[start:start+n], exps[start:start+n])
				start += n
			}
			if want := len(es) - len(want); dups != want {
				t.Errorf("dups = %d, want %d", dups, want)
			}
			if db.Len() != len(want) {
				t.Fatalf("Len = %d, want %d", db.Len(), len(want))
			}
			if db.ExpiresLen() != len(wantTTL) {
				t.Errorf("ExpiresLen = %d, want %d", db.ExpiresLen(), len(wantTTL))
			}
			for k, v := range want {
				e := db.Peek(k)
				if e == nil || string(e.Str) != v {
					t.Fatalf("%s = %v, want %q", k, e, v)
				}
				if e.Expire() != wantTTL[k] {
					t.Fatalf("%s expire = %d, want %d", k, e.Expire(), wantTTL[k])
				}
			}
			// The table works normally afterwards.
			n := 0
			for c := uint64(0); ; {
				c = db.Dict().Scan(c, func(*Entry) { n++ })
				if c == 0 {
					break
				}
			}
			if n != len(want) {
				t.Errorf("scan saw %d keys, want %d", n, len(want))
			}
			db.Add(NewStringEntry("after", []byte("x")))
			if !db.Delete("k1") || db.Peek("after") == nil {
				t.Error("table unusable after LoadBatch")
			}
		})
	}
}

func TestLoadBatchWhileRehashing(t *testing.T) {
	ks := New(1)
	ks.Now = func() int64 { return 0 }
	db := ks.DBs[0]
	for i := 0; i < 1000; i++ {
		db.Add(NewStringEntry(fmt.Sprint("a", i), nil))
	}
	if !db.dict.rehashing() {
		db.dict.resize(4096) // start a rehash
	}
	var es []*Entry
	for i := 0; i < 200; i++ {
		es = append(es, NewStringEntry(fmt.Sprint("b", i), nil))
	}
	es = append(es, NewStringEntry("a5", []byte("new")))
	if d := db.LoadBatch(es, nil); d != 1 {
		t.Fatalf("dups = %d", d)
	}
	if db.Len() != 1200 || string(db.Peek("a5").Str) != "new" || db.Peek("b199") == nil {
		t.Fatalf("Len %d", db.Len())
	}
}
