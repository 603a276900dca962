// Package lowprio runs CPU-bound background work (encoding a snapshot for
// BGSAVE, a replica's full sync or an AOF rewrite) on an OS thread of its
// own with a lower scheduling priority than the threads serving clients.
//
// Redis encodes snapshots in a forked child, a process the kernel schedules
// on its own: a client's request wakes the main thread, which the kernel
// runs promptly. A Go server encodes on a goroutine that shares Ps with the
// ones serving clients; when the machine's CPUs are all busy (the encoder,
// the serving goroutines, a replica loading on the same host, the clients),
// the kernel shares the CPU fairly among the threads and a request waits
// behind the encoder's slice. Running the encoder on a thread of its own
// with a higher nice value tells the kernel to prefer the serving threads:
// the encoder gets the CPU they leave (and never less than its weight's
// share, so it can't starve), clients keep their latency, and a save on
// an idle server runs at full speed.
//
// The thread is locked to the goroutine and never unlocked, so it exits
// with the work: an unprivileged process can lower a thread's priority but
// not raise it back, and no other goroutine ever runs on it.
//
// While background work runs the process has at least two Ps. Go sizes
// GOMAXPROCS from the CPUs the process may use, so a server pinned to one
// CPU (taskset, a cpuset) or on a 1-vCPU VM has one P, and the goroutine
// encoding would hold it: the serving goroutines would wait for Go's 10 ms
// preemption and for sysmon to poll the network. With a second P they run
// on another thread, which the kernel wakes when a request arrives and runs
// ahead of the encoder's. Outside background work GOMAXPROCS is left as Go
// set it.
package lowprio

import (
	"os"
	"runtime"
	"strconv"
	"sync"
)

// DefaultNice is added to the process's nice value for background work.
// At +10 the kernel's weights give the encoder about a tenth of a CPU that
// a serving thread also wants (110 against 1024) and all of an idle one.
const DefaultNice = 10

// niceDelta is DefaultNice unless VIGIL_BG_NICE says otherwise (0 turns
// the lowering off; for measurements).
var niceDelta = func() int {
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BG_NICE")); err == nil && v >= 0 {
		return v
	}
	return DefaultNice
}()

// Run calls fn on a fresh low-priority OS thread and waits for it. A panic
// in fn is re-raised in the caller.
func Run(fn func()) {
	if niceDelta == 0 {
		fn()
		return
	}
	defer raiseProcs()()
	var perr any
	panicked := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with us
		lowerThread(niceDelta)
		defer func() {
			if r := recover(); r != nil {
				perr, panicked = r, true
			}
		}()
		fn()
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
