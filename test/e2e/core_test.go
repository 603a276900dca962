// Package e2e drives vigil with real clients and tools: go-redis v9,
// redis-cli, redis-benchmark, and the server binary's own command line
// (config files, signals, pidfiles, daemonize).
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vigil-kv/vigil/internal/testutil"
)

func coreClient(t *testing.T, addr string, proto int) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: proto, DisableIndentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGoRedisPipelineAndTypes(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			c := coreClient(t, p.Addr, proto)
			if err := c.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			cmds, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
				for i := 0; i < 100; i++ {
					pl.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
				}
				pl.Incr(ctx, "counter")
				pl.IncrByFloat(ctx, "f", 1.1)
				pl.IncrByFloat(ctx, "f", 2.2)
				pl.Get(ctx, "k42")
				pl.Get(ctx, "missing")
				pl.Expire(ctx, "k1", time.Minute)
				pl.TTL(ctx, "k1")
				return nil
			})
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			n := len(cmds)
			if v := cmds[n-5].(*redis.FloatCmd).Val(); v != 3.3 {
				t.Errorf("INCRBYFLOAT 1.1+2.2 = %v, want 3.3", v)
			}
			if v := cmds[n-4].(*redis.StringCmd).Val(); v != "42" {
				t.Errorf("GET k42 = %q", v)
			}
			if err := cmds[n-3].Err(); !errors.Is(err, redis.Nil) {
				t.Errorf("GET missing err = %v, want redis.Nil", err)
			}
			if ttl := cmds[n-1].(*redis.DurationCmd).Val(); ttl <= 0 || ttl > time.Minute {
				t.Errorf("TTL = %v", ttl)
			}
			if n, err := c.DBSize(ctx).Result(); err != nil || n != 102 {
				t.Errorf("DBSIZE = %d, %v", n, err)
			}
			vals, err := c.MGet(ctx, "k1", "k2", "nope").Result()
			if err != nil || vals[0] != "1" || vals[2] != nil {
				t.Errorf("MGET = %v, %v", vals, err)
			}
			if err := c.Set(ctx, "k1", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.Incr(ctx, "k1").Err(); err == nil || !strings.Contains(err.Error(), "not an integer") {
				t.Errorf("INCR on a string: %v", err)
			}
			var keys []string
			iter := c.Scan(ctx, 0, "k1*", 7).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if iter.Err() != nil || len(keys) != 11 {
				t.Errorf("SCAN k1* found %d keys (%v)", len(keys), iter.Err())
			}
			if proto == 3 {
				hello, err := c.Do(ctx, "HELLO", "3").Result()
				if err != nil {
					t.Fatal(err)
				}
				m, ok := hello.(map[interface{}]interface{})
				if !ok || m["proto"] != int64(3) || m["server"] != "redis" {
					t.Errorf("HELLO 3 = %#v", hello)
				}
			}
		})
	}
}

func TestGoRedisTransactions(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	ctx := context.Background()
	c := coreClient(t, p.Addr, 3)
	other := coreClient(t, p.Addr, 2)

	cmds, err := c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Set(ctx, "a", "1", 0)
		pl.Incr(ctx, "a")
		pl.Get(ctx, "a")
		return nil
	})
	if err != nil || cmds[2].(*redis.StringCmd).Val() != "2" {
		t.Fatalf("TxPipelined: %v %v", cmds, err)
	}

	// An optimistic increment under contention: every increment lands once.
	const workers, each = 4, 25
	incr := func(cl *redis.Client) error {
		for {
			err := cl.Watch(ctx, func(tx *redis.Tx) error {
				n, err := tx.Get(ctx, "counter").Int()
				if err != nil && !errors.Is(err, redis.Nil) {
					return err
				}
				_, err = tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
					pl.Set(ctx, "counter", n+1, 0)
					return nil
				})
				return err
			}, "counter")
			if errors.Is(err, redis.TxFailedErr) {
				continue
			}
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := redis.NewClient(&redis.Options{Addr: p.Addr, DisableIndentity: true})
			defer cl.Close()
			for i := 0; i < each; i++ {
				if err := incr(cl); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, _ := c.Get(ctx, "counter").Int(); n != workers*each {
		t.Errorf("counter = %d, want %d", n, workers*each)
	}

	// A write from another client between WATCH and EXEC aborts it.
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		if err := other.Set(ctx, "w", "theirs", 0).Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
			pl.Set(ctx, "w", "mine", 0)
			return nil
		})
		return err
	}, "w")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Errorf("WATCH conflict: err = %v, want TxFailedErr", err)
	}
	if v := c.Get(ctx, "w").Val(); v != "theirs" {
		t.Errorf("w = %q", v)
	}

	// A queued syntax error aborts the whole transaction.
	_, err = c.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Set(ctx, "x", "1", 0)
		pl.Do(ctx, "NOSUCHCMD")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "EXECABORT") {
		t.Errorf("queued error: %v", err)
	}
	if c.Exists(ctx, "x").Val() != 0 {
		t.Errorf("x was set by an aborted transaction")
	}
}

