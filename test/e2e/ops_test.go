package e2e

// Operator commands run as a user would: `vigil up` as a child process,
// `vigil status --json` against it, SIGTERM, and checks that nothing is
// left behind.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/testutil"
)

// opsFreeRange returns a base port such that base..base+n-1 are all free on
// 127.0.0.1 (and not in skip's range).
func opsFreeRange(t *testing.T, n int, avoid ...int) int {
	t.Helper()
next:
	for attempt := 0; attempt < 200; attempt++ {
		base := 20000 + rand.IntN(12000) // below the ephemeral range (32768+)
		for _, a := range avoid {
			if base+n > a-10 && base < a+10 {
				continue next
			}
		}
		for p := base; p < base+n; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				continue next
			}
			ln.Close()
		}
		return base
	}
	t.Fatal("no free port range")
	return 0
}

type opsUp struct {
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan error
}

func opsStartUp(t *testing.T, args ...string) *opsUp {
	t.Helper()
	u := &opsUp{out: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	u.cmd = exec.Command(testutil.VigilBin(t), append([]string{"up"}, args...)...)
	u.cmd.Stdout, u.cmd.Stderr = u.out, u.out
	u.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { u.done <- u.cmd.Wait() }()
	t.Cleanup(func() {
		if u.cmd.ProcessState == nil {
			u.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-u.done:
			case <-time.After(15 * time.Second):
				u.cmd.Process.Kill()
			}
		}
	})
	return u
}

// stop sends SIGTERM and returns the exit error (nil = exit 0).
func (u *opsUp) stop(t *testing.T) error {
	t.Helper()
	u.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-u.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("vigil up did not exit 30s after SIGTERM; output:\n%s", u.out.String())
	}
	return nil
}

type opsStatus struct {
	Master    string `json:"master"`
	Agree     bool   `json:"sentinels_agree"`
	Agreeing  int    `json:"sentinels_agreeing"`
	Reachable int    `json:"sentinels_reachable"`
	Nodes     []struct {
		Name      string `json:"name"`
		Addr      string `json:"address"`
		Reachable bool   `json:"reachable"`
		Role      string `json:"role"`
		Follows   string `json:"follows"`
		Link      string `json:"link"`
	} `json:"nodes"`
	Sentinels []struct {
		Name       string `json:"name"`
		Master     string `json:"master"`
		CKQuorumOK bool   `json:"ckquorum_ok"`
	} `json:"sentinels"`
	Problems []string `json:"problems"`
}

func opsStatusJSON(t *testing.T, dir string) (opsStatus, string, error) {
	out, err := exec.Command(testutil.VigilBin(t), "status", "--dir", dir, "--json").Output()
	var s opsStatus
	if err == nil {
		err = json.Unmarshal(out, &s)
	}
	return s, string(out), err
}

func opsPidfiles(t *testing.T, dir string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pids[filepath.Base(filepath.Dir(f))] = pid
		}
	}
	return pids
}

func opsAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func TestOpsUpStatusAndStop(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vigil-data")
	base := opsFreeRange(t, 3)
	sbase := opsFreeRange(t, 3, base)
	args := []string{"--dir", dir, "--base-port", strconv.Itoa(base), "--sentinel-port", strconv.Itoa(sbase), "--down-after", "2000", "--no-status"}
	start := time.Now()
	u := opsStartUp(t, args...)
	master := fmt.Sprintf("127.0.0.1:%d", base)

	// Every node answers, then every Sentinel agrees on the master.
	var addrs []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", base+i), fmt.Sprintf("127.0.0.1:%d", sbase+i))
	}
	testutil.Eventually(t, 30*time.Second, "every node to answer PING", func() bool {
		for _, a := range addrs {
			if v, err := sdo(a, "PING"); err != nil || string(v.Str) != "PONG" {
				return false
			}
		}
		return true
	})
	ready := time.Since(start)
	var st opsStatus
	var raw string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		st, raw, err = opsStatusJSON(t, dir)
		if err == nil && st.Agree && st.Agreeing == 3 && len(st.Problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no agreement: %v\n%s\nvigil up output:\n%s", err, raw, u.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("nodes answered %.1fs after start, Sentinels agreed after %.1fs", ready.Seconds(), time.Since(start).Seconds())
	if st.Master != master || len(st.Nodes) != 3 || len(st.Sentinels) != 3 {
		t.Fatalf("status: %s", raw)
	}
	for i, n := range st.Nodes {
		wantRole := "replica"
		if i == 0 {
			wantRole = "master"
		}
		if n.Name != fmt.Sprintf("redis-%d", i+1) || !n.Reachable || n.Role != wantRole || (i > 0 && (n.Follows != master || n.Link != "up")) {
			t.Errorf("node %d: %+v", i, n)
		}
	}
	for _, s := range st.Sentinels {
		if s.Master != master || !s.CKQuorumOK {
			t.Errorf("sentinel %+v", s)
		}
	}
	// The table form too.
	table, err := exec.Command(testutil.VigilBin(t), "status", "--dir", dir).Output()
	if err != nil || !strings.Contains(string(table), "(3/3 Sentinels agree)") {
		t.Errorf("vigil status: %v\n%s", err, table)
	}

	// The PIDs vigil up printed are the ones in the pidfiles.
	pids := opsPidfiles(t, dir)
	if len(pids) != 6 {
		t.Fatalf("pidfiles: %v", pids)
	}
	out := u.out.String()
	for name, pid := range pids {
		if !regexp.MustCompile(`starting ` + name + `\s.*ok \(pid ` + strconv.Itoa(pid) + `,`).MatchString(out) {
			t.Errorf("%s pid %d not reported by vigil up:\n%s", name, pid, out)
		}
	}
	if _, err := sdo(master, "SET", "ops:key", "kept"); err != nil {
		t.Fatal(err)
	}

	stopAt := time.Now()
	if err := u.stop(t); err != nil {
		t.Fatalf("vigil up exit: %v\n%s", err, u.out.String())
	}
	t.Logf("stopped in %.1fs", time.Since(stopAt).Seconds())
	for name, pid := range pids {
		if opsAlive(pid) {
			t.Errorf("%s (pid %d) still running after vigil up exited", name, pid)
		}
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s still taken: %v", a, err)
			continue
		}
		ln.Close()
	}
	if !strings.Contains(u.out.String(), "All stopped.") {
		t.Errorf("output:\n%s", u.out.String())
	}

	// A second run reuses the directory: same layout without flags, the
	// data is still there.
	u2 := opsStartUp(t, "--dir", dir, "--no-status")
	testutil.Eventually(t, 30*time.Second, "the master to answer after restart", func() bool {
		v, err := sdo(master, "GET", "ops:key")
		return err == nil && string(v.Str) == "kept"
	})
	testutil.Eventually(t, 30*time.Second, "the second run to be up", func() bool {
		return strings.Contains(u2.out.String(), "Running.")
	})
	if !strings.Contains(u2.out.String(), "Reusing") {
		t.Errorf("second run output:\n%s", u2.out.String())
	}
	pids2 := opsPidfiles(t, dir)
	if err := u2.stop(t); err != nil {
		t.Fatalf("second vigil up exit: %v\n%s", err, u2.out.String())
	}
	if !strings.Contains(u2.out.String(), "All stopped.") {
		t.Errorf("second run output:\n%s", u2.out.String())
	}
	for name, pid := range pids2 {
		if opsAlive(pid) {
			t.Errorf("second run: %s (pid %d) still running", name, pid)
		}
	}
}

func TestOpsUpPortTaken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	base := opsFreeRange(t, 2)
	sbase := opsFreeRange(t, 3, base)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+1))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(testutil.VigilBin(t), "up", "--dir", dir, "--replicas", "1", "--base-port", strconv.Itoa(base), "--sentinel-port", strconv.Itoa(sbase), "--no-status")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	want := fmt.Sprintf("vigil up: port %d (redis-2) is already in use", base+1)
	if !strings.HasPrefix(stderr.String(), want) || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("stderr %q, want one line starting %q", stderr.String(), want)
	}
	if stdout.Len() != 0 {
		t.Errorf("something was started: %s", stdout.String())
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", base), 200*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("the master port is in use although vigil up failed")
	}
}

func TestOpsHelp(t *testing.T) {
	for _, cmd := range []string{"up", "status", "plan", "drill", "switchover"} {
		out, err := exec.Command(testutil.VigilBin(t), cmd, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Example:") || !strings.Contains(string(out), "vigil "+cmd) {
			t.Errorf("vigil %s --help: %v\n%s", cmd, err, out)
		}
	}
}
