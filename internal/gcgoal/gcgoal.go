// Package gcgoal is the one owner of the Go collector's GC percent
// (GOGC, debug.SetGCPercent) in vigil.
//
// Three parts of vigil want the heap goal moved for a while, for reasons
// their own files explain:
//
//   - the start-up load turns the collector off (persist/startup.go,
//     pauseGCForLoad): nearly everything it allocates stays live;
//   - a replica loading a full sync's snapshot wants at least 800
//     (replication/loadgc.go): the size is unknown, so the collector stays
//     on, but relaxed;
//   - an active snapshot wants room for its short-lived lists and buffers
//     plus a share of the live heap (keyspace/gcroom.go), so a collection
//     runs after the save rather than on top of it.
//
// They may overlap (a replica serving stale data saves while it loads a
// new sync; a master syncing a replica while a BGSAVE runs), so each asks
// here for a Hold and releases it; the percent in force is computed from
// every hold and the base:
//
//   - base: the percent before the first hold (GOGC from the environment,
//     100 by default). A percent someone else set while holds were active
//     (a test, a debugger) wins: it becomes the base. With the collector
//     off at the base, every hold leaves it off.
//   - any Off hold: off (-1);
//   - otherwise base, plus RoomPercent and the room holds' bytes as a
//     share of the live heap when there are any, raised to the largest
//     AtLeast hold.
//
// When the last hold is released the base is set again, which recomputes
// the trigger from the last cycle's live heap, so garbage made meanwhile
// (an old dataset dropped by a load) is collected right after. The current
// percent is read through runtime/metrics, which (unlike
// debug.SetGCPercent(-1) as a read) never waits for a running mark phase.
package gcgoal

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// RoomPercent is the room, in percent of the live heap, that Room holds
// add for garbage the clients make while they are active.
const RoomPercent = 25

var st struct {
	sync.Mutex
	off     int   // Off holds
	room    int64 // bytes of the Room holds
	rooms   int   // Room holds
	atLeast map[int]int
	holds   int
	base    int
	set     int  // the percent this package set
	raised  bool // set is in force (this package changed the percent)
}

// Off turns the collector off until release is called.
func Off() (release func()) {
	return hold(func() { st.off++ }, func() { st.off-- })
}

// AtLeast keeps the GC percent at p or above until release is called
// (unless the collector is off).
func AtLeast(p int) (release func()) {
	return hold(func() {
		if st.atLeast == nil {
			st.atLeast = map[int]int{}
		}
		st.atLeast[p]++
	}, func() {
		if st.atLeast[p]--; st.atLeast[p] == 0 {
			delete(st.atLeast, p)
		}
	})
}

// Room raises the heap goal by n bytes of short-lived memory plus
// RoomPercent of the live heap until release is called.
func Room(n int64) (release func()) {
	return hold(func() { st.room += n; st.rooms++ }, func() { st.room -= n; st.rooms-- })
}

func hold(take, give func()) (release func()) {
	update(+1, take)
	var once sync.Once
	return func() { once.Do(func() { update(-1, give) }) }
}

// update changes the holds and sets the percent they ask for.
func update(d int, change func()) {
	st.Lock()
	defer st.Unlock()
	cur, live := Metrics()
	if st.holds == 0 || (st.raised && cur != st.set) {
		// No hold yet, or changed behind our back: that is the base now.
		st.base, st.raised = cur, false
	}
	st.holds += d
	change()
	want := st.base
	if st.holds > 0 {
		want = Want(st.base, st.off > 0, st.rooms > 0, st.room, live, st.atLeast)
	}
	if (st.raised && want == st.set) || (!st.raised && want == st.base) {
		return
	}
	debug.SetGCPercent(want)
	st.set, st.raised = want, st.holds > 0
}

// Want is the percent for a base and a set of holds: pure, for tests.
func Want(base int, off, rooms bool, roomBytes, live int64, atLeast map[int]int) int {
	if base < 0 || off {
		return -1
	}
	p := base
	if rooms {
		live = max(live, 1<<20)
		p += RoomPercent + int((max(roomBytes, 0)*100+live-1)/live)
	}
	for q := range atLeast {
		p = max(p, q)
	}
	return p
}

// Metrics returns the GC percent in force (-1: off) and the heap found
// live by the last collection.
func Metrics() (percent int, live int64) {
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