func TestGoRedisPubSub(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			sub := coreClient(t, p.Addr, proto)
			pub := coreClient(t, p.Addr, 2)
			ps := sub.Subscribe(ctx, "news")
			defer ps.Close()
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ps.PSubscribe(ctx, "ev.*"); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 5*time.Second, "pattern subscription", func() bool {
				return pub.PubSubNumPat(ctx).Val() == 1
			})
			if n := pub.PubSubNumSub(ctx, "news").Val()["news"]; n != 1 {
				t.Errorf("NUMSUB news = %d", n)
			}
			if n, err := pub.Publish(ctx, "news", "hello").Result(); err != nil || n != 1 {
				t.Fatalf("PUBLISH news = %d, %v", n, err)
			}
			if n, _ := pub.Publish(ctx, "ev.one", "payload").Result(); n != 1 {
				t.Errorf("PUBLISH ev.one reached %d", n)
			}
			ch := ps.Channel()
			want := []string{"news|hello|", "ev.one|payload|ev.*"}
			for _, w := range want {
				select {
				case m := <-ch:
					if got := m.Channel + "|" + m.Payload + "|" + m.Pattern; got != w {
						t.Errorf("message %q, want %q", got, w)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("no message %q", w)
				}
			}
			chans, _ := pub.PubSubChannels(ctx, "*").Result()
			if len(chans) != 1 || chans[0] != "news" {
				t.Errorf("PUBSUB CHANNELS = %v", chans)
			}
		})
	}
}

// --- redis-cli -------------------------------------------------------------

func coreCLI(t *testing.T, port int, stdin string, args ...string) (string, error) {
	t.Helper()
	bin := testutil.RequireTool(t, "redis-cli")
	cmd := exec.Command(bin, append([]string{"-p", strconv.Itoa(port)}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestRedisCLI(t *testing.T) {
	testutil.RequireTool(t, "redis-cli")
	p := testutil.StartVigil(t, testutil.StartOptions{})
	checks := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG\n"},
		{[]string{"SET", "greeting", "hello world"}, "OK\n"},
		{[]string{"GET", "greeting"}, "hello world\n"},
		{[]string{"--raw", "INCRBYFLOAT", "f", "1.5"}, "1.5\n"},
		{[]string{"GET", "missing"}, "\n"},
		{[]string{"-n", "3", "SET", "indb3", "x"}, "OK\n"},
		{[]string{"-n", "3", "DBSIZE"}, "1\n"},
		{[]string{"--no-raw", "GET", "missing"}, "(nil)\n"},
		{[]string{"--no-raw", "INCR", "greeting"}, "(error) ERR value is not an integer or out of range\n"},
		{[]string{"--no-raw", "MGET", "greeting", "missing"}, "1) \"hello world\"\n2) (nil)\n"},
		{[]string{"-3", "--no-raw", "HELLO", "3"}, ""},
		{[]string{"--no-raw", "CONFIG", "GET", "maxmemory"}, "1) \"maxmemory\"\n2) \"0\"\n"},
	}
	for _, c := range checks {
		out, err := coreCLI(t, p.Port, "", c.args...)
		if err != nil {
			t.Errorf("redis-cli %v: %v\n%s", c.args, err, out)
			continue
		}
		if c.want != "" && out != c.want {
			t.Errorf("redis-cli %v = %q, want %q", c.args, out, c.want)
		}
	}
	// Commands from stdin, one per line (the -x-less batch mode).
	out, err := coreCLI(t, p.Port, "SET a 1\nINCR a\nGET a\n")
	if err != nil || out != "OK\n2\n2\n" {
		t.Errorf("stdin batch: %q %v", out, err)
	}
	// --scan and --bigkeys walk the keyspace with SCAN / TYPE / STRLEN.
	out, err = coreCLI(t, p.Port, "", "--scan", "--pattern", "gree*")
	if err != nil || out != "greeting\n" {
		t.Errorf("--scan: %q %v", out, err)
	}
	out, err = coreCLI(t, p.Port, "", "--bigkeys")
	if err != nil || !strings.Contains(out, "Biggest string found") || strings.Contains(out, "ERR") {
		t.Errorf("--bigkeys: %v\n%s", err, out)
	}
}

func TestRedisCLIPipe(t *testing.T) {
	testutil.RequireTool(t, "redis-cli")
	p := testutil.StartVigil(t, testutil.StartOptions{})
	var b strings.Builder
	for i := 0; i < 10000; i++ {
		key, val := fmt.Sprintf("key:%d", i), fmt.Sprintf("value:%d", i)
		fmt.Fprintf(&b, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(val), val)
	}
	out, err := coreCLI(t, p.Port, b.String(), "--pipe")
	if err != nil {
		t.Fatalf("--pipe: %v\n%s", err, out)
	}
	if !strings.Contains(out, "errors: 0, replies: 10000") {
		t.Errorf("--pipe summary: %s", out)
	}
	if out, _ := coreCLI(t, p.Port, "", "DBSIZE"); out != "10000\n" {
		t.Errorf("DBSIZE after --pipe = %q", out)
	}
	if out, _ := coreCLI(t, p.Port, "", "GET", "key:9999"); out != "value:9999\n" {
		t.Errorf("GET key:9999 = %q", out)
	}
}

// TestRedisCLIInteractive runs redis-cli in a pseudo-terminal (through
// util-linux script(1)), so it is in interactive mode: it loads command
// docs for its hints with COMMAND DOCS and prints replies in its
// interactive format.
func TestRedisCLIInteractive(t *testing.T) {
	cliBin := testutil.RequireTool(t, "redis-cli")
	script := testutil.RequireTool(t, "script")
	p := testutil.StartVigil(t, testutil.StartOptions{})
	cmd := exec.Command(script, "-qfec", fmt.Sprintf("%s -p %d", cliBin, p.Port), "/dev/null")
	cmd.Env = append(os.Environ(), "TERM=dumb", "HOME="+t.TempDir())
	cmd.Stdin = strings.NewReader("SET k v\nGET k\nHELP SET\nINCR n\nHSET\nPING\nEXIT\n")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("interactive redis-cli hung; output so far:\n%s", out)
	}
	s := string(out)
	if err != nil {
		t.Fatalf("redis-cli: %v\n%s", err, s)
	}
	// HELP SET is answered from COMMAND DOCS. (vigil doesn't carry Redis's
	// argument docs yet, so the synopsis line isn't checked.)
	for _, want := range []string{"OK", "\"v\"", "(integer) 1", "PONG", "Set the string value of a key", "group:", "string", "since:", "1.0.0"} {
		if !strings.Contains(s, want) {
			t.Errorf("interactive output lacks %q:\n%s", want, s)
		}
	}
	// The only error is the one we asked for (HSET without arguments).
	errs := regexp.MustCompile(`\(error\)[^\r\n]*`).FindAllString(s, -1)
	if len(errs) != 1 || !strings.Contains(errs[0], "wrong number of arguments for 'hset'") {
		t.Errorf("unexpected errors in the session: %q\n%s", errs, s)
	}
}

// --- redis-benchmark -------------------------------------------------------

// coreBenchTests maps redis-benchmark's default tests to the commands they need.
var coreBenchTests = []struct {
	name, test string
	needs      []string
}{
	{"PING_INLINE", "ping_inline", []string{"ping"}},
	{"PING_MBULK", "ping_mbulk", []string{"ping"}},
	{"SET", "set", []string{"set"}},
	{"GET", "get", []string{"get"}},
	{"INCR", "incr", []string{"incr"}},
	{"LPUSH", "lpush", []string{"lpush"}},
	{"RPUSH", "rpush", []string{"rpush"}},
	{"LPOP", "lpop", []string{"lpop"}},
	{"RPOP", "rpop", []string{"rpop"}},
	{"SADD", "sadd", []string{"sadd"}},
	{"HSET", "hset", []string{"hset"}},
	{"SPOP", "spop", []string{"spop"}},
	{"ZADD", "zadd", []string{"zadd"}},
	{"ZPOPMIN", "zpopmin", []string{"zpopmin"}},
	{"LPUSH (needed to benchmark LRANGE)", "lrange", []string{"lpush", "lrange"}},
	{"LRANGE_100 (first 100 elements)", "lrange", []string{"lrange"}},
	{"LRANGE_300 (first 300 elements)", "lrange", []string{"lrange"}},
	{"LRANGE_500 (first 500 elements)", "lrange", []string{"lrange"}},
	{"LRANGE_600 (first 600 elements)", "lrange", []string{"lrange"}},
	{"MSET (10 keys)", "mset", []string{"mset"}},
}

func TestRedisBenchmarkDefaultSuite(t *testing.T) {
	bin := testutil.RequireTool(t, "redis-benchmark")
	p := testutil.StartVigil(t, testutil.StartOptions{})
	c := testutil.MustDial(t, p.Addr)
	have := func(name string) bool {
		v := c.MustDo(t, "COMMAND", "INFO", name)
		return len(v.Elems) == 1 && !v.Elems[0].Null
	}
	var tests, skipped []string
	expect := map[string]bool{}
	for _, bt := range coreBenchTests {
		ok := true
		for _, n := range bt.needs {
			if !have(n) {
				ok = false
			}
		}
		if !ok {
			skipped = append(skipped, bt.name)
			continue
		}
		expect[bt.name] = true
		if len(tests) == 0 || tests[len(tests)-1] != bt.test {
			tests = append(tests, bt.test)
		}
	}
	if len(skipped) > 0 {
		t.Logf("skipping benchmark tests whose commands vigil lacks (other families): %v", skipped)
	}
	args := []string{"-p", strconv.Itoa(p.Port), "-n", "2000", "-q"}
	if len(skipped) > 0 {
		args = append(args, "-t", strings.Join(tests, ","))
	}
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	s := string(out)
	if err != nil {
		t.Fatalf("redis-benchmark: %v\n%s", err, s)
	}
	if strings.Contains(s, "ERR") || strings.Contains(s, "rror") {
		t.Errorf("redis-benchmark reported errors:\n%s", s)
	}
	got := map[string]bool{}
	// -q prints "\r"-separated progress, then "NAME: N requests per second, p50=..."
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r", "\n"), "\n") {
		if i := strings.Index(line, ": "); i > 0 && strings.Contains(line, "requests per second") {
			got[strings.TrimSpace(line[:i])] = true
		}
	}
	for name := range expect {
		if !got[name] {
			t.Errorf("test %q reported no requests per second; output:\n%s", name, s)
		}
	}
}

