// Package lowprio runs CPU-bound background work (encoding a snapshot for
// BGSAVE, a replica's full sync or an AOF rewrite) so that the server's
// clients keep being served meanwhile.
//
// Redis encodes snapshots in a forked child, a process the kernel
// schedules on its own. A Go server encodes on a goroutine, and how it
// shares the CPU depends on how many the process has.
//
// With one CPU (one P: pinned with taskset or a cpuset, a 1-vCPU VM) the
// work is paced on the P it shares with the serving goroutines (Pacer):
// it runs at nearly full speed while no request comes in (it checks every
// 4 Quanta), and otherwise in
// bursts of a Quantum (100 µs) followed by naps three times as long, so
// it takes a quarter of the CPU and a request waits at most about a
// Quantum behind it. Each nap parks the goroutine on a timer read through
// Go's network poller (Napper), so the P, free meanwhile, polls the
// network and serves the requests that came in.
//
// Sessions 3-5 gave the work an OS thread of its own instead (locked to
// its goroutine, at nice +10, with the process raised to two Ps while it
// ran), and measured with bench/latprobe (1M keys, one CPU, 50 clients)
// what that costs: the kernel's 3-5 ms slices between the two threads
// (EEVDF, Linux 6.6 and later), fixed in session 5 by pacing the thread
// with sched_yield and nanosleep; and, found in session 6 with a runtime
// trace, the Go scheduler stranding goroutines: the stop-the-world that
// raises GOMAXPROCS queues the goroutines it finds ready on the caller's
// P, which the work's thread then holds, and a P stays with a goroutine
// that never yields to Go's scheduler until sysmon preempts it 10 ms
// later (17 ms stalls at the start of each save). Pacing on the one P has
// neither. Measured in eight A/B runs (bench/latprobe, one CPU, 50 SET
// clients; docs/performance.md, "Persistence", session 6): p99 during a
// BGSAVE 1.18-1.83x of the p99 before it, against 1.32-2.56x with the
// thread, and stalls of 4-9 ms at most on a purged heap, against 9-41.
//
// With more CPUs the kernel runs the work and the serving threads side by
// side, and the work runs unpaced on an OS thread of its own at nice +10
// (DefaultNice), so that on a crowded machine (a replica loading on the
// same host, the clients) the kernel prefers the serving threads. Session
// 5's pacing of that thread (sched_yield, nanosleep) yielded to every other
// thread too and slowed a full sync on two shared CPUs by 40%, and the
// one-P pacing (VIGIL_BG_PACE=always) made it twice as long for no clear
// gain in p99 (bench/replication.sh, session 6). The thread is locked to
// its goroutine and never unlocked, so it exits with the work and no other
// goroutine ever runs on it with its nice value.
//
// Blocking system calls (an fsync) are the other way a one-P server stops
// serving: Blocking gives it a second P meanwhile.
package lowprio

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
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

// Quantum is how long paced work runs before it checks whether the
// serving goroutines want the P, and how long each of its bursts is while
// they do. VIGIL_BG_QUANTUM (a Go duration; 0 turns pacing off)
// overrides it, for measurements.
var Quantum = envDuration("VIGIL_BG_QUANTUM", 100*time.Microsecond)

// Share is the part of a contended CPU the work takes: it naps
// Quantum*(1-Share)/Share after each burst. VIGIL_BG_SHARE overrides it.
var Share = func() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("VIGIL_BG_SHARE"), 64); err == nil && v > 0 && v <= 1 {
		return v
	}
	return 0.25
}()

// probeEvery is how many bursts a contended Pacer runs before it checks
// again whether the P is still wanted.
const probeEvery = 16

// probeNap is the nap that checks whether other goroutines want the P.
// They did if the server read requests meanwhile (NoteRequests), or,
// where nothing reports requests, if the process used more than
// contendedAfter of CPU time while it lasted (a probe alone costs ~30 µs
// of it: the scheduler looking for work before it waits in epoll; and a
// nap on an idle P comes back 30-60 µs late, so the time it took tells
// nothing). Counting CPU time alone missed the clients when few were
// waiting at each probe, and the work then ran 400 µs bursts: p99 during
// a BGSAVE 2.0-3.8x of the p99 before it, against 1.3-1.5x.
const (
	probeNap       = time.Microsecond
	contendedAfter = 100 * time.Microsecond
)

// requests counts the request batches the server has read while paced
// work runs (NoteRequests); pacers counts the paced Runs in progress.
var requests, pacers atomic.Uint64

