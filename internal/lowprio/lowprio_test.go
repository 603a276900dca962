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
	Run(func(*Pacer) { inside, _ = threadNice() })
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
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v, want boom", r)
		}
	}()
	Run(func(*Pacer) { panic("boom") })
}

func TestRunRaisesProcsOnlyWhileRunning(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	var inside int
	Run(func(p *Pacer) {
		if pacing == "" && p == nil {
			t.Error("one P: the work is not paced")
		}
		inside = runtime.GOMAXPROCS(0)
		// Nested/concurrent runs keep it raised until the last ends.
		Run(func(*Pacer) {})
		if n := runtime.GOMAXPROCS(0); n != minProcs {
			t.Errorf("GOMAXPROCS after a nested Run ended = %d, want %d", n, minProcs)
		}
	})
	if inside != minProcs {
		t.Fatalf("GOMAXPROCS inside Run = %d, want %d", inside, minProcs)
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("GOMAXPROCS after Run = %d, want 1 again", n)
	}
}
