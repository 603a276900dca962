package persist

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/logging"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/server"
)

// slowSync replaces the AOF's fsync for a test: every fsync takes delay,
// is counted, and afterwards the file's content is recorded as durable.
type slowSync struct {
	delay  atomic.Int64 // ns
	count  atomic.Int64
	mu     sync.Mutex
	synced map[string][]byte // file -> content known to be fsynced
}

func installSlowSync(t *testing.T, delay time.Duration) *slowSync {
	ss := &slowSync{synced: map[string][]byte{}}
	ss.delay.Store(int64(delay))
	old := syncFile
	syncFile = func(f *os.File) error {
		time.Sleep(time.Duration(ss.delay.Load())) // the injected disk latency
		err := f.Sync()
		data, _ := os.ReadFile(f.Name())
		ss.mu.Lock()
		ss.synced[f.Name()] = data
		ss.mu.Unlock()
		ss.count.Add(1)
		return err
	}
	t.Cleanup(func() { syncFile = old })
	return ss
}

// durable reports whether p is in a file's fsynced content.
func (ss *slowSync) durable(p []byte) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, d := range ss.synced {
		if bytes.Contains(d, p) {
			return true
		}
	}
	return false
}

// startAOFServer runs an in-process server with the AOF on and returns
// its address.
func startAOFServer(t *testing.T, policy string) (*server.Server, *State, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := config.NewServer()
	if err := cfg.ApplyArgs([]string{"--dir", dir, "--appendonly", "yes", "--appendfsync", policy,
		"--save", "", "--port", "0", "--bind", "127.0.0.1", "--enable-debug-command", "yes"}); err != nil {
		t.Fatal(err)
	}
	s := server.New(cfg, logging.New(io.Discard, logging.LevelWarning))
	st := Install(s)
	if err := st.EnableAOF(false, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() {
		// Let a background rewrite finish writing into the directory.
		deadline := time.Now().Add(10 * time.Second)
		for {
			s.Lock()
			busy := st.AOF != nil && st.AOF.rewriting
			if !busy || time.Now().After(deadline) {
				st.DisableAOF()
				s.Unlock()
				break
			}
			s.Unlock()
			time.Sleep(time.Millisecond) // poll
		}
		s.Shutdown(false, true, true)
	})
	return s, st, fmt.Sprintf("127.0.0.1:%d", s.Port())
}

type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, r: bufio.NewReader(c)}
}

// do sends one command and returns the first line of the reply (bulk
// replies: the payload).
func (r *rawConn) do(args ...string) (string, error) {
	if _, err := r.c.Write(resp.AppendCommand(nil, args...)); err != nil {
		return "", err
	}
	line, err := r.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line[0] == '$' {
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	if line[0] == '*' { // INFO in RESP3 isn't used; arrays aren't expected
		return line, nil
	}
	return line, nil
}

// Group commit under appendfsync always: with many writers and a slow
// fsync, one fsync covers the writes of many clients; every acknowledged
// write (and every value a reader sees) is already fsynced; PING and INFO
// are answered while fsyncs are in progress.
func TestAOFGroupCommitAlways(t *testing.T) {
	const delay = 250 * time.Millisecond
	ss := installSlowSync(t, delay)
	_, _, addr := startAOFServer(t, "always")
	ss.count.Store(0)

	const writers = 16
	stop := time.Now().Add(2 * time.Second)
	var acks atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := dialRaw(t, addr)
			key := "w:" + strconv.Itoa(i)
			for n := 1; time.Now().Before(stop); n++ {
				v := strconv.Itoa(n)
				if r, err := c.do("SET", key, v); err != nil || r != "+OK" {
					errs <- fmt.Sprintf("SET: %q %v", r, err)
					return
				}
				acks.Add(1)
				if !ss.durable(resp.AppendCommand(nil, "SET", key, v)) {
					errs <- fmt.Sprintf("SET %s %s acknowledged before it was fsynced", key, v)
					return
				}
			}
		}(i)
	}
	// A reader must never see a value that isn't fsynced yet.
	wg.Add(1)
	var seen atomic.Int64
	go func() {
		defer wg.Done()
		c := dialRaw(t, addr)
		for time.Now().Before(stop) {
			v, err := c.do("GET", "w:0")
			if err != nil {
				errs <- err.Error()
				return
			}
			if v == "" {
				continue
			}
			seen.Add(1)
			if !ss.durable(resp.AppendCommand(nil, "SET", "w:0", v)) {
				errs <- fmt.Sprintf("GET w:0 returned %s before it was fsynced", v)
				return
			}
		}
	}()
	// Health checks keep being answered.
	var maxPing, maxInfo time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := dialRaw(t, addr)
		for time.Now().Before(stop) {
			t0 := time.Now()
			if r, err := c.do("PING"); err != nil || r != "+PONG" {
				errs <- fmt.Sprintf("PING: %q %v", r, err)
				return
			}
			maxPing = max(maxPing, time.Since(t0))
			t0 = time.Now()
			if _, err := c.do("INFO", "persistence"); err != nil {
				errs <- err.Error()
				return
			}
			maxInfo = max(maxInfo, time.Since(t0))
			deadline := time.Now().Add(10 * time.Millisecond)
			for time.Now().Before(deadline) { // pace without sleeping
				if _, err := c.do("ECHO", "x"); err != nil {
					return
				}
			}
		}
	}()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	n, f := acks.Load(), ss.count.Load()
	t.Logf("%d writers, %v per fsync: %d acknowledged SETs, %d fsyncs (%.1f writes per fsync), reader saw %d values, max PING %v, max INFO %v",
		writers, delay, n, f, float64(n)/float64(max(f, 1)), seen.Load(), maxPing, maxInfo)
	if f == 0 || n < 4*f {
		t.Errorf("no group commit: %d acknowledged writes for %d fsyncs", n, f)
	}
	if maxPing >= delay || maxInfo >= delay {
		t.Errorf("PING/INFO waited for an fsync: max PING %v, max INFO %v (fsync %v)", maxPing, maxInfo, delay)
	}
}