// --- the server binary ------------------------------------------------------

func coreSeedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testutil.ModuleRoot(), "..", "shared", "seed")
	if _, err := os.Stat(filepath.Join(dir, "redis-master.conf")); err != nil {
		t.Skipf("tutorial seed configs not found at %s (expected ../shared/seed relative to the repository root)", dir)
	}
	return dir
}

// runServer starts the vigil binary with args (no testutil defaults) and
// returns its process; cleanup kills it by PID.
func coreRunServer(t *testing.T, argv0 string, args ...string) (*exec.Cmd, *bytes.Buffer, chan error) {
	t.Helper()
	cmd := exec.Command(testutil.VigilBin(t), append([]string{"server"}, args...)...)
	if argv0 != "" {
		cmd = exec.Command(testutil.VigilBin(t), args...)
		cmd.Args[0] = argv0
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	return cmd, &out, done
}

func coreWaitPing(t *testing.T, port int, done chan error, out *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("server exited (%v):\n%s", err, out)
		default:
		}
		if c, err := testutil.Dial(fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			v, err := c.Do("PING")
			c.Close()
			if err == nil && v.Type == '+' {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server on port %d never answered PING:\n%s", port, out)
}

func coreWaitExit(t *testing.T, done chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		done <- err
		return err
	case <-time.After(d):
		t.Fatalf("server did not exit within %v", d)
		return nil
	}
}

func TestTutorialConfigsLoad(t *testing.T) {
	seed := coreSeedDir(t)
	for _, tc := range []struct {
		file  string
		extra []string
	}{
		{"redis-master.conf", nil},
		{"redis-replica-1.conf", []string{"--replicaof", "no", "one"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			port := testutil.FreePort(t)
			args := append([]string{filepath.Join(seed, tc.file), "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
				"--daemonize", "no", "--dir", dir, "--logfile", "", "--pidfile", filepath.Join(dir, "pid")}, tc.extra...)
			cmd, out, done := coreRunServer(t, "", args...)
			coreWaitPing(t, port, done, out)
			c := testutil.MustDial(t, fmt.Sprintf("127.0.0.1:%d", port))
			if v := c.MustDo(t, "SET", "k", "v"); v.Type != '+' {
				t.Errorf("SET on %s: %s", tc.file, v.String())
			}
			if v := c.MustDo(t, "ROLE"); len(v.Elems) == 0 || string(v.Elems[0].Str) != "master" {
				t.Errorf("ROLE = %s", v.String())
			}
			if v := c.MustDo(t, "CONFIG", "GET", "port"); len(v.Elems) != 2 || string(v.Elems[1].Str) != strconv.Itoa(port) {
				t.Errorf("CONFIG GET port = %s", v.String())
			}
			cmd.Process.Signal(syscall.SIGTERM)
			coreWaitExit(t, done, 10*time.Second)
		})
	}
}

func TestDebianConfigLoads(t *testing.T) {
	const conf = "/etc/redis/redis.conf"
	if _, err := os.Stat(conf); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing under CI=true", conf)
		}
		t.Skipf("%s not present (install redis-server)", conf)
	}
	dir := t.TempDir()
	port := testutil.FreePort(t)
	cmd, out, done := coreRunServer(t, "", conf, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--daemonize", "no", "--supervised", "no", "--dir", dir, "--logfile", "", "--pidfile", filepath.Join(dir, "pid"))
	coreWaitPing(t, port, done, out)
	cmd.Process.Signal(syscall.SIGTERM)
	coreWaitExit(t, done, 10*time.Second)
}

