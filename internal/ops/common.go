package ops

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Helpers shared by `vigil drill` and `vigil switchover`: finding the
// topology (a 'vigil up' layout or --sentinel addresses), asking the
// Sentinels, following their events, and restarting a local node the way
// 'vigil up' started it.

// topoFlags are the flags both commands take to find the topology.
type topoFlags struct {
	sentinels listFlag
	dir       *string
	name      *string
	pass      *string
	spass     *string
	timeout   *time.Duration
}

func addTopoFlags(fs *flag.FlagSet) *topoFlags {
	t := &topoFlags{}
	fs.Var(&t.sentinels, "sentinel", "Sentinel address HOST:PORT (repeatable or comma-separated); default: the 'vigil up' layout in --dir")
	t.dir = fs.String("dir", "", "a 'vigil up' data directory (default ./vigil-data when no --sentinel is given)")
	t.name = fs.String("master-name", "", "name of the monitored master (default mymaster, or the layout's)")
	t.pass = fs.String("password", os.Getenv("VIGIL_PASSWORD"), "data node password (default $VIGIL_PASSWORD)")
	t.spass = fs.String("sentinel-password", os.Getenv("VIGIL_SENTINEL_PASSWORD"), "Sentinel password (default $VIGIL_SENTINEL_PASSWORD)")
	return t
}

// resolve returns the Target and, for a local topology, its layout.
func (f *topoFlags) resolve() (Target, *layout, error) {
	t := Target{Password: *f.pass, SentinelPassword: *f.spass, Timeout: time.Second}
	if f.timeout != nil && *f.timeout > 0 {
		t.Timeout = *f.timeout
	}
	var l *layout
	if *f.dir != "" || len(f.sentinels) == 0 {
		d := *f.dir
		if d == "" {
			d = defaultUpDir
		}
		var err error
		l, err = readLayout(d)
		if err != nil {
			if len(f.sentinels) == 0 {
				return t, nil, fmt.Errorf("%v; pass --sentinel HOST:PORT for a topology not started by 'vigil up'", err)
			}
			return t, nil, err
		}
	}
	if len(f.sentinels) > 0 {
		for _, a := range f.sentinels {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return t, nil, usagef("--sentinel %q: want HOST:PORT", a)
			}
			t.Sentinels = append(t.Sentinels, Member{Name: a, Addr: a})
		}
		if l != nil {
			t.MasterName = l.MasterName
		}
	} else {
		t = l.target(t)
	}
	if *f.name != "" {
		t.MasterName = *f.name
	}
	if t.MasterName == "" {
		t.MasterName = "mymaster"
	}
	if len(t.Sentinels) == 0 {
		return t, nil, errors.New("no Sentinels to ask")
	}
	return t, l, nil
}

// masterFrom asks one Sentinel for the master's address.
func masterFrom(m Member, t Target) (string, error) {
	a, _, err := masterFromR(m, t)
	return a, err
}

// masterFromR also reports whether the Sentinel answered at all.
func masterFromR(m Member, t Target) (addr string, answered bool, err error) {
	c, err := dial(m.Addr, t.SentinelPassword, t.Timeout)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	v, err := c.do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", t.MasterName)
	if err != nil {
		return "", false, err
	}
	if e := v.Err(); e != nil {
		return "", true, e
	}
	if len(v.Elems) != 2 {
		return "", true, fmt.Errorf("Sentinel %s does not know master %q", m.Addr, t.MasterName)
	}
	return net.JoinHostPort(string(v.Elems[0].Str), string(v.Elems[1].Str)), true, nil
}

// askMaster returns the first answer of the Sentinels, in order, as a
// Sentinel-aware client library does.
func askMaster(t Target) (string, error) {
	var last error = errors.New("no Sentinel")
	for _, s := range t.Sentinels {
		a, err := masterFrom(s, t)
		if err == nil {
			return a, nil
		}
		last = err
	}
	return "", last
}