// appendfsync everysec: a slow background fsync never delays replies; a
// write postponed behind it for 2 s is done anyway and counted in
// aof_delayed_fsync.
func TestAOFEverysecSlowFsyncDoesNotBlock(t *testing.T) {
	const delay = 2500 * time.Millisecond
	ss := installSlowSync(t, delay)
	defer ss.delay.Store(0) // fast fsyncs for the cleanup
	_, st, addr := startAOFServer(t, "everysec")
	c := dialRaw(t, addr)
	info := dialRaw(t, addr)
	stop := time.Now().Add(4 * time.Second)
	var maxLat time.Duration
	sawPending := false
	for n := 0; time.Now().Before(stop); n++ {
		t0 := time.Now()
		if r, err := c.do("SET", "k"+strconv.Itoa(n), "v"); err != nil || r != "+OK" {
			t.Fatalf("SET: %q %v", r, err)
		}
		maxLat = max(maxLat, time.Since(t0))
		if n%50 == 0 {
			t0 = time.Now()
			v, err := infoField(info, "aof_pending_bio_fsync")
			if err != nil {
				t.Fatal(err)
			}
			maxLat = max(maxLat, time.Since(t0))
			sawPending = sawPending || v == "1"
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	var delayed string
	for time.Now().Before(deadline) {
		var err error
		if delayed, err = infoField(info, "aof_delayed_fsync"); err != nil {
			t.Fatal(err)
		}
		if delayed != "0" {
			break
		}
	}
	t.Logf("everysec, %v per fsync: max reply latency %v, aof_delayed_fsync %s, saw aof_pending_bio_fsync:1 %v", delay, maxLat, delayed, sawPending)
	if maxLat > 500*time.Millisecond {
		t.Errorf("a reply waited %v behind the background fsync", maxLat)
	}
	if delayed == "0" || !sawPending {
		t.Errorf("aof_delayed_fsync %s, aof_pending_bio_fsync seen %v", delayed, sawPending)
	}
	if st.AOF.delayedFsyncs() == 0 {
		t.Error("no delayed fsync counted")
	}
	for _, f := range []string{"aof_last_write_status:ok", "aof_buffer_length:", "aof_current_size:", "aof_base_size:"} {
		if r, _ := infoAll(info); !strings.Contains(r, f) {
			t.Errorf("INFO persistence lacks %s", f)
		}
	}
}

func infoAll(c *rawConn) (string, error) {
	return c.do("INFO", "persistence")
}

func infoField(c *rawConn, name string) (string, error) {
	s, err := infoAll(c)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO persistence has no %s", name)
}

// PUBLISH propagates to replicas only: never into the AOF, even inside
// MULTI, while the writes around it do.
func TestAOFPublishNotInAOF(t *testing.T) {
	ss := installSlowSync(t, 0)
	_, _, addr := startAOFServer(t, "always")
	c := dialRaw(t, addr)
	for _, cmd := range [][]string{{"PUBLISH", "ch", "m1"}, {"SET", "a", "1"}, {"MULTI"}, {"PUBLISH", "ch", "m2"}, {"SET", "b", "2"}, {"EXEC"}} {
		if _, err := c.do(cmd...); err != nil {
			t.Fatal(err)
		}
	}
	// EXEC's reply is an array: read its two elements.
	for i := 0; i < 2; i++ {
		if _, err := c.r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := c.do("GET", "b"); r != "2" {
		t.Fatalf("GET b = %q", r)
	}
	if !ss.durable(resp.AppendCommand(nil, "SET", "b", "2")) {
		t.Fatal("SET b not in the AOF")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for name, d := range ss.synced {
		if bytes.Contains(bytes.ToUpper(d), []byte("PUBLISH")) {
			t.Errorf("PUBLISH in %s: %q", name, d)
		}
		if bytes.Contains(d, []byte("SET\r\n$1\r\nb")) && !bytes.Contains(d, []byte("MULTI")) {
			t.Errorf("the transaction lost its MULTI in %s: %q", name, d)
		}
	}
}

// A rewrite (new incremental file) in the middle of group commits: the
// bytes buffered for the old file go to it and are fsynced before anyone
// waiting for them is released; replaying the AOF gives every
// acknowledged write exactly once.
func TestAOFGroupCommitRewrite(t *testing.T) {
	ss := installSlowSync(t, 20*time.Millisecond)
	_, _, addr := startAOFServer(t, "always")
	admin := dialRaw(t, addr)
	const writers = 8
	var acks [writers]atomic.Int64
	var wg sync.WaitGroup
	var stopW atomic.Bool
	errs := make(chan string, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := dialRaw(t, addr)
			for n := int64(1); !stopW.Load(); n++ {
				if r, err := c.do("INCR", "ctr:"+strconv.Itoa(i)); err != nil || r != ":"+strconv.FormatInt(n, 10) {
					errs <- fmt.Sprintf("INCR: %q %v", r, err)
					return
				}
				acks[i].Store(n)
			}
		}(i)
	}
	waitAcks := func(min int64) {
		deadline := time.Now().Add(10 * time.Second)
		for acks[0].Load() < min && time.Now().Before(deadline) {
			admin.do("PING")
		}
	}
	waitAcks(5)
	for round := 0; round < 3; round++ {
		if r, err := admin.do("BGREWRITEAOF"); err != nil || !strings.Contains(r, "started") {
			t.Fatalf("BGREWRITEAOF: %q %v", r, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			v, err := infoField(admin, "aof_rewrite_in_progress")
			if err != nil {
				t.Fatal(err)
			}
			if v == "0" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("rewrite did not finish")
			}
		}
		waitAcks(acks[0].Load() + 3)
	}
	stopW.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if r, err := admin.do("DEBUG", "LOADAOF"); err != nil || r != "+OK" {
		t.Fatalf("DEBUG LOADAOF: %q %v", r, err)
	}
	total := int64(0)
	for i := 0; i < writers; i++ {
		want := acks[i].Load()
		total += want
		got, err := admin.do("GET", "ctr:"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if got != strconv.FormatInt(want, 10) {
			t.Errorf("ctr:%d = %q after replaying the AOF, %d increments acknowledged", i, got, want)
		}
	}
	t.Logf("%d acknowledged INCRs across 3 rewrites, %d fsyncs", total, ss.count.Load())
}

// A blocked client served by another client's write (BLPOP woken by
// LPUSH) gets the value only once that write is fsynced.
func TestAOFBlockedReplyWaitsForFsync(t *testing.T) {
	ss := installSlowSync(t, 150*time.Millisecond)
	_, _, addr := startAOFServer(t, "always")
	b := dialRaw(t, addr)
	p := dialRaw(t, addr)
	if _, err := b.c.Write(resp.AppendCommand(nil, "BLPOP", "l", "10")); err != nil {
		t.Fatal(err)
	}
	// Wait until the BLPOP is parked.
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := infoClients(p)
		if err != nil {
			t.Fatal(err)
		}
		if v == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("BLPOP did not block")
		}
	}
	if _, err := p.c.Write(resp.AppendCommand(nil, "LPUSH", "l", "v1")); err != nil {
		t.Fatal(err)
	}
	line, err := b.r.ReadString('\n') // *2
	if err != nil || line != "*2\r\n" {
		t.Fatalf("BLPOP reply %q %v", line, err)
	}
	if !ss.durable(resp.AppendCommand(nil, "LPUSH", "l", "v1")) {
		t.Fatal("BLPOP returned a pushed value before the push was fsynced")
	}
}

func infoClients(c *rawConn) (string, error) {
	s, err := c.do("INFO", "clients")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(l, "blocked_clients:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no blocked_clients in INFO clients")
}
