package keyspace

import (
	"fmt"
	"runtime/debug"
	"testing"
)

// TestSnapshotGCRoom: while snapshots are active the GC percent is raised
// by gcRoomPercent plus their lists' share of the live heap; the last one
// to end restores it; a change made meanwhile by someone else is kept.
func TestSnapshotGCRoom(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	ks := testKS()
	for i := 0; i < 10000; i++ {
		ks.DBs[0].Add(NewStringEntry(fmt.Sprintf("k%d", i), []byte("v")))
	}
	percent := func() int { p, _ := gcMetrics(); return p }
	a := ks.BeginSnapshot()
	raised := percent()
	if raised < 100+gcRoomPercent {
		t.Fatalf("GC percent %d during a snapshot, want at least %d", raised, 100+gcRoomPercent)
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

	// Someone else (a replica's load) sets it meanwhile: theirs stands.
	c := ks.BeginSnapshot()
	debug.SetGCPercent(800)
	c.Lists()
	c.Release()
	if p := percent(); p != 800 {
		t.Fatalf("GC percent %d after a snapshot, want the 800 set meanwhile", p)
	}

	// Collector off: left off.
	debug.SetGCPercent(-1)
	d := ks.BeginSnapshot()
	if p := percent(); p != -1 {
		t.Fatalf("GC percent %d during a snapshot with the collector off", p)
	}
	d.Lists()
	d.Release()
	if p := percent(); p != -1 {
		t.Fatalf("GC percent %d after a snapshot with the collector off", p)
	}
}