// NoteRequests tells paced work that the server read requests: the
// server calls it for each batch it reads from a client. Outside paced
// work it only reads a counter that rarely changes, so the read path of
// every connection doesn't share one written cache line.
func NoteRequests() {
	if pacers.Load() != 0 {
		requests.Add(1)
	}
}

// idleBursts: uncontended, the work probes every idleBursts Quanta (each
// probe costs it ~30 µs, 8% of 400 µs); a request that arrives meanwhile
// waits at most that long.
const idleBursts = 4

func envDuration(k string, d time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(k)); err == nil && v >= 0 {
		return v
	}
	return d
}

// Pacer paces background work (see the package comment). The work calls
// Pace often, every few microseconds of work (Pace reads the clock).
type Pacer struct {
	nap       func(time.Duration)  // Napper.Nap; replaced in tests
	cpu       func() time.Duration // processCPU; replaced in tests
	quantum   time.Duration
	sleep     time.Duration
	last      time.Time // end of the last nap
	contended bool
	bursts    int
}

func newPacer(n *Napper) *Pacer {
	p := &Pacer{nap: n.Nap, cpu: processCPU, quantum: Quantum, last: time.Now()}
	if Share < 1 {
		p.sleep = time.Duration(float64(Quantum) * (1 - Share) / Share)
	}
	return p
}

// Pace ends a burst once the work has run for a Quantum (idleBursts of
// them while uncontended). Uncontended, it naps for a moment, which lets
// the P poll the network and run whoever is ready; if anybody was (see
// probeNap), the work is contended and from then on naps after each
// Quantum so as to take only Share of the CPU, checking again every
// probeEvery bursts. A nil Pacer does nothing.
func (p *Pacer) Pace() {
	if p == nil || p.quantum == 0 {
		return
	}
	now := time.Now()
	burst := p.quantum
	if !p.contended {
		burst *= idleBursts
	}
	if now.Sub(p.last) < burst {
		return
	}
	p.bursts++
	if !p.contended || p.bursts%probeEvery == 0 {
		c0, r0 := p.cpu(), requests.Load()
		p.nap(probeNap)
		p.contended = requests.Load() != r0 || p.cpu()-c0 > contendedAfter
		p.last = time.Now()
		if !p.contended {
			return
		}
	}
	if p.sleep > 0 {
		p.nap(p.sleep)
	}
	p.last = time.Now()
}

// Run calls fn and waits for it; fn should call the Pacer's Pace between
// small units of its work. Paced (one P), fn runs on the calling
// goroutine with a Pacer; otherwise on a fresh OS thread of its own at a
// lowered priority, with a nil Pacer. A panic in fn is re-raised in the
// caller.
func Run(fn func(*Pacer)) {
	if Paced() {
		pacers.Add(1)
		defer pacers.Add(^uint64(0))
		n := NewNapper()
		defer n.Close()
		fn(newPacer(n))
		return
	}
	defer raiseProcs()() // VIGIL_BG_PACE=never with one P
	var perr any
	panicked := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if niceDelta > 0 {
			lowerThread(niceDelta)
		}
		defer func() {
			if r := recover(); r != nil {
				perr, panicked = r, true
			}
		}()
		fn(nil)
	}()
	<-done
	if panicked {
		panic(perr)
	}
}

// Blocking runs fn, a system call that may block for milliseconds (an
// fsync), in a server that must keep serving meanwhile. A goroutine in a
// system call keeps its P until Go's sysmon takes it back, which on a busy
// server can take 10 ms; with one P nobody is served meanwhile: an fsync
// at the end of a save stalled every client 10-17 ms (bench/latprobe). So
// on one P, Blocking gives the process a second P while fn runs (two
// stop-the-worlds of some tens of microseconds); with more it just calls
// fn.
//
// The goroutines that the stop-the-world found ready are queued on the
// caller's P, and a P in a system call keeps its queue: the new P takes
// work from it only when it runs out of its own, which under load it
// doesn't (measured: half the clients waited out a 14 ms fsync). So the
// caller first yields its P, to run that queue, before the system call.
func Blocking(fn func() error) error {
	raised := runtime.GOMAXPROCS(0) < minProcs
	defer raiseProcs()()
	if raised {
		runtime.Gosched()
	}
	return fn()
}

// minProcs is the fewest Ps the process has during Blocking (and during
// unpaced work on one P).
const minProcs = 2

var procs struct {
	sync.Mutex
	runs   int // callers in progress
	raised int // GOMAXPROCS before the first of them raised it; 0: not raised
}

// raiseProcs makes sure GOMAXPROCS >= minProcs until the returned function
// is called (by the last of concurrent callers), unless the user set
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
