package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/testutil"
)

// Slow fsync injected into a real vigil process with strace (as in the
// chaos suite, test/chaos/fsync_test.go), which also logs every fsync.

type straceFsync struct {
	cmd    *exec.Cmd
	out    string
	stderr *bytes.Buffer
	mu     sync.Mutex
}

func (s *straceFsync) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.Write(p)
}

func (s *straceFsync) attached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Contains(s.stderr.String(), "attached")
}

// delayFsyncs attaches strace to pid, delaying every fsync/fdatasync by d
// and logging them; skips (fails under CI=true) without strace or ptrace.
func delayFsyncs(t *testing.T, pid int, d time.Duration) *straceFsync {
	t.Helper()
	bin := testutil.RequireTool(t, "strace")
	s := &straceFsync{out: filepath.Join(t.TempDir(), "strace.out"), stderr: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, "-f", "-o", s.out, "-e", "trace=fsync,fdatasync",
		"-e", fmt.Sprintf("inject=fsync,fdatasync:delay_enter=%d", d.Microseconds()), "-p", strconv.Itoa(pid))
	s.cmd.Stderr = s
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() { s.stop(); <-exited })
	deadline := time.Now().Add(10 * time.Second)
	for !s.attached() {
		select {
		case <-exited:
			msg := fmt.Sprintf("strace can't attach to the server: %s", s.stderr.String())
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("strace did not attach: %s", s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

func (s *straceFsync) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
}

// fsyncs counts the fsyncs strace saw so far.
func (s *straceFsync) fsyncs(t *testing.T) int {
	data, err := os.ReadFile(s.out)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte("sync("))
}

func aofIncr(t *testing.T, dir string) []byte {
	files, _ := filepath.Glob(filepath.Join(dir, "appendonlydir", "*.incr.aof"))
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
		}
		all = append(all, b...)
	}
	return all
}

// appendfsync always with 0.2 s fsyncs and 10 clients: vigil groups the
// clients' writes into one fsync (far fewer fsyncs than acknowledged
// writes), each write is in the file when acknowledged, and PING is
// answered while fsyncs are in progress (before group commit: ~5 SET/s,
// one fsync per write, PINGs 1.8-2.2 s). The same load runs against
// redis-server when it is installed, for comparison (logged only).
func TestAOFGroupCommitSlowFsync(t *testing.T) {
	const delay = 200 * time.Millisecond
	args := []string{"--appendonly", "yes", "--appendfsync", "always"}
	dir := t.TempDir()
	v := testutil.StartVigil(t, testutil.StartOptions{Dir: dir, Args: args})
	r := slowFsyncLoad(t, v, dir, delay)
	t.Logf("vigil: %s", r)
	if r.fsyncs == 0 || r.acks < 4*r.fsyncs {
		t.Errorf("no group commit: %d acknowledged writes, %d fsyncs", r.acks, r.fsyncs)
	}
	if r.maxPing >= delay {
		t.Errorf("a PING waited %v (an fsync takes %v)", r.maxPing, delay)
	}
	if _, err := exec.LookPath("redis-server"); err == nil {
		dir := t.TempDir()
		rs := testutil.StartRedis(t, testutil.StartOptions{Dir: dir, Args: args})
		t.Logf("redis-server: %s", slowFsyncLoad(t, rs, dir, delay))
	}
}

type loadResult struct {
	acks, fsyncs, pings int
	secs                float64
	p50Ping, maxPing    time.Duration
}

func (r loadResult) String() string {
	return fmt.Sprintf("%.1f SET/s, %d acknowledged writes, %d fsyncs, %d PINGs: p50 %v, max %v",
		float64(r.acks)/r.secs, r.acks, r.fsyncs, r.pings, r.p50Ping.Round(time.Millisecond), r.maxPing.Round(time.Millisecond))
}

// slowFsyncLoad: 10 clients SET in a closed loop for 4 s while every fsync
// takes delay; one client PINGs every 50 ms. Every acknowledged SET must be
// in the AOF at once.
func slowFsyncLoad(t *testing.T, p *testutil.Proc, dir string, delay time.Duration) loadResult {
	st := delayFsyncs(t, p.Cmd.Process.Pid, delay)
	defer st.stop()
	before := st.fsyncs(t)
	const writers = 10
	const secs = 4
	stop := time.Now().Add(secs * time.Second)
	var acks atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := testutil.MustDial(t, p.Addr)
			defer c.Close()
			for n := 1; time.Now().Before(stop); n++ {
				key := fmt.Sprintf("gc:%d:%d", i, n)
				r, err := c.Do("SET", key, "v")
				if err != nil || r.Type != '+' {
					errs <- fmt.Sprintf("SET: %v %v", r, err)
					return
				}
				acks.Add(1)
				if !bytes.Contains(aofIncr(t, dir), resp.AppendCommand(nil, "SET", key, "v")) {
					errs <- fmt.Sprintf("SET %s acknowledged but not in the AOF", key)
					return
				}
			}
		}(i)
	}
	var lat []time.Duration
	c := testutil.MustDial(t, p.Addr)
	defer c.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	for time.Now().Before(stop) {
		<-tick.C
		t0 := time.Now()
		if r, err := c.Do("PING"); err != nil || string(r.Str) != "PONG" {
			t.Fatalf("PING: %v %v", r, err)
		}
		lat = append(lat, time.Since(t0))
	}
	tick.Stop()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return loadResult{acks: int(acks.Load()), fsyncs: st.fsyncs(t) - before, pings: len(lat), secs: secs,
		p50Ping: lat[len(lat)/2], maxPing: lat[len(lat)-1]}
}

// appendfsync everysec with 2.5 s fsyncs: replies never wait for the
// background fsync; a write postponed for 2 s behind it is done anyway and
// counted (aof_delayed_fsync, Redis's log line).
func TestAOFEverysecSlowFsyncNoStall(t *testing.T) {
	const delay = 2500 * time.Millisecond
	dir := t.TempDir()
	v := testutil.StartVigil(t, testutil.StartOptions{Dir: dir, Args: []string{"--appendonly", "yes", "--appendfsync", "everysec"}})
	delayFsyncs(t, v.Cmd.Process.Pid, delay)
	c := testutil.MustDial(t, v.Addr)
	stop := time.Now().Add(5 * time.Second)
	var maxLat time.Duration
	n := 0
	for ; time.Now().Before(stop); n++ {
		t0 := time.Now()
		if r, err := c.Do("SET", "k"+strconv.Itoa(n), "v"); err != nil || r.Type != '+' {
			t.Fatalf("SET: %v %v", r, err)
		}
		maxLat = max(maxLat, time.Since(t0))
	}
	info := string(c.MustDo(t, "INFO", "persistence").Str)
	t.Logf("everysec, %v per fsync: %d SETs in 5 s, max latency %v", delay, n, maxLat)
	if maxLat > time.Second {
		t.Errorf("a reply waited %v behind the background fsync", maxLat)
	}
	if !strings.Contains(info, "aof_delayed_fsync:") || strings.Contains(info, "aof_delayed_fsync:0\r") {
		t.Errorf("no delayed fsync counted:\n%s", info)
	}
	testutil.Eventually(t, 5*time.Second, "the postponement logged", func() bool {
		return strings.Contains(v.ReadLog(), "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.")
	})
}
