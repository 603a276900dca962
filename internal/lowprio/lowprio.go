// Package lowprio runs CPU-bound background work (encoding a snapshot for
// BGSAVE, a replica's full sync or an AOF rewrite) on an OS thread of its
// own that gives way to the threads serving clients.
//
// Redis encodes snapshots in a forked child, a process the kernel schedules
// on its own. A Go server encodes on a goroutine; on its own, that
// goroutine would share a P with the ones serving clients, and when the
// server has one CPU (pinned with taskset or a cpuset, a 1-vCPU VM) a
// request would wait for Go's 10 ms preemption. So the work runs on a
// thread of its own, locked to its goroutine, and the process has at least
// two Ps while it runs (Go sizes GOMAXPROCS from the CPUs the process may
// use; outside background work it is left as Go set it). The serving
// goroutines then run on another thread, which the kernel wakes when a
// request arrives.
//
// Two threads on one CPU still share it in the kernel's slices, which are
// long: with Linux's EEVDF scheduler (6.6 and later) a thread that gets the
// CPU keeps it for a slice of about 3-5 ms before a serving thread that
// woke meanwhile runs. Measured with bench/latprobe during a BGSAVE of 1M
// keys (vigil pinned to one CPU, 50 clients): requests waited 4-5 ms every
// few tens of milliseconds with the encoder at nice +10 (the design of
// sessions 3-4); nice +19 made those waits rarer and the save 3x slower;
// yielding the CPU (sched_yield) every 100 µs removed them but starved the
// save (not done after 5.5 s, against 1.2 s). So when the process has one
// CPU the work paces itself (Pacer): it runs at full speed while no other
// thread wants the CPU, and while one does it runs in bursts of a Quantum
// (100 µs) separated by sleeps, so that it takes Share (a quarter) of the
// CPU: a request waits at most about a Quantum behind it, and the save
// still finishes. The thread then keeps the process's priority: the timer
// that ends each sleep lets the kernel give the CPU back to the work
// promptly (a waking thread may preempt the running one), which a lowered
// priority prevents.
//
// With more CPUs the kernel runs the work and the serving threads side by
// side, and the work runs unpaced at nice +10 (DefaultNice), so that on a
// crowded machine (a replica loading on the same host, the clients) the
// kernel prefers the serving threads. Pacing there would also yield to
// other processes, and slowed a full sync on two shared CPUs by 40%
// (bench/replication.sh).
//
// The thread is locked to the goroutine and never unlocked, so it exits
// with the work and no other goroutine ever runs on it with its settings.
package lowprio

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// DefaultNice is added to the background thread's nice value when the
// process has more than one CPU (VIGIL_BG_NICE overrides it).
const DefaultNice = 10

var niceDelta = func() int {
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BG_NICE")); err == nil && v >= 0 {
		return v
	}
	return DefaultNice
}()

// Paced reports whether background work started now is paced: the
// process has one CPU (one P), or VIGIL_BG_PACE=always.
func Paced() bool {
	return pacing == "always" || (pacing != "never" && runtime.GOMAXPROCS(0) == 1)
}

// pacing is VIGIL_BG_PACE: "always" or "never" override the default, which
// paces the work only when the process has one CPU (for measurements).
var pacing = os.Getenv("VIGIL_BG_PACE")

// Quantum is how long background work runs before it checks whether
// another thread wants its CPU, and how long each of its bursts is while
// one does. VIGIL_BG_QUANTUM (a Go duration; 0 turns pacing off)
// overrides it, for measurements.
var Quantum = envDuration("VIGIL_BG_QUANTUM", 100*time.Microsecond)

// Share is the part of a contended CPU the work takes: it sleeps
// Quantum*(1-Share)/Share after each burst. VIGIL_BG_SHARE overrides it.
var Share = func() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("VIGIL_BG_SHARE"), 64); err == nil && v > 0 && v <= 1 {
		return v
	}
	return 0.25
}()

// probeEvery is how many bursts a contended Pacer runs before it checks
// again whether the CPU is still wanted by another thread.
const probeEvery = 16

// contendedAfter: a sched_yield that returns later than this gave the CPU
// to another thread.
const contendedAfter = 20 * time.Microsecond

// The system calls Pace makes (replaced in tests).
var yieldFn, sleepFn = yieldThread, sleepThread

func envDuration(k string, d time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(k)); err == nil && v >= 0 {
		return v
	}
	return d
}

// Pacer paces background work (see the package comment). The work calls
// Pace often, every few microseconds of work (Pace reads the clock).
type Pacer struct {
	quantum   time.Duration
	sleep     time.Duration
	last      time.Time // end of the last yield or sleep
	contended bool
	bursts    int
}

func newPacer() *Pacer {
	p := &Pacer{quantum: Quantum, last: time.Now()}
	if Share < 1 {
		p.sleep = time.Duration(float64(Quantum) * (1 - Share) / Share)
	}
	return p
}

// Pace ends a burst once the work has run for a Quantum: it offers the CPU
// to other threads (sched_yield), and if one took it, the work is
// contended and sleeps so as to take only Share of the CPU, checking again
// every probeEvery bursts. A nil Pacer does nothing.
func (p *Pacer) Pace() {
	if p == nil || p.quantum == 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < p.quantum {
		return
	}
	p.bursts++
	if !p.contended || p.bursts%probeEvery == 0 {
		yieldFn()
		t := time.Now()
		p.contended = t.Sub(now) > contendedAfter
		p.last = t
		if !p.contended {
			return
		}
	}
	if p.sleep > 0 {
		sleepFn(p.sleep)
	}
	p.last = time.Now()
}

// Run calls fn on a fresh OS thread of its own and waits for it; fn should
// call the Pacer's Pace between small units of its work. A panic in fn is
// re-raised in the caller.
func Run(fn func(*Pacer)) {
	pace := Paced()
	defer raiseProcs()()
	var perr any
	panicked := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with us
		var p *Pacer
		if pace {
			p = newPacer()
		} else if niceDelta > 0 {
			lowerThread(niceDelta)
		}
		defer func() {
			if r := recover(); r != nil {
				perr, panicked = r, true
			}
		}()
		fn(p)
	}()
	<-done
	if panicked {
		panic(perr)
	}
}

// minProcs is the fewest Ps the process has while background work runs.
const minProcs = 2

var procs struct {
	sync.Mutex
	runs   int // Runs in progress
	raised int // GOMAXPROCS before the first of them raised it; 0: not raised
}

// raiseProcs makes sure GOMAXPROCS >= minProcs until the returned function
// is called (by the last of concurrent Runs), unless the user set
// GOMAXPROCS.
func raiseProcs() (restore func()) {
	procs.Lock()
	defer procs.Unlock()
	procs.runs++
	if procs.runs == 1 && os.Getenv("GOMAXPROCS") == "" {
		if n := runtime.GOMAXPROCS(0); n < minProcs {
			procs.raised = n
			runtime.GOMAXPROCS(minProcs)
		}
	}
	return func() {
		procs.Lock()
		defer procs.Unlock()
		procs.runs--
		if procs.runs == 0 && procs.raised != 0 {
			if runtime.GOMAXPROCS(0) == minProcs {
				runtime.GOMAXPROCS(procs.raised)
			}
			procs.raised = 0
		}
	}
}
