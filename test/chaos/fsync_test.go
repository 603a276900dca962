package chaos

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// Slow fsync: the master's disk becomes slow for a while. The fault is
// injected into the unmodified server process (redis-server or vigil) with
// strace's syscall tampering: attached to the process, it holds every
// fsync/fdatasync for a fixed delay before the kernel runs it; killing strace
// detaches it and fsyncs are fast again.
//
//	strace -f -o /dev/null -e trace=fsync,fdatasync \
//	       -e inject=fsync,fdatasync:delay_enter=USEC -p PID
//
// (strace 6.1 tampers only with traced syscalls: -e trace=none injects
// nothing.) While attached, strace stops the process on every syscall
// (--seccomp-bpf is not available with -p), which costs a few µs per
// syscall: negligible at the writers' rate.

// fsyncScenario: every data node runs with appendonly yes and the given
// appendfsync policy; the master's fsyncs take a delay drawn from
// [minD, maxD) for 8–12 s.
func fsyncScenario(name, policy string, minD, maxD time.Duration) scenario {
	return scenario{
		name:     name,
		nodeArgs: []string{"--appendonly", "yes", "--appendfsync", policy},
		needs:    requireStrace,
		run: func(tp *topo, rng *rand.Rand, at time.Duration) {
			d := minD + time.Duration(rng.Int64N(int64(maxD-minD)))
			if v := os.Getenv("CHAOS_FSYNC_DELAY_MS"); v != "" { // exploration
				ms, _ := strconv.Atoi(v)
				d = time.Duration(ms) * time.Millisecond
			}
			hold := time.Duration(8000+rng.IntN(4000)) * time.Millisecond
			m := tp.master()
			tp.t.Logf("%s: fsync on node%d delayed by %v for %v", name, m.idx, d, hold)
			f := tp.delayFsync(m, d)
			time.Sleep(hold)
			f.stop()
		},
	}
}

var (
	straceOnce sync.Once
	straceBin  string
	straceErr  string // why the slow-fsync fault can't be injected here
)

// requireStrace skips the test when strace is missing or can't delay
// syscalls here (no ptrace), and fails it under CI=true.
func requireStrace(t *testing.T) {
	t.Helper()
	straceOnce.Do(func() {
		p, err := exec.LookPath("strace")
		if err != nil {
			straceErr = "strace is not installed (apt-get install strace)"
			return
		}
		straceBin = p
		straceErr = probeStrace(p)
	})
	if straceErr == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("slow-fsync scenario: %s; required under CI=true", straceErr)
	}
	t.Skipf("slow-fsync scenario: %s; skipping", straceErr)
}

// probeStrace checks both halves of the fault on this kernel: injection
// delays an fsync (dd conv=fsync under strace), and strace may attach to a
// process it did not start (-p, as for the servers).
func probeStrace(bin string) string {
	dir, err := os.MkdirTemp("", "chaos-strace-")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	const d = 300 * time.Millisecond
	start := time.Now()
	out, err := exec.Command(bin, "-f", "-o", "/dev/null", "-e", "trace=fsync,fdatasync",
		"-e", fmt.Sprintf("inject=fsync,fdatasync:delay_enter=%d", d.Microseconds()),
		"dd", "if=/dev/zero", "of="+filepath.Join(dir, "f"), "bs=1", "count=1", "conv=fsync").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("strace can't run dd with an injected fsync delay: %v: %s", err, out)
	}
	if el := time.Since(start); el < d*8/10 {
		return fmt.Sprintf("strace's delay_enter injection had no effect (dd conv=fsync took %v, want ≥ %v)", el, d)
	}
	sl := exec.Command("sleep", "30")
	if err := sl.Start(); err != nil {
		return err.Error()
	}
	defer func() { sl.Process.Kill(); sl.Wait() }()
	f, err := startFsyncDelay(bin, sl.Process.Pid, d)
	if err != nil {
		return err.Error()
	}
	f.stop()
	return ""
}

// fsyncDelay is one strace process attached to a server.
type fsyncDelay struct {
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan struct{}
	once sync.Once
}

// startFsyncDelay attaches strace to pid and returns once it is attached.
func startFsyncDelay(bin string, pid int, d time.Duration) (*fsyncDelay, error) {
	f := &fsyncDelay{out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	f.cmd = exec.Command(bin, "-f", "-o", "/dev/null", "-e", "trace=fsync,fdatasync",
		"-e", fmt.Sprintf("inject=fsync,fdatasync:delay_enter=%d", d.Microseconds()), "-p", strconv.Itoa(pid))
	f.cmd.Stderr = f.out
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := f.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { f.cmd.Wait(); close(f.done) }()
	deadline := time.After(5 * time.Second)
	for !strings.Contains(f.out.String(), "attached") {
		select {
		case <-f.done:
			return nil, fmt.Errorf("strace -p %d exited: %s", pid, strings.TrimSpace(f.out.String()))
		case <-deadline:
			f.stop()
			return nil, fmt.Errorf("strace -p %d did not attach within 5 s: %s", pid, strings.TrimSpace(f.out.String()))
		case <-time.After(10 * time.Millisecond):
		}
	}
	return f, nil
}

// stop detaches strace (SIGTERM, then SIGKILL after 5 s; the kernel
// detaches the tracees of a dead tracer too). It is idempotent.
func (f *fsyncDelay) stop() {
	if f.cmd == nil {
		return
	}
	f.once.Do(func() {
		f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.done:
		case <-time.After(5 * time.Second):
			f.cmd.Process.Kill()
			<-f.done
		}
	})
}

// delayFsync makes n's fsyncs take d until the returned delay is stopped
// (at the latest when the test ends).
func (tp *topo) delayFsync(n *node, d time.Duration) *fsyncDelay {
	f, err := startFsyncDelay(straceBin, n.proc.Cmd.Process.Pid, d)
	if err != nil {
		if n.proc.Exited() || n.proc.Wait(500*time.Millisecond) {
			// Killed by another fault of the run (kill+slow-fsync): no
			// disk to slow down.
			tp.t.Logf("slow fsync on node%d: not injected, the process is gone (%v)", n.idx, err)
		} else {
			tp.t.Errorf("slow fsync on node%d: %v", n.idx, err)
		}
		return &fsyncDelay{}
	}
	tp.t.Cleanup(f.stop)
	return f
}
