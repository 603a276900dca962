package keyspace

import (
	"fmt"
	"runtime/debug"
	"testing"

	"github.com/vigil-kv/vigil/internal/gcgoal"
)

// TestSnapshotGCRoom: while snapshots are active the GC percent is raised
// by gcgoal.RoomPercent plus their lists' share of the live heap; the last
// one to end restores it. (How the room combines with other holds:
// internal/gcgoal's tests.)
func TestSnapshotGCRoom(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ks := testKS()
	for i := 0; i < 10000; i++ {
		ks.DBs[0].Add(NewStringEntry(fmt.Sprintf("k%d", i), []byte("v")))
	}
	percent := func() int { p, _ := gcgoal.Metrics(); return p }
	a := ks.BeginSnapshot()
	raised := percent()
	if raised < 100+gcgoal.RoomPercent {
		t.Fatalf("GC percent %d during a snapshot, want at least %d", raised, 100+gcgoal.RoomPercent)
	}
	b := ks.BeginSnapshot()
	if p := percent(); p < raised {
		t.Fatalf("a second snapshot lowered the GC percent: %d < %d", p, raised)
	}
	a.Lists()
	a.Release()
	if p := percent(); p <= 100 {
		t.Fatalf("GC percent back to %d while a snapshot is still active", p)
	}
	b.Lists()
	b.Release()
	if p := percent(); p != 100 {
		t.Fatalf("GC percent %d after the snapshots, want 100 again", p)
	}
}
