package lowprio

import (
	"io"
	"net"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

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

// pingPong runs clients on loopback TCP in this process, each sending one
// byte back and forth with an echo goroutine and then doing work of its
// own: goroutines serving requests that arrive through the network
// poller, like the server's. It records each round trip until stop is
// closed.
func pingPong(t *testing.T, stop chan struct{}, clients int, work time.Duration) (rtts func() []time.Duration) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c) // echo
			}()
		}
	}()
	done := make(chan []time.Duration, clients)
	for range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer c.Close()
			var out []time.Duration
			b := []byte{1}
			for {
				select {
				case <-stop:
					done <- out
					return
				default:
				}
				t0 := time.Now()
				if _, err := c.Write(b); err != nil {
					break
				}
				if _, err := io.ReadFull(c, b); err != nil {
					break
				}
				out = append(out, time.Since(t0))
				spin(work)
			}
			done <- out
		}()
	}
	return func() []time.Duration {
		var all []time.Duration
		for range clients {
			all = append(all, <-done...)
		}
		return all
	}
}

// pacedRun runs work (bursts of 2 µs calling Pace) for d on this
// process's one P next to a pingPong of clients, and returns the work's
// part of the run's wall time (the time outside Pace) and the round trips.
func pacedRun(t *testing.T, pace bool, clients int, d time.Duration) (share float64, rtts []time.Duration) {
	stop := make(chan struct{})
	var rt func() []time.Duration
	if clients > 0 {
		rt = pingPong(t, stop, clients, 20*time.Microsecond)
	}
	var p *Pacer
	if pace {
		n := NewNapper()
		defer n.Close()
		p = newPacer(n)
	}
	var paused time.Duration
	t0 := time.Now()
	for time.Since(t0) < d {
		spin(2 * time.Microsecond)
		b := time.Now()
		p.Pace()
		paused += time.Since(b)
	}
	wall := time.Since(t0)
	close(stop)
	if rt != nil {
		rtts = rt()
	}
	return 1 - float64(paused)/float64(wall), rtts
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)*99/100]
}

// TestPacerShare: on the one P it shares with a goroutine serving
// requests over the network, paced work takes about Share of the time,
// in bursts of about a Quantum, and the requests keep their round trip;
// unpaced, the work holds the P until Go preempts it (10 ms) and the
// requests wait that long. Alone, paced work runs at nearly full speed.
func TestPacerShare(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const clients = 8
	paced, pacedRTT := pacedRun(t, true, clients, 300*time.Millisecond)
	unpaced, unpacedRTT := pacedRun(t, false, clients, 300*time.Millisecond)
	alone, _ := pacedRun(t, true, 0, 100*time.Millisecond)
	t.Logf("paced: share %.2f, %d round trips, p99 %v; unpaced: share %.2f, %d round trips, p99 %v; paced alone: share %.2f",
		paced, len(pacedRTT), p99(pacedRTT), unpaced, len(unpacedRTT), p99(unpacedRTT), alone)
	if paced < 0.05 || paced > 0.45 {
		t.Errorf("paced work took %.2f of the P, want about %.2f", paced, Share)
	}
	if len(pacedRTT) < 5*len(unpacedRTT) || len(pacedRTT) < 1000 {
		t.Errorf("paced: %d round trips in 300 ms, unpaced %d", len(pacedRTT), len(unpacedRTT))
	}
	if p99(pacedRTT)*5 > p99(unpacedRTT) {
		t.Errorf("round trip p99 %v paced, %v unpaced: pacing should cut it by far more", p99(pacedRTT), p99(unpacedRTT))
	}
	if alone < 0.8 {
		t.Errorf("alone, paced work took only %.2f of the P", alone)
	}
}

// TestPacerNapsOnlyWhenContended: while the process uses no CPU during a
// probe the work never takes the long nap, and probes every idleBursts
// Quanta; once others run during one, it naps after every burst and
// probes again every probeEvery bursts.
func TestPacerNapsOnlyWhenContended(t *testing.T) {
	other := false // other goroutines want the P
	probes, naps := 0, 0
	var cpu time.Duration
	p := newPacer(nil)
	p.cpu = func() time.Duration { return cpu }
	p.nap = func(d time.Duration) {
		if d == probeNap {
			probes++
			if other {
				cpu += 2 * contendedAfter // they ran meanwhile
			}
			return
		}
		naps++
		if want := 3 * Quantum; Share == 0.25 && d != want {
			t.Errorf("nap %v, want %v", d, want)
		}
	}
	burst := func() {
		spin(p.quantum)
		p.Pace()
	}
	for i := 0; i < 20*idleBursts; i++ {
		burst()
	}
	if probes < 19 || probes > 21 || naps != 0 {
		t.Fatalf("uncontended: %d probes, %d naps in %d Quanta; want 20 and 0", probes, naps, 20*idleBursts)
	}
	other = true
	for i := 0; i <= idleBursts && !p.contended; i++ {
		burst()
	}
	if !p.contended {
		t.Fatal("still uncontended after a probe during which others ran")
	}
	probes, naps = 0, 0
	for i := 0; i < 2*probeEvery; i++ {
		burst()
	}
	if naps != 2*probeEvery || probes < 1 || probes > 3 {
		t.Fatalf("contended: %d probes, %d naps over %d bursts", probes, naps, 2*probeEvery)
	}
	other = false
	for i := 0; i <= probeEvery && p.contended; i++ {
		burst()
	}
	if p.contended {
		t.Fatalf("still contended %d bursts after the others stopped", probeEvery)
	}
	var nilPacer *Pacer
	nilPacer.Pace() // no-op
}

// TestNapperPollsNetwork: a nap lets the P serve a request that arrived
// (a goroutine that only called runtime.Gosched would leave it to
// sysmon's network poll, up to 10 ms later), and lasts about what it was
// asked on an idle P (a time.Sleep there lasts a millisecond at least).
func TestNapperPollsNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	n := NewNapper()
	if n == nil {
		t.Skip("no timerfd")
	}
	defer n.Close()
	var naps []time.Duration
	for i := 0; i < 200; i++ {
		t0 := time.Now()
		n.Nap(100 * time.Microsecond)
		naps = append(naps, time.Since(t0))
	}
	slices.Sort(naps)
	if med := naps[len(naps)/2]; med < 100*time.Microsecond || med > 600*time.Microsecond {
		t.Errorf("median nap of 100µs on an idle P: %v", med)
	}
	stop := make(chan struct{})
	rt := pingPong(t, stop, 1, 0)
	t0 := time.Now()
	for time.Since(t0) < 200*time.Millisecond {
		spin(100 * time.Microsecond)
		n.Nap(probeNap)
	}
	close(stop)
	rtts := rt()
	if len(rtts) < 200 || p99(rtts) > 3*time.Millisecond {
		t.Errorf("work napping every 100µs: %d round trips in 200 ms, p99 %v", len(rtts), p99(rtts))
	}
}
