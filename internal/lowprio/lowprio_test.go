package lowprio

import (
	"runtime"
	"testing"
)

func TestRunLowersOnlyItsThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread nice is Linux only")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := threadNice()
	if err != nil {
		t.Fatal(err)
	}
	defer func(d int, p string) { niceDelta, pacing = d, p }(niceDelta, pacing)
	niceDelta, pacing = 10, "never"
	var inside int
	Run(func(p *Pacer) {
		if p != nil {
			t.Error("unpaced work got a Pacer")
		}
		inside, _ = threadNice()
	})
	if want := min(before+10, 19); inside != want {
		t.Fatalf("nice inside Run = %d, want %d", inside, want)
	}
	if after, _ := threadNice(); after != before {
		t.Fatalf("caller's thread nice changed: %d -> %d", before, after)
	}
	// Later goroutines must not inherit the lowered thread: it exited.
	for i := 0; i < 20; i++ {
		done := make(chan int)
		go func() { n, _ := threadNice(); done <- n }()
		if n := <-done; n != before {
			t.Fatalf("a goroutine ran on a lowered thread (nice %d, want %d)", n, before)
		}
	}
}

func TestRunRepanics(t *testing.T) {
	for _, mode := range []string{"always", "never"} {
		func() {
			defer func(p string) { pacing = p }(pacing)
			pacing = mode
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("%s: recovered %v, want boom", mode, r)
				}
			}()
			Run(func(*Pacer) { panic("boom") })
		}()
	}
}

// TestRunOnOneP: with one P the work is paced on it (no second P, no
// thread of its own); Blocking gives the process a second P only while it
// runs, nested calls included.
func TestRunOnOneP(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	defer func(p string) { pacing = p }(pacing)
	pacing = ""
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	Run(func(p *Pacer) {
		if p == nil {
			t.Error("one P: the work is not paced")
		}
		if n := runtime.GOMAXPROCS(0); n != 1 {
			t.Errorf("GOMAXPROCS inside paced Run = %d, want 1", n)
		}
	})
	var inside, nested int
	Blocking(func() error {
		inside = runtime.GOMAXPROCS(0)
		Blocking(func() error { return nil })
		nested = runtime.GOMAXPROCS(0)
		return nil
	})
	if inside != minProcs || nested != minProcs {
		t.Fatalf("GOMAXPROCS inside Blocking = %d, after a nested one %d; want %d", inside, nested, minProcs)
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("GOMAXPROCS after Blocking = %d, want 1 again", n)
	}
	// Unpaced on one P (VIGIL_BG_PACE=never): a thread of its own and a
	// second P while it runs.
	pacing = "never"
	Run(func(*Pacer) { inside = runtime.GOMAXPROCS(0) })
	if inside != minProcs || runtime.GOMAXPROCS(0) != 1 {
		t.Fatalf("unpaced Run on one P: GOMAXPROCS %d inside, %d after", inside, runtime.GOMAXPROCS(0))
	}
}
