package chaos

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// Leak check: after every chaos run, once the writers are closed and the
// topology has settled, no vigil process (data node or Sentinel) may hold
// more file descriptors or goroutines than a process of the same role
// (master, replica, Sentinel) did before the faults, within a small
// tolerance; the check polls up to leakDeadline for connections that are
// still being torn down. Roles are compared, not PIDs, because failovers
// swap roles and some scenarios restart processes. The baseline is taken
// once the fresh topology is stable (see baseline), the check after the
// writers are closed and settle() found one master with both replicas in
// sync.
//
//   - descriptors: /proc/PID/fd, for every process (Redis's are logged for
//     comparison but never fail a run);
//   - goroutines of a vigil data node: DEBUG GOROUTINES (runtime.NumGoroutine);
//   - goroutines of a vigil Sentinel (no DEBUG command in sentinel mode):
//     the Sentinels run with GODEBUG=schedtrace=1000,scheddetail=1, so the
//     Go runtime prints every goroutine to their log once a second; the
//     count is taken from a complete block of that output (every goroutine
//     that is not dead, runtime ones included, GC mark workers excluded
//     since they only start at the first collection).
//
// Each measurement of a data node holds one connection of the checker open,
// so that connection counts in the baseline and afterwards alike.
//
// On failure the vigil processes with too many goroutines get SIGQUIT, and
// the goroutine dump the Go runtime writes to their log is summarized
// (count per function and creator) in the test output.
//
// The test process itself is checked the same way around every run
// (checkTestProcess): goroutines and descriptors after the run's cleanup
// (processes killed, proxies closed) against before it.

const (
	sentinelGODEBUG = "GODEBUG=schedtrace=1000,scheddetail=1"
	leakFDTol       = 1 // descriptors above the role's baseline
	leakGTol        = 1 // goroutines above the role's baseline
)

// leakDeadline is how long checkLeaks waits for the processes to come back
// within their baseline (a variable for TestLeakCheck).
var leakDeadline = 20 * time.Second

type procUse struct {
	name string // node1, sentinel2
	role string // master, slave, sentinel
	proc *testutil.Proc
	fds  int
	gor  int // -1: not measured (Redis)
}

func (u procUse) String() string {
	g := "-"
	if u.gor >= 0 {
		g = strconv.Itoa(u.gor)
	}
	return fmt.Sprintf("%s(%s, pid %d): fds=%d goroutines=%s", u.name, u.role, u.proc.Cmd.Process.Pid, u.fds, g)
}

func countFDs(pid int) int {
	e, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(e)
}

var schedG = regexp.MustCompile(`G\d+: status=(\d+)\(([^)]*)\)`)

// schedGoroutines counts the live goroutines of a schedtrace block of log:
// the first complete one starting at or after byte off, or with off < 0
// the last complete one.
func schedGoroutines(log string, off int) (int, bool) {
	var block string
	if off >= 0 {
		if off > len(log) {
			off = len(log)
		}
		rest := log[off:]
		i := strings.Index(rest, "SCHED ")
		if i < 0 {
			return 0, false
		}
		rest = rest[i+len("SCHED "):]
		j := strings.Index(rest, "SCHED ")
		if j < 0 {
			return 0, false
		}
		block = rest[:j]
	} else {
		j := strings.LastIndex(log, "SCHED ")
		if j < 0 {
			return 0, false
		}
		i := strings.LastIndex(log[:j], "SCHED ")
		if i < 0 {
			return 0, false
		}
		block = log[i:j]
	}
	n := 0
	for _, m := range schedG.FindAllStringSubmatch(block, -1) {
		st, _ := strconv.Atoi(m[1])
		st &^= 0x1000 // _Gscan
		// Not _Gidle or _Gdead, and not a GC mark worker (one per P,
		// started at the first collection, whenever that happens).
		if st != 0 && st != 6 && !strings.HasPrefix(m[2], "GC worker") {
			n++
		}
	}
	return n, true
}

func logSize(p *testutil.Proc) int {
	fi, err := os.Stat(p.Log)
	if err != nil {
		return 0
	}
	return int(fi.Size())
}

// How usage reads a vigil Sentinel's goroutines.
type schedRead int

const (
	schedSkip   schedRead = iota // not at all (gor = -1)
	schedLatest                  // the last complete block in its log (up to ~1 s old)
	schedFresh                   // a block printed after the call began (waits 1–2 s)
)