// sentinelViews asks every Sentinel concurrently: address → master ("" when
// unreachable or unknown).
func sentinelViews(t Target) (views map[string]string, reachable int) {
	views = map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range t.Sentinels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, answered, _ := masterFromR(s, t)
			mu.Lock()
			defer mu.Unlock()
			if answered {
				views[s.Addr] = a
				reachable++
			}
		}()
	}
	wg.Wait()
	return views, reachable
}

// agreedOn reports whether every reachable Sentinel (at least one) names want.
func agreedOn(t Target, want string) (bool, int) {
	views, n := sentinelViews(t)
	if n == 0 {
		return false, 0
	}
	for _, v := range views {
		if v != want {
			return false, n
		}
	}
	return true, n
}

// replInfo returns INFO replication of addr as fields.
func replInfo(addr string, t Target) (map[string]string, error) {
	c, err := dial(addr, t.Password, t.Timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	s, err := c.str("INFO", "replication")
	if err != nil {
		return nil, err
	}
	return parseInfo(s), nil
}

// followsAddr is the "host:port" a replica's INFO says it replicates from.
func followsAddr(f map[string]string) string {
	return net.JoinHostPort(f["master_host"], f["master_port"])
}

// sentinelEvents follows every Sentinel's events (PSUBSCRIBE *) into a
// list, reconnecting to Sentinels that go away.
type sentinelEvents struct {
	mu     sync.Mutex
	events []Event
	ready  map[string]bool
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func followEvents(t Target) *sentinelEvents {
	ctx, cancel := context.WithCancel(context.Background())
	se := &sentinelEvents{ready: map[string]bool{}, cancel: cancel}
	for _, m := range t.Sentinels {
		se.wg.Add(1)
		go func() {
			defer se.wg.Done()
			for ctx.Err() == nil {
				se.once(ctx, m, t)
				select {
				case <-ctx.Done():
				case <-time.After(300 * time.Millisecond):
				}
			}
		}()
	}
	return se
}

func (se *sentinelEvents) once(ctx context.Context, m Member, t Target) {
	c, err := dial(m.Addr, t.SentinelPassword, t.Timeout)
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	if v, err := c.do("PSUBSCRIBE", "*"); err != nil || v.Err() != nil {
		return
	}
	se.mu.Lock()
	se.ready[m.Addr] = true
	se.mu.Unlock()
	c.conn.SetDeadline(time.Time{})
	for {
		v, err := c.rr.Read()
		if err != nil {
			return
		}
		if len(v.Elems) != 4 || !strings.EqualFold(string(v.Elems[0].Str), "pmessage") {
			continue
		}
		ch := string(v.Elems[2].Str)
		if strings.HasPrefix(ch, "__sentinel__:") {
			continue
		}
		se.mu.Lock()
		se.events = append(se.events, Event{Time: time.Now(), Sentinel: m.Name, Channel: ch, Message: string(v.Elems[3].Str)})
		se.mu.Unlock()
	}
}

// waitReady waits until every Sentinel's subscription is active (or d).
func (se *sentinelEvents) waitReady(n int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		se.mu.Lock()
		r := len(se.ready)
		se.mu.Unlock()
		if r >= n || time.Now().After(deadline) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (se *sentinelEvents) list() []Event {
	se.mu.Lock()
	defer se.mu.Unlock()
	return append([]Event(nil), se.events...)
}

func (se *sentinelEvents) stop() { se.cancel(); se.wg.Wait() }

// localNodeAt maps an address to a node of the layout.
func localNodeAt(l *layout, addr string) (localNode, bool) {
	if l == nil {
		return localNode{}, false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || (host != "127.0.0.1" && host != "localhost") {
		return localNode{}, false
	}
	for _, n := range l.Nodes {
		if strconv.Itoa(n.Port) == port {
			return n, true
		}
	}
	return localNode{}, false
}

// nodePid is the pid of a running local node, from its pidfile.
func nodePid(l *layout, n localNode) int { return livePidfile(l.pidPath(n)) }

// guardArg is the hidden first argument of `vigil drill` that runs a
// restarted node under a guard process (see runGuard).
const guardArg = "--internal-guard"

// restartLocal starts node n again with the command line 'vigil up' uses
// (`vigil server|sentinel CONF` in the node's directory, output appended
// to its console.log). The process is not a child of 'vigil up', so it
// runs under a small guard process (this binary, detached) that stops it
// when 'vigil up' exits, as 'vigil up' would have. It returns the new pid
// once the node answers PING.
func restartLocal(l *layout, n localNode, d time.Duration) (int, error) {
	upPid := livePidfile(filepath.Join(l.dir, "up.pid"))
	if upPid == 0 {
		return 0, fmt.Errorf("'vigil up' for %s is not running", l.dir)
	}
	exe := ""
	if p, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", upPid)); err == nil {
		if _, err := os.Stat(p); err == nil {
			exe = p
		}
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	if exe == "" {
		exe = self
	}
	mode := "server"
	if n.sentinel() {
		mode = "sentinel"
	}
	cmd := exec.Command(self, "drill", guardArg, strconv.Itoa(upPid), l.consolePath(n), l.nodeDir(n), exe, mode, l.confPath(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return 0, fmt.Errorf("%s exited at once%s", n.Name, lastLogLine(l, n))
		default:
		}
		if c, err := dial(n.addr(), "", 300*time.Millisecond); err == nil {
			v, err := c.do("PING")
			c.Close()
			if err == nil && (v.Type == '+' || strings.HasPrefix(string(v.Str), "NOAUTH")) {
				return livePidfile(l.pidPath(n)), nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s did not answer PING within %v after restart", n.Name, d)
}

// runGuard: `vigil drill --internal-guard UPPID CONSOLE DIR EXE MODE CONF`.
// Starts EXE MODE CONF and stops it (SIGTERM, SIGKILL after 10 s) when
// process UPPID goes away or the guard is signalled; exits with it.
func runGuard(args []string) int {
	if len(args) != 6 {
		fmt.Fprintln(Stderr, "vigil drill: bad guard arguments")
		return 2
	}
	upPid, _ := strconv.Atoi(args[0])
	console, err := os.OpenFile(args[1], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 1
	}
	defer console.Close()
	runtime.LockOSThread() // Pdeathsig follows the thread that forked
	cmd := exec.Command(args[3], args[4], args[5])
	cmd.Dir = args[2]
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(console, "vigil drill guard: %v\n", err)
		return 1
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	stopChild := func() int {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
		return 0
	}
	for {
		select {
		case <-done:
			return 0
		case <-sigs:
			return stopChild()
		case <-tick.C:
			if upPid > 0 && syscall.Kill(upPid, 0) == syscall.ESRCH {
				return stopChild()
			}
		}
	}
}

// confirm asks on the terminal; without one it refuses.
func confirm(question string) error {
	if !isTerminal(os.Stdin) {
		return errors.New("this is not a local 'vigil up' topology; refusing to inject a fault without --yes (stdin is not a terminal)")
	}
	fmt.Fprintf(Stderr, "%s Type 'yes' to continue: ", question)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("not confirmed")
	}
	return nil
}

// progress prints a status line every interval: redrawn in place on a
// terminal, one line per second otherwise.
type progress struct {
	w    io.Writer
	tty  bool
	line func() string
	stop chan struct{}
	done chan struct{}
}

func startProgress(w io.Writer, line func() string) *progress {
	p := &progress{w: w, tty: isTerminal(w), line: line, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		every := time.Second
		if p.tty {
			every = 200 * time.Millisecond
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				if p.tty {
					fmt.Fprint(p.w, "\r\033[K")
				}
				return
			case <-tick.C:
				if p.tty {
					fmt.Fprint(p.w, "\r\033[K"+p.line())
				} else {
					fmt.Fprintln(p.w, p.line())
				}
			}
		}
	}()
	return p
}

func (p *progress) end() { close(p.stop); <-p.done }

func ms(d time.Duration) int64 { return d.Milliseconds() }

func secs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }
