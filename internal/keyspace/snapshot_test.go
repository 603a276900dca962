package keyspace

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

func testKS() *Keyspace {
	ks := New(2)
	now := int64(1000)
	ks.Now = func() int64 { return now }
	return ks
}

// A snapshot must keep showing the values and expiries of the moment it was
// taken, whatever writers do afterwards (copy on write per entry), and must
// not contain keys created later.
func TestSnapshotIsPointInTime(t *testing.T) {
	ks := testKS()
	db := ks.DBs[0]
	for i := 0; i < 100; i++ {
		e := NewStringEntry(fmt.Sprintf("k%d", i), []byte(fmt.Sprintf("v%d", i)))
		db.Add(e)
		if i%2 == 0 {
			db.SetExpire(e, 5000+int64(i))
		}
	}
	snap := ks.BeginSnapshot()
	// Writers: in-place change, overwrite, delete, TTL changes, new keys.
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("k%d", i)
		switch i % 4 {
		case 0:
			e := db.LookupWrite(k)
			e.Str = append(e.Str[:0], "changed"...)
			db.SetExpire(e, 0)
		case 1:
			db.Set(NewStringEntry(k, []byte("over")), false)
		case 2:
			db.Delete(k)
		case 3:
			e := db.LookupWrite(k)
			db.SetExpire(e, 9999)
		}
	}
	db.Add(NewStringEntry("new", []byte("x")))
	if snap.Keys() != 100 {
		t.Fatalf("snapshot has %d keys", snap.Keys())
	}
	for se := range snap.Lists()[0].All() {
		var i int
		fmt.Sscanf(se.E.Key(), "k%d", &i)
		if got, want := string(se.E.Str), fmt.Sprintf("v%d", i); got != want {
			t.Fatalf("%s: snapshot value %q, want %q", se.E.Key(), got, want)
		}
		wantExp := int64(0)
		if i%2 == 0 {
			wantExp = 5000 + int64(i)
		}
		if se.Expire != wantExp {
			t.Fatalf("%s: snapshot expire %d, want %d", se.E.Key(), se.Expire, wantExp)
		}
	}
	snap.Release()
	// Live data reflects the writes; flags are cleared.
	if e := db.Peek("k0"); e == nil || string(e.Str) != "changed" || e.Expire() != 0 {
		t.Fatalf("k0 live = %+v", e)
	}
	if e := db.Peek("k3"); e == nil || e.Expire() != 9999 {
		t.Fatalf("k3 live expire wrong")
	}
	db.Dict().ForEach(func(e *Entry) bool {
		if ks.frozen(e) {
			t.Fatalf("%s still frozen after release", e.Key())
		}
		return true
	})
	// TTL accounting is exact after all that churn.
	n := 0
	db.Dict().ForEach(func(e *Entry) bool {
		if e.Expire() != 0 {
			n++
		}
		return true
	})
	if db.ExpiresLen() != n {
		t.Fatalf("ExpiresLen %d, counted %d", db.ExpiresLen(), n)
	}
}

// Active expiry removes exactly the expired keys, even with stale slots
// left behind by PERSIST, overwrites and deletions.
func TestActiveExpireWithStaleSlots(t *testing.T) {
	now := int64(1000)
	ks := New(1)
	ks.Now = func() int64 { return now }
	db := ks.DBs[0]
	for i := 0; i < 1000; i++ {
		e := NewStringEntry(fmt.Sprintf("k%d", i), []byte("v"))
		db.Add(e)
		db.SetExpire(e, 2000)
	}
	for i := 0; i < 1000; i += 3 {
		db.SetExpire(db.LookupWrite(fmt.Sprintf("k%d", i)), 0) // PERSIST
	}
	for i := 1; i < 1000; i += 3 {
		db.Set(NewStringEntry(fmt.Sprintf("k%d", i), []byte("w")), false) // overwrite drops TTL
	}
	now = 3000
	for db.ExpiresLen() > 0 {
		if db.ActiveExpire(1000) == 0 {
			t.Fatal("no progress")
		}
	}
	if db.Len() != 334+333 {
		t.Fatalf("len %d", db.Len())
	}
	db.compactExpires()
	if len(db.expires) > 64 {
		t.Fatalf("stale slots not reclaimed: %d", len(db.expires))
	}
}

type modelVal struct {
	val string
	exp int64
}

func modelOf(ks *Keyspace, now int64) []map[string]modelVal {
	out := make([]map[string]modelVal, len(ks.DBs))
	for i, db := range ks.DBs {
		m := map[string]modelVal{}
		db.Dict().ForEach(func(e *Entry) bool {
			if e.expire == 0 || e.expire > now {
				m[e.key] = modelVal{string(e.Str), e.expire}
			}
			return true
		})
		out[i] = m
	}
	return out
}

func checkSnapshot(t *testing.T, seed uint64, snap *Snapshot, want []map[string]modelVal) {
	t.Helper()
	lists := snap.Lists()
	for i, m := range want {
		got := map[string]modelVal{}
		for se := range lists[i].All() {
			if _, dup := got[se.E.key]; dup {
				t.Fatalf("seed %d: db %d key %q captured twice", seed, i, se.E.key)
			}
			got[se.E.key] = modelVal{string(se.E.Str), se.Expire}
		}
		if len(got) != len(m) {
			t.Fatalf("seed %d: db %d snapshot has %d keys, want %d", seed, i, len(got), len(m))
		}
		for k, v := range m {
			if got[k] != v {
				t.Fatalf("seed %d: db %d key %q = %+v, want %+v", seed, i, k, got[k], v)
			}
		}
	}
}