func TestBadConfigLine(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "bad.conf")
	os.WriteFile(conf, []byte("port 7000\n# comment\nnot-a-directive yes\n"), 0o644)
	_, out, done := coreRunServer(t, "", conf)
	err := coreWaitExit(t, done, 10*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit = %v, want status 1", err)
	}
	s := out.String()
	for _, want := range []string{"FATAL CONFIG FILE ERROR", "line 3", "not-a-directive", conf} {
		if !strings.Contains(s, want) {
			t.Errorf("error output lacks %q:\n%s", want, s)
		}
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	_, out, done := coreRunServer(t, "", "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir, "--save", "")
	err = coreWaitExit(t, done, 10*time.Second)
	if err == nil {
		t.Errorf("server exited 0 with its port taken")
	}
	if !strings.Contains(out.String(), "Failed listening on port "+strconv.Itoa(port)) {
		t.Errorf("log lacks 'Failed listening on port':\n%s", out)
	}
}

func TestSIGTERMAndPidfile(t *testing.T) {
	dir := t.TempDir()
	port := testutil.FreePort(t)
	pidfile := filepath.Join(dir, "vigil.pid")
	cmd, out, done := coreRunServer(t, "", "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--pidfile", pidfile, "--save", "", "--daemonize", "no")
	coreWaitPing(t, port, done, out)
	b, err := os.ReadFile(pidfile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("pidfile = %q, %v; want %d", b, err, cmd.Process.Pid)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := coreWaitExit(t, done, 10*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if !strings.Contains(out.String(), "ready to exit") {
		t.Errorf("log lacks 'ready to exit':\n%s", out)
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile still present after shutdown (%v)", err)
	}
}

func TestVersionHelpAndArgv0(t *testing.T) {
	bin := testutil.VigilBin(t)
	out, err := exec.Command(bin, "server", "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "Redis server v=7.0") {
		t.Errorf("server --version: %q %v", out, err)
	}
	out, err = exec.Command(bin, "server", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Usage") {
		t.Errorf("server --help: %q %v", out, err)
	}
	// Installed as redis-server (a symlink or copy), vigil acts as one.
	cmd := exec.Command(bin, "--version")
	cmd.Args[0] = "redis-server"
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "Redis server v=7.0") {
		t.Errorf("argv0 redis-server --version: %q %v", out, err)
	}
	// Run as redis-server with redis-server's command line (no "server"
	// subcommand).
	dir := t.TempDir()
	port := testutil.FreePort(t)
	rs, rout, done := coreRunServer(t, "redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir, "--save", "")
	coreWaitPing(t, port, done, rout)
	rs.Process.Signal(syscall.SIGTERM)
	if err := coreWaitExit(t, done, 10*time.Second); err != nil {
		t.Errorf("redis-server exit: %v\n%s", err, rout)
	}
}

func TestDaemonize(t *testing.T) {
	dir := t.TempDir()
	port := testutil.FreePort(t)
	pidfile := filepath.Join(dir, "d.pid")
	logfile := filepath.Join(dir, "d.log")
	cmd := exec.Command(testutil.VigilBin(t), "server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--daemonize", "yes", "--dir", dir, "--pidfile", pidfile, "--logfile", logfile, "--save", "")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("daemonize yes: %v\n%s", err, out)
	}
	var pid int
	testutil.Eventually(t, 10*time.Second, "pidfile of the daemon", func() bool {
		b, err := os.ReadFile(pidfile)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	if pid == cmd.Process.Pid {
		t.Errorf("daemon pid %d is the launcher's: it did not detach", pid)
	}
	testutil.Eventually(t, 10*time.Second, "daemon answering PING", func() bool {
		c, err := testutil.Dial(fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		defer c.Close()
		v, err := c.Do("PING")
		return err == nil && v.Type == '+'
	})
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "daemon exit", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("daemon left its pidfile behind")
	}
}
