package keyspace

import (
	"fmt"
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
	for _, se := range snap.DBs[0] {
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
		if e.LRU&flagFrozen != 0 {
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
