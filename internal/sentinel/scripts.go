package sentinel

import (
	"errors"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigil-kv/vigil/internal/sentinel/core"
)

// User scripts (notification-script, client-reconfig-script) with Redis's
// semantics: queued (at most 256 jobs), at most 16 running, killed after
// 60 s, retried up to 10 times (30 s, 60 s, 120 s ... later) when they exit
// with code 1 or are killed by a signal.

const (
	scriptMaxQueue   = 256
	scriptMaxRunning = 16
	scriptMaxRetry   = 10
)

// SENTINEL DEBUG SCRIPT-MAX-RUNTIME / SCRIPT-RETRY-DELAY (ms).
var scriptMaxRuntime, scriptRetryDelay atomic.Int64

func init() {
	scriptMaxRuntime.Store(60000)
	scriptRetryDelay.Store(30000)
}

type scriptJob struct {
	argv     []string // argv[0] is the path
	running  bool
	retryNum int
	start    time.Time // running: when started; scheduled: not before
	cmd      *exec.Cmd
	pid      int
}

type scriptExit struct {
	job      *scriptJob
	code     int
	bysignal int
}

type scriptQueue struct {
	s       *Sentinel
	mu      sync.Mutex // guards jobs, running (read by INFO / PENDING-SCRIPTS)
	jobs    []*scriptJob
	running int
	exited  chan scriptExit
}

func newScriptQueue(s *Sentinel) *scriptQueue {
	return &scriptQueue{s: s, exited: make(chan scriptExit, 64)}
}

// add schedules a script (driver goroutine).
func (q *scriptQueue) add(path string, args []string) {
	q.mu.Lock()
	j := &scriptJob{argv: append([]string{path}, args...)}
	q.jobs = append(q.jobs, j)
	if len(q.jobs) > scriptMaxQueue {
		// Drop the oldest job that is not running, as Redis does.
		for i, x := range q.jobs {
			if !x.running {
				q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
				break
			}
		}
	}
	q.mu.Unlock()
	q.runPending()
}

// tick runs due scripts and kills timed-out ones (driver goroutine).
func (q *scriptQueue) tick() {
	q.runPending()
	var timedOut []*scriptJob
	q.mu.Lock()
	now := time.Now()
	for _, j := range q.jobs {
		if j.running && now.Sub(j.start).Milliseconds() > scriptMaxRuntime.Load() && j.cmd != nil {
			timedOut = append(timedOut, j)
		}
	}
	q.mu.Unlock()
	for _, j := range timedOut {
		q.s.event(core.LevelWarning, "-script-timeout", j.argv[0]+" "+strconv.Itoa(j.pid))
		j.cmd.Process.Kill()
	}
}

func (q *scriptQueue) runPending() {
	type started struct {
		pid  int
		err  error
		path string
	}
	var evs []started
	q.mu.Lock()
	now := time.Now()
	for _, j := range q.jobs {
		if q.running >= scriptMaxRunning {
			break
		}
		if j.running || now.Before(j.start) {
			continue
		}
		cmd := exec.Command(j.argv[0], j.argv[1:]...)
		if err := cmd.Start(); err != nil {
			// Redis's child exits with code 2 when execve fails: no retry.
			j.running = true
			j.start = now
			q.running++
			jj := j
			go func() { q.exited <- scriptExit{job: jj, code: 2} }()
			evs = append(evs, started{err: err, path: j.argv[0]})
			continue
		}
		j.running, j.start, j.cmd, j.pid = true, now, cmd, cmd.Process.Pid
		q.running++
		jj := j
		go func() {
			err := cmd.Wait()
			r := scriptExit{job: jj}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					r.bysignal = int(ws.Signal())
				} else {
					r.code = ee.ExitCode()
				}
			}
			select {
			case q.exited <- r:
			case <-q.s.stop:
			}
		}()
		evs = append(evs, started{pid: cmd.Process.Pid})
	}
	q.mu.Unlock()
	for _, e := range evs {
		if e.err != nil {
			q.s.log.Warn("Sentinel: failed to execute script " + e.path + ": " + e.err.Error())
			continue
		}
		q.s.event(core.LevelDebug, "+script-child", strconv.Itoa(e.pid))
	}
}

// collect handles a terminated script (driver goroutine).
func (q *scriptQueue) collect(r scriptExit) {
	j := r.job
	q.s.event(core.LevelDebug, "-script-child", strconv.Itoa(j.pid)+" "+strconv.Itoa(r.code)+" "+strconv.Itoa(r.bysignal))
	q.mu.Lock()
	q.running--
	j.running, j.cmd = false, nil
	retry := (r.bysignal != 0 || r.code == 1) && j.retryNum != scriptMaxRetry
	if retry {
		j.retryNum++
		delay := scriptRetryDelay.Load()
		for k := j.retryNum; k > 1; k-- {
			delay *= 2
		}
		j.start = time.Now().Add(time.Duration(delay) * time.Millisecond)
		j.pid = 0
	} else {
		for i, x := range q.jobs {
			if x == j {
				q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
				break
			}
		}
	}
	q.mu.Unlock()
	if !retry && (r.bysignal != 0 || r.code != 0) {
		q.s.event(core.LevelWarning, "-script-error", j.argv[0]+" "+strconv.Itoa(r.bysignal)+" "+strconv.Itoa(r.code))
	}
}

// stats returns (running, queue length) for INFO.
func (q *scriptQueue) stats() (int, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running, len(q.jobs)
}

type pendingScript struct {
	argv     []string
	running  bool
	pid      int
	ms       int64 // run-time (running) or run-delay (scheduled)
	retryNum int
}

func (q *scriptQueue) pending() []pendingScript {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	out := make([]pendingScript, 0, len(q.jobs))
	for _, j := range q.jobs {
		p := pendingScript{argv: j.argv, running: j.running, pid: j.pid, retryNum: j.retryNum}
		if j.running {
			p.ms = now.Sub(j.start).Milliseconds()
		} else if !j.start.IsZero() {
			p.ms = max(j.start.Sub(now).Milliseconds(), 0)
		}
		out = append(out, p)
	}
	return out
}
