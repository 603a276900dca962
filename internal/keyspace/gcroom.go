package keyspace

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"unsafe"
)

// GC room for snapshots.
//
// A snapshot's own memory is short-lived: its lists of captured entries
// (16 bytes a key: 23 MB for 1.45M keys) and the saver's buffers, freed
// when the save ends. Counted against the GC's goal like any allocation,
// it brought the next collection forward into the save. And on a server
// with one CPU a collection is the one thing that hurts the clients more
// than the save: Go's fractional mark worker, the only one with one P,
// runs in stretches of up to 5% of the mark phase's length
// (golang/go#21698), 15-20 ms for a heap of 200 MB that takes 0.6 s to
// mark at a quarter of the CPU. Measured with bench/latprobe (one CPU,
// 1.45M keys, 50 SET clients, the heap near its goal after a benchmark, as
// bench/persistence.sh leaves it): a cycle started 0.2 s into every
// BGSAVE, and the clients' p99 during the save went from 1.2-1.5x of the
// p99 before it to 2.4-3.6x, with stalls of 15-20 ms; with room for the
// lists only, the cycle started 0.6 s in, with the same effect.
//
// So while snapshots are active the heap goal is raised by their lists
// and buffers plus a quarter of the live heap (gcRoomPercent): garbage
// the clients make meanwhile is collected after the save, by a cycle that
// then has the CPU to itself rather than stacked on the save's work (two
// consumers of a quarter of the CPU each, together, leave the clients
// half of it). The extra memory is bounded by that quarter, and
// maxmemory's memory limit (server/evict.go) still bounds the heap. The
// last snapshot to end restores the percent; if someone else changed it
// in between (a replica's load, replication/loadgc.go), it is left alone.
var gcRoom struct {
	sync.Mutex
	bytes int64 // held by the active snapshots
	base  int   // GC percent before the first of them raised it
	set   int   // the percent set for them; 0: not raised
}

// gcRoomPercent is the room, in percent of the live heap, for garbage
// made while snapshots are active.
const gcRoomPercent = 25

// snapGCRoomFixed is the saver's buffers, on top of the lists.
const snapGCRoomFixed = 4 << 20

// reserveGCRoom raises the heap goal by n bytes until release is called.
func reserveGCRoom(n int64) (release func()) {
	gcRoom.Lock()
	defer gcRoom.Unlock()
	gcRoom.bytes += n
	applyGCRoom()
	return func() {
		gcRoom.Lock()
		defer gcRoom.Unlock()
		gcRoom.bytes -= n
		applyGCRoom()
	}
}

func applyGCRoom() {
	cur, live := gcMetrics()
	if gcRoom.set != 0 && cur != gcRoom.set {
		// Changed behind our back: that setting wins, and is the base now.
		gcRoom.set, gcRoom.base = 0, cur
	}
	if gcRoom.bytes <= 0 {
		if gcRoom.set != 0 {
			debug.SetGCPercent(gcRoom.base)
			gcRoom.set = 0
		}
		return
	}
	if gcRoom.set == 0 {
		if cur <= 0 { // collector off: nothing to make room in
			return
		}
		gcRoom.base = cur
	}
	live = max(live, 1<<20)
	p := gcRoom.base + gcRoomPercent + int((gcRoom.bytes*100+live-1)/live)
	if p != gcRoom.set {
		debug.SetGCPercent(p)
		gcRoom.set = p
	}
}

// gcMetrics returns the GC percent (GOGC; -1: off) and the heap found
// live by the last collection.
func gcMetrics() (percent int, live int64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	percent = -1
	if s[0].Value.Kind() == metrics.KindUint64 {
		if v := s[0].Value.Uint64(); v < 1<<31 {
			percent = int(v)
		}
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		live = int64(s[1].Value.Uint64())
	}
	return percent, live
}

// snapGCRoom is the room a snapshot of n keys reserves.
func snapGCRoom(n int) int64 {
	return int64(n)*int64(unsafe.Sizeof(SnapEntry{})) + snapGCRoomFixed
}