// usage measures every live process of the topology.
func (tp *topo) usage(sr schedRead) []procUse {
	vigil := tp.kind() == "vigil"
	offs := map[int]int{} // index in out → log offset
	var out []procUse
	for i, s := range tp.sentinels {
		if s.proc == nil || s.proc.Exited() {
			continue
		}
		u := procUse{name: fmt.Sprintf("sentinel%d", i), role: "sentinel", proc: s.proc, gor: -1}
		if vigil && sr != schedSkip {
			offs[len(out)] = -1
			if sr == schedFresh {
				offs[len(out)] = logSize(s.proc)
			}
		}
		u.fds = countFDs(s.proc.Cmd.Process.Pid)
		out = append(out, u)
	}
	for _, n := range tp.nodes {
		if n.proc == nil || n.proc.Exited() {
			continue
		}
		u := procUse{name: fmt.Sprintf("node%d", n.idx), proc: n.proc, gor: -1}
		c, err := dialT(n.addr(), time.Second)
		if err != nil {
			u.role = "unreachable"
			u.fds = countFDs(n.proc.Cmd.Process.Pid)
			out = append(out, u)
			continue
		}
		c.Conn.SetDeadline(time.Now().Add(2 * time.Second))
		if v, err := c.Do("ROLE"); err == nil && len(v.Elems) > 0 {
			u.role = string(v.Elems[0].Str)
		}
		if vigil {
			if v, err := c.Do("DEBUG", "GOROUTINES"); err == nil && v.Type == ':' {
				u.gor = int(v.Int)
			}
		}
		u.fds = countFDs(n.proc.Cmd.Process.Pid)
		c.Close()
		out = append(out, u)
	}
	deadline := time.Now().Add(3 * time.Second)
	for k, off := range offs {
		for {
			if g, ok := schedGoroutines(out[k].proc.ReadLog(), off); ok {
				out[k].gor = g
				break
			}
			if time.Now().After(deadline) || out[k].proc.Exited() {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return out
}

func sameUse(a, b []procUse) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].role != b[i].role || a[i].fds != b[i].fds || a[i].gor != b[i].gor {
			return false
		}
	}
	return true
}

// leakBase is the per-role baseline: the largest value seen for the role.
type leakBase struct {
	byRole map[string]procUse
	all    []procUse
}

// baseline measures the fresh topology once it is stable: the Sentinels
// may still be opening links to the replicas when startTopo returns, so it
// waits (up to 10 s) for two equal measurements 300 ms apart of every
// descriptor count and the data nodes' goroutines, then reads the
// Sentinels' goroutines from a schedtrace block printed after that.
func (tp *topo) baseline() leakBase {
	prev := tp.usage(schedSkip)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		time.Sleep(300 * time.Millisecond)
		cur := tp.usage(schedSkip)
		if sameUse(prev, cur) {
			break
		}
		prev = cur
	}
	all := tp.usage(schedFresh)
	b := leakBase{byRole: map[string]procUse{}, all: all}
	for _, u := range all {
		m, ok := b.byRole[u.role]
		if !ok || u.fds > m.fds {
			m.fds = u.fds
		}
		if !ok || u.gor > m.gor {
			m.gor = u.gor
		}
		m.role = u.role
		b.byRole[u.role] = m
	}
	return b
}

// overBase lists the processes above their role's baseline.
func overBase(b leakBase, cur []procUse) []string {
	var bad []string
	for _, u := range cur {
		base, ok := b.byRole[u.role]
		if !ok {
			// A role the fresh topology did not have (a node that is not
			// master or replica after settling): compare with the largest.
			for _, x := range b.byRole {
				if x.fds > base.fds {
					base.fds = x.fds
				}
				if x.gor > base.gor {
					base.gor = x.gor
				}
			}
		}
		if u.fds > base.fds+leakFDTol || (u.gor >= 0 && base.gor >= 0 && u.gor > base.gor+leakGTol) {
			bad = append(bad, fmt.Sprintf("%s above the %s baseline (fds=%d goroutines=%d)", u, u.role, base.fds, base.gor))
		}
	}
	return bad
}

