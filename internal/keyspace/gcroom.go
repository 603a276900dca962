package keyspace

import "unsafe"

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
// and buffers plus a quarter of the live heap (gcgoal.RoomPercent): garbage
// the clients make meanwhile is collected after the save, by a cycle that
// then has the CPU to itself rather than stacked on the save's work (two
// consumers of a quarter of the CPU each, together, leave the clients
// half of it). The extra memory is bounded by that quarter, and
// maxmemory's memory limit (server/evict.go) still bounds the heap. The
// last snapshot to end restores the percent.
//
// The percent itself is owned by package gcgoal (a gcgoal.Room hold taken
// in BeginSnapshot), which combines this room with the other parts of
// vigil that move the heap goal (a replica's load, the start-up load).

// snapGCRoom is the room a snapshot of n keys reserves.
func snapGCRoom(n int) int64 {
	return int64(n)*int64(unsafe.Sizeof(SnapEntry{})) + snapGCRoomFixed
}

// snapGCRoomFixed is the saver's buffers, on top of the lists.
const snapGCRoomFixed = 4 << 20