// The incremental capture under random interleavings of writes and walk
// steps: every snapshot equals the dataset at the moment it began, several
// snapshots may overlap, and releasing them leaves nothing frozen.
func TestSnapshotIncrementalRandom(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rnd := rand.New(rand.NewPCG(seed, 7))
		now := int64(1000)
		ks := New(3)
		ks.Now = func() int64 { return now }
		key := func() string { return fmt.Sprintf("k%d", rnd.IntN(400)) }
		for i := 0; i < rnd.IntN(600); i++ {
			db := ks.DBs[rnd.IntN(2)]
			e := NewStringEntry(key(), []byte(fmt.Sprintf("v%d", i)))
			db.Set(e, false)
			if rnd.IntN(3) == 0 {
				db.SetExpire(e, now+int64(rnd.IntN(50)))
			}
		}
		type open struct {
			s    *Snapshot
			want []map[string]modelVal
		}
		var snaps []open
		for step := 0; step < 1500; step++ {
			db := ks.DBs[rnd.IntN(2)]
			switch r := rnd.IntN(100); {
			case r < 3 && len(snaps) < 3:
				snaps = append(snaps, open{ks.BeginSnapshot(), modelOf(ks, now)})
			case r < 5 && len(snaps) > 0:
				i := rnd.IntN(len(snaps))
				o := snaps[i]
				if rnd.IntN(4) > 0 {
					checkSnapshot(t, seed, o.s, o.want)
				}
				o.s.Release()
				snaps = append(snaps[:i], snaps[i+1:]...)
			case r < 30:
				if ks.capture != nil {
					ks.capture.walkStep(1+rnd.IntN(20), 0)
				}
			case r < 45:
				if e := db.LookupWrite(key()); e != nil {
					e.Str = append(e.Str[:0], fmt.Sprintf("w%d", step)...) // in place
				}
			case r < 60:
				db.Set(NewStringEntry(key(), []byte(fmt.Sprintf("s%d", step))), rnd.IntN(2) == 0)
			case r < 70:
				db.Delete(key())
			case r < 78:
				if e := db.LookupWrite(key()); e != nil {
					db.SetExpire(e, int64(rnd.IntN(2))*(now+int64(rnd.IntN(50))))
				}
			case r < 82:
				k := key()
				if db.Peek(k) != nil {
					dst := fmt.Sprintf("r%d", step)
					db.Rename(k, dst)
				}
			case r < 85:
				if e := db.Peek(key()); e != nil {
					other := ks.DBs[1-db.ID]
					if other.Peek(e.key) == nil {
						db.MoveTo(e, other)
					}
				}
			case r < 86:
				ks.DBs[2].Flush()
			case r < 87:
				ks.Swap(rnd.IntN(3), rnd.IntN(3))
			case r < 90:
				now += int64(rnd.IntN(10))
				db.ActiveExpire(50)
			case r < 91:
				for _, d := range ks.DBs {
					d.Dict().ShrinkIfNeeded()
				}
			default:
				for i := 0; i < 5; i++ {
					db.Add(NewStringEntry(fmt.Sprintf("n%d-%d", step, i), []byte("n")))
				}
			}
		}
		for _, o := range snaps {
			checkSnapshot(t, seed, o.s, o.want)
			o.s.Release()
		}
		for _, db := range ks.DBs {
			if db.dict.paused != 0 {
				t.Fatalf("seed %d: db %d rehashing still paused after every walk", seed, db.ID)
			}
			db.Dict().ForEach(func(e *Entry) bool {
				if ks.frozen(e) {
					t.Fatalf("seed %d: %s frozen after every release", seed, e.key)
				}
				return true
			})
		}
	}
}

// Lists drives the capture from another goroutine, one locked chunk at a
// time, while a writer keeps changing the keyspace under the same lock.
func TestSnapshotCaptureConcurrentWriter(t *testing.T) {
	var mu sync.Mutex
	ks := New(1)
	now := int64(1000)
	ks.Now = func() int64 { return now }
	ks.Locker = &mu
	db := ks.DBs[0]
	for i := 0; i < 200000; i++ {
		db.Add(NewStringEntry(fmt.Sprintf("k%d", i), []byte("v")))
	}
	mu.Lock()
	snap := ks.BeginSnapshot()
	want := modelOf(ks, now)
	mu.Unlock()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			for j := 0; j < 50; j++ {
				k := fmt.Sprintf("k%d", (i*50+j)*7919%250000)
				if e := db.LookupWrite(k); e != nil {
					e.Str = append(e.Str[:0], 'x')
				} else {
					db.Add(NewStringEntry(k, []byte("new")))
				}
				db.Delete(fmt.Sprintf("k%d", (i*50+j)*104729%200000))
			}
			mu.Unlock()
		}
	}()
	lists := snap.Lists()
	close(stop)
	<-done
	if lists[0].Len() != 200000 {
		t.Fatalf("captured %d keys, want 200000", lists[0].Len())
	}
	checkSnapshot(t, 0, snap, want)
	mu.Lock()
	snap.Release()
	mu.Unlock()
}
