package lowprio

import (
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// pinThread pins the calling (locked) thread to one CPU.
func pinThread(t *testing.T, cpu int) {
	var mask [16]uint64
	mask[cpu/64] |= 1 << (cpu % 64)
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, uintptr(len(mask)*8), uintptr(unsafe.Pointer(&mask[0]))); e != 0 {
		t.Skipf("sched_setaffinity: %v", e)
	}
}

// firstCPU is the lowest CPU the process may run on.
func firstCPU(t *testing.T) int {
	var mask [16]uint64
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, uintptr(len(mask)*8), uintptr(unsafe.Pointer(&mask[0]))); e != 0 {
		t.Skipf("sched_getaffinity: %v", e)
	}
	for i := 0; i < len(mask)*64; i++ {
		if mask[i/64]&(1<<(i%64)) != 0 {
			return i
		}
	}
	t.Skip("no CPU")
	return 0
}

// threadCPU is the calling thread's CPU time.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// spin burns about d of CPU.
func spin(d time.Duration) {
	for t0 := threadCPU(); threadCPU()-t0 < d; {
	}
}

// share runs paced work and a busy "serving" thread on the same CPU for
// d and returns the work's part of their CPU time and the longest time
// the serving thread went without the CPU.
func share(t *testing.T, quantum time.Duration, d time.Duration) (float64, time.Duration) {
	cpu := firstCPU(t)
	type result struct {
		cpu    time.Duration
		maxGap time.Duration
	}
	res := make(chan result, 2)
	stop := time.Now().Add(d)
	go func() { // the serving thread: busy, notes its gaps
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		pinThread(t, cpu)
		c0 := threadCPU()
		var gap time.Duration
		last := time.Now()
		for {
			now := time.Now()
			if g := now.Sub(last); g > gap {
				gap = g
			}
			last = now
			if now.After(stop) {
				break
			}
		}
		res <- result{threadCPU() - c0, gap}
	}()
	go func() { // the background work
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		pinThread(t, cpu)
		p := &Pacer{quantum: quantum, sleep: time.Duration(float64(quantum) * (1 - Share) / Share), last: time.Now()}
		c0 := threadCPU()
		for time.Now().Before(stop) {
			spin(2 * time.Microsecond)
			p.Pace()
		}
		res <- result{cpu: threadCPU() - c0}
	}()
	a, b := <-res, <-res
	busy, work := a, b
	if a.maxGap == 0 {
		busy, work = b, a
	}
	return float64(work.cpu) / float64(work.cpu+busy.cpu), busy.maxGap
}

// TestPacerShare: on a CPU another thread keeps busy, paced work takes
// about Share of it, in bursts of about a Quantum; unpaced, the kernel
// gives it half, in its own long slices.
func TestPacerShare(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	paced, pacedGap := share(t, 100*time.Microsecond, 300*time.Millisecond)
	unpaced, unpacedGap := share(t, 0, 300*time.Millisecond)
	t.Logf("paced: share %.2f, longest wait of the busy thread %v; unpaced: %.2f, %v", paced, pacedGap, unpaced, unpacedGap)
	if paced < 0.05 || paced > 0.45 {
		t.Errorf("paced work took %.2f of the CPU, want about %.2f", paced, Share)
	}
	if unpaced < 0.3 {
		t.Errorf("unpaced work took %.2f of the CPU, want about half", unpaced)
	}

}

// TestPacerSleepsOnlyWhenContended: while a yield finds nobody waiting
// the work never sleeps; once one takes the CPU, the work sleeps after
// every burst and probes again every probeEvery bursts.
func TestPacerSleepsOnlyWhenContended(t *testing.T) {
	defer func(y func(), s func(time.Duration)) { yieldFn, sleepFn = y, s }(yieldFn, sleepFn)
	other := false // another thread wants the CPU
	yields, sleeps := 0, 0
	yieldFn = func() {
		yields++
		if other {
			spin(50 * time.Microsecond) // the yield returns late
		}
	}
	sleepFn = func(d time.Duration) {
		sleeps++
		if want := 3 * Quantum; Share == 0.25 && d != want {
			t.Errorf("sleep %v, want %v", d, want)
		}
	}
	p := newPacer()
	burst := func() {
		spin(p.quantum)
		p.Pace()
	}
	for i := 0; i < 20; i++ {
		burst()
	}
	if yields != 20 || sleeps != 0 {
		t.Fatalf("uncontended: %d yields, %d sleeps; want 20 and 0", yields, sleeps)
	}
	other = true
	yields = 0
	for i := 0; i < 2*probeEvery; i++ {
		burst()
	}
	// The first burst finds the CPU wanted; then only probes yield.
	if sleeps != 2*probeEvery || yields < 2 || yields > 4 {
		t.Fatalf("contended: %d yields, %d sleeps over %d bursts", yields, sleeps, 2*probeEvery)
	}
	other = false
	sleeps = 0
	for i := 0; i < 2*probeEvery; i++ {
		burst()
	}
	// At the next probe the pacer sees the CPU free and stops sleeping.
	if sleeps > probeEvery {
		t.Fatalf("after the contention ended: %d sleeps in %d bursts", sleeps, 2*probeEvery)
	}
	var nilPacer *Pacer
	nilPacer.Pace() // no-op
}
