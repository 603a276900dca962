package gcgoal

import (
	"runtime/debug"
	"testing"
)

func percent() int { p, _ := Metrics(); return p }

func expect(t *testing.T, what string, want int) {
	t.Helper()
	if p := percent(); p != want {
		t.Fatalf("%s: GC percent %d, want %d", what, p, want)
	}
}

// TestHolds: overlapping holds of every kind combine, and releasing them in
// any order ends at the base again.
func TestHolds(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	_, live := Metrics()
	room := func(n int64) int { return Want(100, false, true, n, live, nil) }

	r1 := Room(4 << 20)
	withRoom := percent()
	if withRoom < 100+RoomPercent || withRoom != room(4<<20) {
		t.Fatalf("GC percent %d with a room hold, want %d", withRoom, room(4<<20))
	}
	l := AtLeast(800)
	expect(t, "a load's AtLeast(800) with a room hold", max(800, withRoom))
	off := Off()
	expect(t, "Off with a room and an AtLeast hold", -1)
	off()
	off() // a second call is a no-op
	expect(t, "Off released", max(800, withRoom))
	l()
	expect(t, "AtLeast released", withRoom)
	r2 := Room(4 << 20)
	_, live2 := Metrics()
	if p := percent(); p < withRoom || p != Want(100, false, true, 8<<20, live2, nil) {
		t.Fatalf("two room holds: GC percent %d", p)
	}
	r1()
	r2()
	expect(t, "all released", 100)

	// AtLeast below the base changes nothing.
	l = AtLeast(50)
	expect(t, "AtLeast(50) over a base of 100", 100)
	l()
	expect(t, "AtLeast(50) released", 100)
}

// TestChangedMeanwhile: a percent set by someone else while holds are
// active becomes the base, and stands when they end.
func TestChangedMeanwhile(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	r := Room(1 << 20)
	if percent() <= 100 {
		t.Fatalf("room hold did not raise the percent")
	}
	debug.SetGCPercent(300)
	l := AtLeast(200) // sees the change: base 300, plus the room
	_, live := Metrics()
	if p, want := percent(), Want(300, false, true, 1<<20, live, map[int]int{200: 1}); p != want || p <= 300 {
		t.Fatalf("a room hold and AtLeast(200) over a base changed to 300: GC percent %d, want %d", p, want)
	}
	r()
	l()
	expect(t, "after the holds, the percent set meanwhile", 300)
}

// TestCollectorOff: with the collector off at the base every hold leaves
// it off, and it stays off after them.
func TestCollectorOff(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	r := Room(1 << 20)
	l := AtLeast(800)
	expect(t, "holds over a collector that is off", -1)
	l()
	r()
	expect(t, "after the holds", -1)
}
