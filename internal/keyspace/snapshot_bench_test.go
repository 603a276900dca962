package keyspace

import (
	"strconv"
	"testing"
)

// BenchmarkSnapshotWalk measures the capture walk of a snapshot (what a
// BGSAVE or a full sync does under the keyspace lock, in chunks) over 1.2M
// string keys: ns/op is per key. Most of it is cache (and TLB) misses on
// the entries, scattered over the heap; see the Entry field order.
func BenchmarkSnapshotWalk(b *testing.B) {
	const keys = 1200000
	ks := New(16)
	ks.Now = func() int64 { return 1 }
	db := ks.DBs[0]
	val := []byte("xxxxxxxxxxxxxxxx")
	for i := 0; i < keys; i++ {
		db.Set(NewStringEntry("key:"+strconv.Itoa(i), val), false)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i += keys {
		b.StopTimer()
		s := ks.BeginSnapshot()
		b.StartTimer()
		s.walkAll()
		b.StopTimer()
		if s.dbs[0].Len() != keys {
			b.Fatalf("captured %d keys, want %d", s.dbs[0].Len(), keys)
		}
		s.Release()
		b.StartTimer()
	}
}
