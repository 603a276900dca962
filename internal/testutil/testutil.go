// Package testutil starts real processes for tests: the vigil binary (built
// once per test process, or taken from $VIGIL_BIN) and Debian's
// redis-server / redis-sentinel for differential and interop tests, each on
// 127.0.0.1 with a free port and a temp dir, stopped by PID at cleanup.
//
// A missing Redis tool skips the test locally with a clear message; under
// CI=true it fails, so CI can't go green by skipping.
package testutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// ModuleRoot returns the repository root (where go.mod is).
func ModuleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return ""
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// VigilBin returns the path of a vigil binary built from this tree.
func VigilBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("VIGIL_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vigil-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "vigil")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/vigil")
		cmd.Dir = ModuleRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// RequireTool returns the path of an external tool, skipping the test when
// it is missing (failing under CI=true).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true but is not installed", name)
		}
		t.Skipf("%s not installed; skipping (install redis-server redis-tools redis-sentinel to run)", name)
	}
	return p
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Proc is a started server process.
type Proc struct {
	Cmd  *exec.Cmd
	Port int
	Dir  string
	Log  string
	Addr string
	t    testing.TB
	done chan struct{}
	mu   sync.Mutex
}

// StartOptions configure a server process.
type StartOptions struct {
	Args   []string // extra arguments after the config file
	Config string   // config file path (optional)
	Port   int      // 0 = pick a free one
	Dir    string   // data dir; "" = new temp dir
	Env    []string
	Argv0  string
}

// StartVigil starts `vigil server` with defaults suited to tests.
func StartVigil(t testing.TB, o StartOptions) *Proc {
	return start(t, VigilBin(t), []string{"server"}, o)
}

// StartRedis starts Debian's redis-server.
func StartRedis(t testing.TB, o StartOptions) *Proc {
	bin := RequireTool(t, "redis-server")
	return start(t, bin, nil, o)
}

func start(t testing.TB, bin string, pre []string, o StartOptions) *Proc {
	t.Helper()
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := o.Port
		if port == 0 {
			port = FreePort(t)
		}
		args := append([]string{}, pre...)
		if o.Config != "" {
			args = append(args, o.Config)
		}
		args = append(args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--daemonize", "no", "--logfile", "", "--save", "", "--appendonly", "no",
			"--enable-debug-command", "yes", "--pidfile", filepath.Join(dir, "pid"),
			// Replicas sync at once (Redis's default waits 5 s for more
			// replicas); tests that exercise the delay set it in Args.
			"--repl-diskless-sync-delay", "0")
		args = append(args, o.Args...)
		logPath := filepath.Join(dir, fmt.Sprintf("server-%d.log", port))
		lf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, args...)
		if o.Argv0 != "" {
			cmd.Args[0] = o.Argv0
		}
		cmd.Stdout, cmd.Stderr = lf, lf
		cmd.Env = append(os.Environ(), o.Env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p := &Proc{Cmd: cmd, Port: port, Dir: dir, Log: logPath, Addr: fmt.Sprintf("127.0.0.1:%d", port), t: t, done: make(chan struct{})}
		go func() { cmd.Wait(); lf.Close(); close(p.done) }()
		t.Cleanup(p.Kill)
		if err := p.WaitReady(10 * time.Second); err != nil {
			p.Kill()
			lastErr = fmt.Errorf("%v; log:\n%s", err, p.ReadLog())
			if o.Port != 0 {
				break
			}
			continue
		}
		return p
	}
	t.Fatalf("server did not start: %v", lastErr)
	return nil
}

// WaitReady polls PING until it answers.
func (p *Proc) WaitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("process exited")
		default:
		}
		c, err := Dial(p.Addr)
		if err == nil {
			v, err := c.Do("PING")
			c.Close()
			if err == nil && (v.Type == '+' || (v.Type == '-' && (strings.HasPrefix(string(v.Str), "NOAUTH") || strings.HasPrefix(string(v.Str), "MASTERDOWN")))) {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("timeout waiting for PING")
}

// ReadLog returns the process log.
func (p *Proc) ReadLog() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Stop sends SIGSTOP and waits until every thread of the process is
// stopped: the signal takes effect asynchronously, and a test that checks
// what a stopped process no longer does must not race its last instants.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 5*time.Second, "the process to stop", func() bool { return ProcStopped(p.Cmd.Process.Pid) })
}

// ProcStopped reports whether every thread of process pid is stopped
// (state T in /proc/PID/task/TID/stat).
func ProcStopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// pid (comm) state ...: comm may contain spaces, the state follows the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}

// Kill ends the process (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Wait waits for exit up to d; false on timeout.
func (p *Proc) Wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Client is a minimal RESP client for tests.
type Client struct {
	Conn net.Conn
	R    *resp.ReplyReader
	br   *bufio.Reader
}

// Dial connects to addr.
func Dial(addr string) (*Client, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	return &Client{Conn: c, br: br, R: resp.NewReplyReader(br)}, nil
}

// MustDial connects or fails the test.
func MustDial(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }

// Send writes one command without reading.
func (c *Client) Send(args ...string) error {
	_, err := c.Conn.Write(resp.AppendCommand(nil, args...))
	return err
}

// Read reads one reply (10 s deadline).
func (c *Client) Read() (resp.Value, error) {
	c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c.R.Read()
}

// Do sends a command and reads its reply.
func (c *Client) Do(args ...string) (resp.Value, error) {
	if err := c.Send(args...); err != nil {
		return resp.Value{}, err
	}
	return c.Read()
}

// MustDo is Do that fails the test on I/O errors.
func (c *Client) MustDo(t testing.TB, args ...string) resp.Value {
	t.Helper()
	v, err := c.Do(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// Eventually polls cond until true or the deadline passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

// SyncBuffer is a bytes.Buffer safe for concurrent use: a child process's
// output written by exec's copier while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *SyncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *SyncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
