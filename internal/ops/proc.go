package ops

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process `vigil up` started.
type child struct {
	node    localNode
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // exit status once done
	console *os.File
}

// startChild starts `vigil server|sentinel CONF` in its own process group
// (so a terminal's Ctrl-C reaches only `vigil up`, which then stops the
// children in order) with SIGTERM as parent-death signal, so the children
// do not outlive a `vigil up` that was killed with SIGKILL.
func startChild(exe string, l *layout, n localNode) (*child, error) {
	mode := "server"
	if n.sentinel() {
		mode = "sentinel"
	}
	console, err := os.OpenFile(l.consolePath(n), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, mode, l.confPath(n))
	cmd.Dir = l.nodeDir(n)
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		console.Close()
		return nil, err
	}
	c := &child{node: n, cmd: cmd, done: make(chan struct{}), console: console}
	go func() {
		c.err = cmd.Wait()
		console.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitReady polls PING until the child answers, exits, or d passes.
func (c *child) waitReady(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return errInterrupted
		}
		if c.exited() {
			return fmt.Errorf("exited (%v)", c.err)
		}
		if cl, err := dial(c.node.addr(), "", 300*time.Millisecond); err == nil {
			v, err := cl.do("PING")
			cl.Close()
			if err == nil && (v.Type == '+' || strings.HasPrefix(string(v.Str), "NOAUTH")) {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer to PING after %v", d)
}

var errInterrupted = errors.New("interrupted")

// stopChildren sends SIGTERM to every running child, waits up to timeout
// for all of them, then SIGKILLs the rest. progress gets one line per
// child.
func stopChildren(children []*child, timeout time.Duration, progress func(string)) {
	for _, c := range children {
		if !c.exited() {
			c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(timeout)
	for _, c := range children {
		select {
		case <-c.done:
		case <-deadline:
		}
		if !c.exited() {
			progress(fmt.Sprintf("%s (pid %d) did not stop within %v: SIGKILL", c.node.Name, c.pid(), timeout))
			c.cmd.Process.Signal(syscall.SIGKILL)
			<-c.done
		}
		progress(fmt.Sprintf("stopped %-11s pid %d (%s)", c.node.Name, c.pid(), exitText(c.err)))
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}

// livePidfile returns the pid in path if that process is alive.
func livePidfile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// tail returns the last n non-empty lines of a file.
func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
			if len(lines) > n {
				lines = lines[1:]
			}
		}
	}
	return lines
}