// checkLeaks polls until every process is within its role's baseline. For
// vigil a remaining excess fails the test (with a goroutine dump summary);
// for Redis it is only logged. Returns "" or a short summary for the result
// line.
func (tp *topo) checkLeaks(b leakBase) string {
	t := tp.t
	deadline := time.Now().Add(leakDeadline)
	var cur []procUse
	var bad []string
	for {
		cur = tp.usage(schedLatest)
		bad = overBase(b, cur)
		if len(bad) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var before, after []string
	for _, u := range b.all {
		before = append(before, u.String())
	}
	for _, u := range cur {
		after = append(after, u.String())
	}
	t.Logf("leak check: before faults [%s]; after settling [%s]", strings.Join(before, "; "), strings.Join(after, "; "))
	if len(bad) == 0 {
		return ""
	}
	if tp.kind() != "vigil" {
		t.Logf("leak check (informational for %s): %s", tp.mode, strings.Join(bad, "; "))
		return "informational (redis): " + strconv.Itoa(len(bad)) + " process(es) above baseline"
	}
	t.Errorf("leak check: still after %v: %s", leakDeadline, strings.Join(bad, "; "))
	for _, u := range cur {
		base := b.byRole[u.role]
		if u.gor >= 0 && u.gor > base.gor+leakGTol {
			t.Logf("goroutines of %s:\n%s", u.name, goroutineDump(u.proc))
		}
	}
	return strconv.Itoa(len(bad)) + " process(es)"
}

var goroutineHdr = regexp.MustCompile(`(?m)^goroutine \d+ [^\[\n]*\[([^\]]*)\]:\n`)

// goroutineDump makes p (a vigil process) dump its goroutines with SIGQUIT
// (it exits) and summarizes the dump: count per (state, stack).
func goroutineDump(p *testutil.Proc) string {
	off := logSize(p)
	p.Signal(syscall.SIGQUIT)
	p.Wait(5 * time.Second)
	log := p.ReadLog()
	if off > len(log) {
		off = len(log)
	}
	dump := log[off:]
	locs := goroutineHdr.FindAllStringSubmatchIndex(dump, -1)
	count := map[string]int{}
	for i, l := range locs {
		end := len(dump)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		// Key: the innermost non-runtime function and the creator.
		var fn, creator string
		for _, line := range strings.Split(dump[l[1]:end], "\n") {
			if strings.HasPrefix(line, "\t") || line == "" {
				continue
			}
			if c, ok := strings.CutPrefix(line, "created by "); ok {
				creator, _, _ = strings.Cut(c, " in goroutine")
				continue
			}
			name := line
			if k := strings.LastIndex(name, "("); k > 0 {
				name = name[:k]
			}
			if fn == "" && !strings.HasPrefix(name, "runtime.") && !strings.HasPrefix(name, "internal/") &&
				!strings.HasPrefix(name, "net.") && !strings.HasPrefix(name, "bufio.") && !strings.HasPrefix(name, "syscall.") {
				fn = name
			}
		}
		frames := []string{fn, "created by " + creator}
		state := dump[l[2]:l[3]]
		if k := strings.Index(state, ","); k >= 0 {
			state = state[:k] // drop the wait time
		}
		count["["+state+"] "+strings.Join(frames, ", ")]++
	}
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range count {
		all = append(all, kv{k, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	var b strings.Builder
	for _, x := range all {
		fmt.Fprintf(&b, "%4d %s\n", x.n, x.k)
	}
	if b.Len() == 0 {
		return "(no goroutine dump in the log)"
	}
	return b.String()
}

// checkTestProcess records the test process's goroutines and descriptors
// now and, when the test (and every cleanup registered after this call)
// is done, checks that they are back within a small tolerance.
func checkTestProcess(t *testing.T) {
	g0 := runtime.NumGoroutine()
	f0 := countFDs(os.Getpid())
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			g, f := runtime.NumGoroutine(), countFDs(os.Getpid())
			if g <= g0+2 && f <= f0+2 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("test process leak: goroutines %d → %d, descriptors %d → %d\n%s", g0, g, f0, f, buf)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// errRecorder is a testing.TB whose Errorf is recorded instead of failing
// the test.
type errRecorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *errRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// TestLeakCheck checks the checker: on a healthy vigil topology it passes;
// a few idle client connections left open to the master and to a Sentinel
// (each one a descriptor and a goroutine in the server) fail it, and the
// failure names both processes and dumps their goroutines.
func TestLeakCheck(t *testing.T) {
	rec := &errRecorder{TB: t}
	tp := startTopo(rec, "vigil", nil)
	base := tp.baseline()
	if got := tp.checkLeaks(base); got != "" || len(rec.errs) > 0 {
		t.Fatalf("healthy topology: %q %v", got, rec.errs)
	}
	old := leakDeadline
	leakDeadline = 2 * time.Second
	defer func() { leakDeadline = old }()
	for _, addr := range []string{tp.nodes[0].addr(), tp.sentinels[1].addr()} {
		for i := 0; i < 3; i++ {
			c, err := dialT(addr, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Do("PING"); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := tp.checkLeaks(base)
	all := strings.Join(rec.errs, "\n")
	t.Logf("leak check result %q: %s", got, all)
	if got == "" || !strings.Contains(all, "node0(master") || !strings.Contains(all, "sentinel1(sentinel") {
		t.Fatalf("3 extra connections to node0 and sentinel1 not reported as leaks: %q %s", got, all)
	}
}
