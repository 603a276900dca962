package e2e

// Persistence end to end (issue "Persistence"): RDB and AOF interop with
// Debian's redis-server 7.0 in both directions, redis-check-rdb/aof,
// crash safety under appendfsync always/everysec, corrupt and truncated
// files, BGSAVE point-in-time consistency under writes, save points,
// SHUTDOWN, INFO persistence and DEBUG RELOAD.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/rdb"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/testutil"
)

// persNode is a started server plus a client.
type persNode struct {
	t    *testing.T
	kind string
	p    *testutil.Proc
	c    *testutil.Client
}

func persStart(t *testing.T, kind, dir string, args ...string) *persNode {
	t.Helper()
	o := testutil.StartOptions{Dir: dir, Args: args}
	var p *testutil.Proc
	if kind == "redis" {
		p = testutil.StartRedis(t, o)
	} else {
		p = testutil.StartVigil(t, o)
	}
	return &persNode{t: t, kind: kind, p: p, c: testutil.MustDial(t, p.Addr)}
}

func (n *persNode) do(args ...string) resp.Value {
	n.t.Helper()
	v, err := n.c.Do(args...)
	if err != nil {
		n.t.Fatalf("%s %v: %v\nlog:\n%s", n.kind, args, err, persTail(n.p.ReadLog()))
	}
	return v
}

func (n *persNode) ok(args ...string) resp.Value {
	n.t.Helper()
	v := n.do(args...)
	if v.Type == '-' {
		n.t.Fatalf("%s %v: %s", n.kind, args, v.Str)
	}
	return v
}

func (n *persNode) info(field string) string {
	n.t.Helper()
	v := n.ok("INFO", "persistence")
	for _, line := range strings.Split(string(v.Str), "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok && k == field {
			return val
		}
	}
	n.t.Fatalf("%s: INFO persistence has no %s", n.kind, field)
	return ""
}

func (n *persNode) infoInt(field string) int64 {
	x, _ := strconv.ParseInt(n.info(field), 10, 64)
	return x
}

// pipeline sends every command, then reads every reply, failing on errors.
func (n *persNode) pipeline(cmds [][]string) {
	n.t.Helper()
	var buf []byte
	for _, c := range cmds {
		buf = resp.AppendCommand(buf, c...)
	}
	if _, err := n.c.Conn.Write(buf); err != nil {
		n.t.Fatal(err)
	}
	for _, c := range cmds {
		v, err := n.c.Read()
		if err != nil {
			n.t.Fatalf("%s %v: %v", n.kind, c, err)
		}
		if v.Type == '-' {
			n.t.Fatalf("%s %v: %s", n.kind, c, v.Str)
		}
	}
}

// stop shuts the server down cleanly without saving an RDB.
func (n *persNode) stop() {
	n.t.Helper()
	n.c.Send("SHUTDOWN", "NOSAVE")
	if !n.p.Wait(10 * time.Second) {
		n.t.Fatalf("%s did not exit after SHUTDOWN NOSAVE", n.kind)
	}
}

func persTail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

// persKey is one key of a full dump.
type persKey struct {
	typ string
	ttl int64 // seconds, -1 none
	val string
}

func persElems(v resp.Value) []string {
	out := make([]string, len(v.Elems))
	for i, e := range v.Elems {
		out[i] = string(e.Str)
	}
	return out
}

// persFullDump reads everything: per DB, SCAN all keys, TYPE, TTL and the
// value through type-specific commands (sorted where order is undefined).
func persFullDump(t *testing.T, n *persNode) map[string]persKey {
	t.Helper()
	out := map[string]persKey{}
	for db := 0; db < 16; db++ {
		n.ok("SELECT", strconv.Itoa(db))
		cursor := "0"
		for {
			v := n.ok("SCAN", cursor, "COUNT", "1000")
			cursor = string(v.Elems[0].Str)
			for _, k := range persElems(v.Elems[1]) {
				typ := string(n.ok("TYPE", k).Str)
				ttl := n.ok("TTL", k).Int
				var val string
				switch typ {
				case "string":
					val = strconv.Quote(string(n.ok("GET", k).Str))
				case "list":
					val = fmt.Sprintf("%q", persElems(n.ok("LRANGE", k, "0", "-1")))
				case "set":
					m := persElems(n.ok("SMEMBERS", k))
					sort.Strings(m)
					val = fmt.Sprintf("%q", m)
				case "zset":
					val = fmt.Sprintf("%q", persElems(n.ok("ZRANGE", k, "0", "-1", "WITHSCORES")))
				case "hash":
					m := persElems(n.ok("HGETALL", k))
					var pairs []string
					for i := 0; i+1 < len(m); i += 2 {
						pairs = append(pairs, strconv.Quote(m[i])+"="+strconv.Quote(m[i+1]))
					}
					sort.Strings(pairs)
					val = strings.Join(pairs, ",")
				default:
					t.Fatalf("%s: key %q has unexpected type %s", n.kind, k, typ)
				}
				out[fmt.Sprintf("%d/%s", db, k)] = persKey{typ: typ, ttl: ttl, val: val}
			}
			if cursor == "0" {
				break
			}
		}
	}
	n.ok("SELECT", "0")
	return out
}

// persSame compares two dumps (TTLs within 3 s).
func persSame(t *testing.T, what string, a, b map[string]persKey) {
	t.Helper()
	bad := 0
	for k, va := range a {
		vb, ok := b[k]
		switch {
		case !ok:
			t.Errorf("%s: key %s missing", what, k)
		case va.typ != vb.typ || va.val != vb.val:
			t.Errorf("%s: key %s differs:\n  %s %.300s\n  %s %.300s", what, k, va.typ, va.val, vb.typ, vb.val)
		case (va.ttl < 0) != (vb.ttl < 0) || va.ttl-vb.ttl > 3 || vb.ttl-va.ttl > 3:
			t.Errorf("%s: key %s TTL %d vs %d", what, k, va.ttl, vb.ttl)
		default:
			continue
		}
		if bad++; bad > 10 {
			t.Fatalf("%s: too many differences", what)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: unexpected key %s", what, k)
			if bad++; bad > 10 {
				t.Fatalf("%s: too many differences", what)
			}
		}
	}
}

// persDataset writes every type and encoding into n: strings (int, short,
// long, binary), small and large hashes, intset and hashtable sets, listpack
// and skiplist zsets (inf scores), small and > 8 KB lists, expiries and
// several databases.
func persDataset(t *testing.T, n *persNode) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	var cmds [][]string
	add := func(a ...string) { cmds = append(cmds, a) }
	add("SELECT", "0")
	add("SET", "str:int", "12345")
	add("SET", "str:negint", "-987654321")
	add("SET", "str:bigint", "12345678901234")
	add("SET", "str:float", "3.14159")
	add("SET", "str:short", "hello world")
	add("SET", "str:empty", "")
	add("SET", "str:long", strings.Repeat("abcdefghij", 1000))
	rb := make([]byte, 3000)
	for i := range rb {
		rb[i] = byte(rnd.IntN(256))
	}
	add("SET", "str:binary", string(rb))
	add("SET", "str:nul", "a\x00b\r\n\xff")
	add("SET", "str:ttl", "expiring", "EX", "5000")
	add("SET", "str:pttl", "expiring", "PX", "90000000")
	add("HSET", "hash:small", "f1", "v1", "f2", "22", "f3", "")
	big := []string{"HSET", "hash:large"}
	for i := 0; i < 700; i++ {
		big = append(big, fmt.Sprintf("field:%d", i), fmt.Sprintf("value:%d", i*7))
	}
	cmds = append(cmds, big)
	add("HSET", "hash:longval", "f", strings.Repeat("z", 100))
	add("EXPIRE", "hash:small", "7000")
	add("SADD", "set:intset", "1", "-5", "100000", "7", "9223372036854775807", "-9223372036854775808")
	bigInts := []string{"SADD", "set:bigintset"}
	for i := 0; i < 600; i++ {
		bigInts = append(bigInts, strconv.Itoa(i*3))
	}
	cmds = append(cmds, bigInts)
	add("SADD", "set:strings", "apple", "banana", "cherry", "1")
	add("ZADD", "zset:small", "1", "a", "2.5", "b", "-inf", "minf", "+inf", "pinf", "0", "zero", "-3.75", "neg")
	bz := []string{"ZADD", "zset:large"}
	for i := 0; i < 300; i++ {
		bz = append(bz, strconv.FormatFloat(float64(i)*1.5-100, 'g', -1, 64), fmt.Sprintf("member:%d", i))
	}
	bz = append(bz, "inf", "top", "-inf", "bottom", "0.1", "tenth")
	cmds = append(cmds, bz)
	add("ZADD", "zset:longmember", "1", strings.Repeat("m", 80))
	add("RPUSH", "list:small", "a", "b", "c", "1", "2", "-3")
	bl := []string{"RPUSH", "list:large"}
	for i := 0; i < 600; i++ {
		bl = append(bl, fmt.Sprintf("element-%04d-%s", i, strings.Repeat("x", 30)))
	}
	cmds = append(cmds, bl)
	add("RPUSH", "list:bigelem", strings.Repeat("q", 9000), "small")
	add("PEXPIRE", "list:small", "123456789")
	add("SELECT", "1")
	add("SET", "db1:key", "one")
	add("SADD", "db1:set", "x", "y")
	add("SET", "db1:ttl", "t", "EX", "10000")
	add("SELECT", "9")
	add("HSET", "db9:hash", "a", "1")
	add("SELECT", "15")
	add("RPUSH", "db15:list", "z")
	add("SELECT", "0")
	n.pipeline(cmds)
}

func persRequireRedis(t *testing.T) {
	testutil.RequireTool(t, "redis-server")
}

func TestPersistRDBVigilToRedis(t *testing.T) {
	persRequireRedis(t)
	checker := testutil.RequireTool(t, "redis-check-rdb")
	dir := t.TempDir()
	v := persStart(t, "vigil", dir)
	persDataset(t, v)
	want := persFullDump(t, v)
	if len(want) < 25 {
		t.Fatalf("dataset too small: %d keys", len(want))
	}
	v.ok("SAVE")
	v.stop()
	out, err := exec.Command(checker, filepath.Join(dir, "dump.rdb")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RDB looks OK") {
		t.Errorf("redis-check-rdb on vigil's dump.rdb: %v\n%s", err, out)
	}
	r := persStart(t, "redis", dir)
	persSame(t, "vigil RDB loaded by redis", want, persFullDump(t, r))
}

func TestPersistRDBRedisToVigil(t *testing.T) {
	persRequireRedis(t)
	dir := t.TempDir()
	r := persStart(t, "redis", dir)
	persDataset(t, r)
	want := persFullDump(t, r)
	r.ok("SAVE")
	r.stop()
	v := persStart(t, "vigil", dir)
	persSame(t, "redis RDB loaded by vigil", want, persFullDump(t, v))
	if got := v.infoInt("rdb_last_load_keys_loaded"); got != int64(len(want)) {
		t.Errorf("rdb_last_load_keys_loaded = %d, want %d", got, len(want))
	}
}

// persAOFWrites writes a mix of commands an AOF must replay exactly.
func persAOFWrites(t *testing.T, n *persNode) {
	t.Helper()
	persDataset(t, n)
	n.pipeline([][]string{
		{"INCR", "counter"}, {"INCRBY", "counter", "41"}, {"APPEND", "str:short", "!"},
		{"LPUSH", "list:small", "head"}, {"LPOP", "list:large"}, {"HDEL", "hash:large", "field:3"},
		{"SREM", "set:intset", "7"}, {"ZINCRBY", "zset:small", "10", "a"}, {"DEL", "str:empty"},
		{"RENAME", "str:float", "str:renamed"}, {"EXPIRE", "str:int", "8000"}, {"PERSIST", "str:pttl"},
		{"MULTI"}, {"SET", "tx:a", "1"}, {"INCR", "tx:a"}, {"EXEC"},
		{"SELECT", "3"}, {"SET", "db3:k", "v"}, {"SELECT", "0"},
	})
}

func TestPersistAOFVigilToRedis(t *testing.T) {
	persRequireRedis(t)
	checker := testutil.RequireTool(t, "redis-check-aof")
	dir := t.TempDir()
	v := persStart(t, "vigil", dir, "--appendonly", "yes")
	persAOFWrites(t, v)
	want := persFullDump(t, v)
	v.stop()
	manifest := filepath.Join(dir, "appendonlydir", "appendonly.aof.manifest")
	out, err := exec.Command(checker, manifest).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is valid") {
		t.Errorf("redis-check-aof on vigil's manifest: %v\n%s", err, out)
	}
	r := persStart(t, "redis", dir, "--appendonly", "yes")
	persSame(t, "vigil AOF loaded by redis", want, persFullDump(t, r))
}

func TestPersistAOFRedisToVigil(t *testing.T) {
	persRequireRedis(t)
	dir := t.TempDir()
	r := persStart(t, "redis", dir, "--appendonly", "yes")
	persAOFWrites(t, r)
	want := persFullDump(t, r)
	r.stop()
	v := persStart(t, "vigil", dir, "--appendonly", "yes")
	persSame(t, "redis AOF loaded by vigil", want, persFullDump(t, v))
	// And vigil keeps appending to redis's directory.
	v.ok("SET", "after", "restart")
	want = persFullDump(t, v)
	v.stop()
	v2 := persStart(t, "vigil", dir, "--appendonly", "yes")
	persSame(t, "vigil appended to redis's AOF", want, persFullDump(t, v2))
}

func TestPersistAOFRewriteUnderWrites(t *testing.T) {
	dir := t.TempDir()
	v := persStart(t, "vigil", dir, "--appendonly", "yes")
	persDataset(t, v)
	w := testutil.MustDial(t, v.p.Addr)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	var written atomic.Int64
	go func() {
		defer wg.Done()
		for i := 1; !stop.Load(); i++ {
			if _, err := w.Do("SET", fmt.Sprintf("w:%d", i), strconv.Itoa(i)); err != nil {
				return
			}
			if _, err := w.Do("RPUSH", "w:list", strconv.Itoa(i)); err != nil {
				return
			}
			written.Store(int64(i))
		}
	}()
	testutil.Eventually(t, 5*time.Second, "writes before the rewrite", func() bool { return written.Load() > 200 })
	r := v.ok("BGREWRITEAOF")
	if !strings.Contains(string(r.Str), "rewriting") {
		t.Fatalf("BGREWRITEAOF: %s", r.Str)
	}
	testutil.Eventually(t, 10*time.Second, "the rewrite to finish", func() bool {
		return v.info("aof_rewrite_in_progress") == "0" && v.infoInt("aof_rewrites") >= 1
	})
	at := written.Load()
	testutil.Eventually(t, 5*time.Second, "writes after the rewrite", func() bool { return written.Load() > at+200 })
	stop.Store(true)
	wg.Wait()
	if v.info("aof_last_bgrewrite_status") != "ok" {
		t.Errorf("aof_last_bgrewrite_status = %s", v.info("aof_last_bgrewrite_status"))
	}
	want := persFullDump(t, v)
	// Only the new base and incr remain.
	ents, _ := os.ReadDir(filepath.Join(dir, "appendonlydir"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 3 {
		t.Errorf("appendonlydir after rewrite: %v (want manifest + base + incr)", names)
	}
	v.p.Kill() // no clean shutdown: the files must be enough
	v2 := persStart(t, "vigil", dir, "--appendonly", "yes")
	persSame(t, "AOF after BGREWRITEAOF", want, persFullDump(t, v2))
	if redisOK(t) {
		v2.stop()
		r := persStart(t, "redis", dir, "--appendonly", "yes")
		persSame(t, "rewritten AOF loaded by redis", want, persFullDump(t, r))
	}
}

func redisOK(t *testing.T) bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// persLastIncr returns the path of the newest incremental AOF file.
func persLastIncr(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "appendonlydir", "appendonly.aof.manifest"))
	if err != nil {
		t.Fatal(err)
	}
	last := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[5] == "i" {
			last = f[1]
		}
	}
	if last == "" {
		t.Fatalf("no incr file in manifest:\n%s", data)
	}
	return filepath.Join(dir, "appendonlydir", last)
}

// persRunFail runs vigil expecting it to refuse to start; it returns the log.
func persRunFail(t *testing.T, dir string, args ...string) string {
	t.Helper()
	port := testutil.FreePort(t)
	all := append([]string{"server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--daemonize", "no", "--logfile", "", "--save", ""}, args...)
	cmd := exec.Command(testutil.VigilBin(t), all...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	served := false
	deadline := time.After(15 * time.Second)
	for {
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("vigil exited 0; want a non-zero exit\n%s", out.String())
			}
			if served {
				t.Errorf("vigil answered PING before refusing to start")
			}
			return out.String()
		case <-deadline:
			cmd.Process.Kill()
			<-done
			t.Fatalf("vigil did not exit (it should refuse to start)\n%s", persTail(out.String()))
		case <-time.After(20 * time.Millisecond):
			if c, err := testutil.Dial(fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Conn.SetDeadline(time.Now().Add(50 * time.Millisecond))
				if v, err := c.Do("PING"); err == nil && v.Type == '+' {
					served = true
				}
				c.Close()
			}
		}
	}
}

func TestPersistAOFTruncated(t *testing.T) {
	dir := t.TempDir()
	v := persStart(t, "vigil", dir, "--appendonly", "yes", "--appendfsync", "always")
	var cmds [][]string
	for i := 1; i <= 100; i++ {
		cmds = append(cmds, []string{"SET", fmt.Sprintf("k:%d", i), strings.Repeat("v", 20)})
	}
	v.pipeline(cmds)
	v.p.Kill()
	incr := persLastIncr(t, dir)
	st, err := os.Stat(incr)
	if err != nil {
		t.Fatal(err)
	}
	cut := st.Size() - 10 // inside the last SET's value
	if err := os.Truncate(incr, cut); err != nil {
		t.Fatal(err)
	}
	backup, _ := os.ReadFile(incr)

	// aof-load-truncated no: refuse to start, naming file and offset.
	log := persRunFail(t, dir, "--appendonly", "yes", "--aof-load-truncated", "no")
	if !strings.Contains(log, filepath.Base(incr)) || !strings.Contains(log, "offset") {
		t.Errorf("the refusal must name the file and offset:\n%s", persTail(log))
	}
	if now, _ := os.ReadFile(incr); !bytes.Equal(now, backup) {
		t.Errorf("aof-load-truncated no modified the file")
	}

	// aof-load-truncated yes (default): start, log, keep complete commands.
	v2 := persStart(t, "vigil", dir, "--appendonly", "yes")
	log = v2.p.ReadLog()
	if !strings.Contains(log, "Truncating") || !strings.Contains(log, "bytes") || !strings.Contains(log, filepath.Base(incr)) {
		t.Errorf("log doesn't report the truncation:\n%s", persTail(log))
	}
	if n := v2.ok("DBSIZE").Int; n != 99 {
		t.Errorf("DBSIZE after truncated load = %d, want 99", n)
	}
	if v2.ok("EXISTS", "k:99").Int != 1 || v2.ok("EXISTS", "k:100").Int != 0 {
		t.Errorf("k:99 must be kept and k:100 dropped")
	}
	// The AOF stays usable: new writes survive a restart.
	v2.ok("SET", "after", "1")
	v2.p.Kill()
	v3 := persStart(t, "vigil", dir, "--appendonly", "yes")
	if v3.ok("DBSIZE").Int != 100 {
		t.Errorf("after truncation + write + restart DBSIZE = %d, want 100", v3.ok("DBSIZE").Int)
	}
}

// persCrash runs a writer under policy, SIGKILLs the server mid-load and
// returns how many acknowledged writes were lost after restart.
func persCrash(t *testing.T, policy string) (acked, lost int) {
	dir := t.TempDir()
	v := persStart(t, "vigil", dir, "--appendonly", "yes", "--appendfsync", policy)
	w := testutil.MustDial(t, v.p.Addr)
	var ack atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := int64(1); ; i++ {
			buf := resp.AppendCommand(nil, "INCR", "counter")
			buf = resp.AppendCommand(buf, "SET", "n:"+strconv.FormatInt(i, 10), strconv.FormatInt(i, 10))
			if _, err := w.Conn.Write(buf); err != nil {
				return
			}
			a, err1 := w.Read()
			b, err2 := w.Read()
			if err1 != nil || err2 != nil || a.Type != ':' || b.Type != '+' {
				return
			}
			ack.Store(i)
		}
	}()
	deadline := time.Now().Add(4 * time.Second)
	for ack.Load() < 2000 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	v.p.Kill()
	<-done
	acked = int(ack.Load())
	if acked < 50 {
		t.Fatalf("%s: only %d writes acknowledged before the kill", policy, acked)
	}
	v2 := persStart(t, "vigil", dir, "--appendonly", "yes")
	counter, _ := strconv.Atoi(string(v2.ok("GET", "counter").Str))
	var cmds []string
	for i := 1; i <= acked; i++ {
		cmds = append(cmds, "n:"+strconv.Itoa(i))
	}
	missing := 0
	for i := 0; i < len(cmds); i += 500 {
		end := min(i+500, len(cmds))
		r := v2.ok(append([]string{"MGET"}, cmds[i:end]...)...)
		for j, e := range r.Elems {
			if e.Null || string(e.Str) != strconv.Itoa(i+j+1) {
				missing++
			}
		}
	}
	if counter < acked-missing {
		t.Errorf("%s: counter %d < acknowledged %d", policy, counter, acked)
	}
	if counter > acked+1 {
		t.Errorf("%s: counter %d > acknowledged+1 (%d): phantom writes", policy, counter, acked+1)
	}
	return acked, missing
}

func TestPersistCrashAlways(t *testing.T) {
	acked, lost := persCrash(t, "always")
	if lost != 0 {
		t.Errorf("appendfsync always: %d of %d acknowledged writes lost", lost, acked)
	}
	t.Logf("appendfsync always: %d acknowledged writes, %d lost after SIGKILL", acked, lost)
}

func TestPersistCrashEverysec(t *testing.T) {
	acked, lost := persCrash(t, "everysec")
	// SIGKILL (not a power loss) keeps what reached the page cache; vigil
	// writes the AOF before replying, so the expected loss here is 0. A
	// power loss could lose up to ~1 s (the fsync interval).
	t.Logf("appendfsync everysec: %d acknowledged writes, %d lost after SIGKILL (loss window)", acked, lost)
	if lost != 0 {
		t.Errorf("appendfsync everysec: %d acknowledged writes lost on SIGKILL (write() happens before the reply, so none should be)", lost)
	}
}

func TestPersistCorruptRDB(t *testing.T) {
	dir := t.TempDir()
	v := persStart(t, "vigil", dir)
	persDataset(t, v)
	v.ok("SAVE")
	v.stop()
	good, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data func() []byte
	}{
		{"truncated in the middle", func() []byte { return good[:len(good)/2] }},
		{"truncated before the checksum", func() []byte { return good[:len(good)-4] }},
		{"byte flipped in a value", func() []byte {
			b := bytes.Clone(good)
			i := bytes.Index(b, []byte("hello world"))
			b[i+3] ^= 0x20
			return b
		}},
		{"bad type byte", func() []byte {
			b := bytes.Clone(good)
			i := bytes.Index(b, []byte("str:short"))
			b[i-2] = 0x63 // the type byte before <len><key>
			return b
		}},
		{"bad header", func() []byte { b := bytes.Clone(good); b[2] = 'X'; return b }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, "dump.rdb"), c.data(), 0o644); err != nil {
				t.Fatal(err)
			}
			log := persRunFail(t, d)
			if !strings.Contains(log, "dump.rdb") || !strings.Contains(log, "offset") {
				t.Errorf("log must name the file and the offset:\n%s", persTail(log))
			}
		})
	}
}

func TestPersistBGSAVEPointInTime(t *testing.T) {
	dir := t.TempDir()
	v := persStart(t, "vigil", dir)
	v.ok("DEBUG", "POPULATE", "200000", "key", "16")
	// Keys the writer modifies during the save; the RDB must keep these
	// pre-save values.
	var pre [][]string
	for i := 0; i < 200; i++ {
		k := strconv.Itoa(i)
		pre = append(pre, []string{"SET", "mod:s:" + k, "before"},
			[]string{"RPUSH", "mod:l:" + k, "before"},
			[]string{"HSET", "mod:h:" + k, "f", "before"},
			[]string{"SADD", "mod:set:" + k, "before"},
			[]string{"ZADD", "mod:z:" + k, "1", "before"},
			[]string{"SET", "mod:del:" + k, "before"},
			[]string{"SET", "mod:n:" + k, "10"})
	}
	v.pipeline(pre)

	w := testutil.MustDial(t, v.p.Addr)
	var markers atomic.Int64
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := int64(1); !stop.Load(); i++ {
			k := strconv.FormatInt(i%200, 10)
			buf := resp.AppendCommand(nil, "SET", "marker:"+strconv.FormatInt(i, 10), "1")
			buf = resp.AppendCommand(buf, "APPEND", "mod:s:"+k, "-after")
			buf = resp.AppendCommand(buf, "RPUSH", "mod:l:"+k, "after")
			buf = resp.AppendCommand(buf, "HSET", "mod:h:"+k, "f", "after")
			buf = resp.AppendCommand(buf, "SADD", "mod:set:"+k, "after")
			buf = resp.AppendCommand(buf, "ZINCRBY", "mod:z:"+k, "5", "before")
			buf = resp.AppendCommand(buf, "DEL", "mod:del:"+k)
			buf = resp.AppendCommand(buf, "INCR", "mod:n:"+k)
			if _, err := w.Conn.Write(buf); err != nil {
				return
			}
			for j := 0; j < 8; j++ {
				if r, err := w.Read(); err != nil || r.Type == '-' {
					t.Errorf("writer: %v %s", err, r.Str)
					return
				}
			}
			markers.Store(i)
		}
	}()
	testutil.Eventually(t, 5*time.Second, "markers before BGSAVE", func() bool { return markers.Load() > 50 })
	// Snapshot the modified keys' values right before the save starts is
	// impossible from outside atomically, so BGSAVE runs inside MULTI with
	// reads of the values: they execute at the same instant as the capture.
	var cmds [][]byte
	cmds = append(cmds, resp.AppendCommand(nil, "MULTI"))
	cmds = append(cmds, resp.AppendCommand(nil, "BGSAVE"))
	for i := 0; i < 200; i++ {
		k := strconv.Itoa(i)
		cmds = append(cmds, resp.AppendCommand(nil, "GET", "mod:s:"+k))
		cmds = append(cmds, resp.AppendCommand(nil, "LLEN", "mod:l:"+k))
		cmds = append(cmds, resp.AppendCommand(nil, "GET", "mod:n:"+k))
	}
	cmds = append(cmds, resp.AppendCommand(nil, "DBSIZE"))
	cmds = append(cmds, resp.AppendCommand(nil, "EXEC"))
	var buf []byte
	for _, c := range cmds {
		buf = append(buf, c...)
	}
	if _, err := v.c.Conn.Write(buf); err != nil {
		t.Fatal(err)
	}
	var exec resp.Value
	for range cmds {
		r, err := v.c.Read()
		if err != nil {
			t.Fatal(err)
		}
		exec = r
	}
	if len(exec.Elems) != 2+3*200 {
		t.Fatalf("EXEC: %v", exec)
	}
	if s := string(exec.Elems[0].Str); s != "Background saving started" {
		t.Fatalf("BGSAVE in MULTI: %s", s)
	}
	expect := map[string]string{}
	for i := 0; i < 200; i++ {
		k := strconv.Itoa(i)
		expect["mod:s:"+k] = string(exec.Elems[1+3*i].Str)
		expect["mod:l:"+k] = strconv.FormatInt(exec.Elems[2+3*i].Int, 10)
		expect["mod:n:"+k] = string(exec.Elems[3+3*i].Str)
	}
	dbsize := exec.Elems[len(exec.Elems)-1].Int
	sawInProgress := v.info("rdb_bgsave_in_progress") == "1"
	testutil.Eventually(t, 30*time.Second, "BGSAVE to finish", func() bool { return v.info("rdb_bgsave_in_progress") == "0" })
	stop.Store(true)
	<-done
	if v.info("rdb_last_bgsave_status") != "ok" {
		t.Fatalf("rdb_last_bgsave_status = %s", v.info("rdb_last_bgsave_status"))
	}
	written := markers.Load()
	t.Logf("markers written: %d; bgsave observed in progress: %v", written, sawInProgress)

	// Read the file with the codec directly.
	f, err := os.Open(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &persRDBCollector{vals: map[string]*rdb.Value{}, markers: map[int64]bool{}}
	if _, err := rdb.Load(f, h); err != nil {
		t.Fatal(err)
	}
	if int64(h.keys) != dbsize {
		t.Errorf("RDB holds %d keys, DBSIZE at the BGSAVE was %d", h.keys, dbsize)
	}
	k := int64(len(h.markers))
	for i := int64(1); i <= k; i++ {
		if !h.markers[i] {
			t.Fatalf("markers in the RDB are not a prefix: %d present but marker:%d missing", k, i)
		}
	}
	if k == 0 || k >= written {
		t.Errorf("RDB holds %d markers of %d written: the save didn't overlap the writes", k, written)
	}
	t.Logf("RDB holds markers 1..%d (prefix, no gap)", k)
	bad := 0
	for key, want := range expect {
		v := h.vals[key]
		var got string
		switch {
		case v == nil:
			got = "<missing>"
		case v.Type == rdb.TypeString:
			got = string(v.Str)
		case v.Type == rdb.TypeList:
			got = strconv.Itoa(len(v.List))
		}
		if got != want {
			if bad++; bad < 10 {
				t.Errorf("%s in the RDB = %q, want the value at BGSAVE time %q", key, got, want)
			}
		}
	}
	for i := 0; i < 200; i++ {
		k := strconv.Itoa(i)
		// These were written before the writer started and only changed
		// by it (after at most the markers in the file).
		for _, key := range []string{"mod:h:" + k, "mod:set:" + k, "mod:z:" + k} {
			if h.vals[key] == nil {
				t.Errorf("%s missing from the RDB", key)
			}
		}
	}
}

type persRDBCollector struct {
	vals    map[string]*rdb.Value
	markers map[int64]bool
	keys    int
}

func (c *persRDBCollector) Aux(k, v string) error              { return nil }
func (c *persRDBCollector) ResizeDB(int, uint64, uint64) error { return nil }
func (c *persRDBCollector) Entry(e *rdb.Entry) error {
	c.keys++
	k := string(e.Key)
	if strings.HasPrefix(k, "marker:") {
		n, _ := strconv.ParseInt(k[7:], 10, 64)
		c.markers[n] = true
	} else if strings.HasPrefix(k, "mod:") {
		v := e.Value
		v.Str = bytes.Clone(v.Str)
		v.List = append([][]byte(nil), v.List...)
		for i := range v.List {
			v.List[i] = bytes.Clone(v.List[i])
		}
		c.vals[k] = &v
	}
	return nil
}

func TestPersistShutdownAndSavePoints(t *testing.T) {
	dir := t.TempDir()
	// Save points configured: SHUTDOWN saves.
	v := persStart(t, "vigil", dir, "--save", "3600 1")
	v.ok("SET", "a", "1")
	v.c.Send("SHUTDOWN")
	if !v.p.Wait(10 * time.Second) {
		t.Fatal("vigil did not exit on SHUTDOWN")
	}
	v = persStart(t, "vigil", dir, "--save", "3600 1")
	if string(v.ok("GET", "a").Str) != "1" {
		t.Fatalf("SHUTDOWN with save points didn't save")
	}
	// SHUTDOWN NOSAVE doesn't.
	v.ok("SET", "b", "2")
	v.stop()
	v = persStart(t, "vigil", dir, "--save", "3600 1")
	if v.ok("EXISTS", "b").Int != 0 || v.ok("EXISTS", "a").Int != 1 {
		t.Fatalf("SHUTDOWN NOSAVE saved (or lost the older save)")
	}
	// SHUTDOWN SAVE saves even without save points.
	v.stop()
	v = persStart(t, "vigil", dir)
	v.ok("SET", "c", "3")
	v.c.Send("SHUTDOWN", "SAVE")
	v.p.Wait(10 * time.Second)
	v = persStart(t, "vigil", dir)
	if v.ok("EXISTS", "c").Int != 1 {
		t.Fatalf("SHUTDOWN SAVE didn't save")
	}
	v.stop()

	// Save points trigger BGSAVE; INFO and LASTSAVE follow.
	v = persStart(t, "vigil", dir, "--save", "1 1")
	last := v.infoInt("rdb_last_save_time")
	if v.ok("LASTSAVE").Int != last {
		t.Errorf("LASTSAVE %d != rdb_last_save_time %d", v.ok("LASTSAVE").Int, last)
	}
	if v.info("aof_enabled") != "0" || v.info("rdb_bgsave_in_progress") != "0" {
		t.Errorf("aof_enabled/rdb_bgsave_in_progress wrong at start")
	}
	v.ok("SET", "sp1", "x")
	v.ok("SET", "sp2", "x")
	if n := v.infoInt("rdb_changes_since_last_save"); n < 2 {
		t.Errorf("rdb_changes_since_last_save = %d after 2 writes", n)
	}
	saves := v.infoInt("rdb_saves")
	testutil.Eventually(t, 6*time.Second, "a save point BGSAVE", func() bool { return v.infoInt("rdb_last_save_time") > last })
	if v.infoInt("rdb_changes_since_last_save") != 0 {
		t.Errorf("rdb_changes_since_last_save = %d after the save", v.infoInt("rdb_changes_since_last_save"))
	}
	if v.infoInt("rdb_saves") <= saves || v.info("rdb_last_bgsave_status") != "ok" {
		t.Errorf("rdb_saves / rdb_last_bgsave_status not updated: %d %s", v.infoInt("rdb_saves"), v.info("rdb_last_bgsave_status"))
	}
	if v.ok("LASTSAVE").Int != v.infoInt("rdb_last_save_time") {
		t.Errorf("LASTSAVE doesn't follow the save")
	}
	if !strings.Contains(v.p.ReadLog(), "changes in 1 seconds. Saving...") {
		t.Errorf("log lacks the save point line")
	}
	if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); err != nil {
		t.Errorf("no dump.rdb after the save point: %v", err)
	}
	// BGSAVE while one runs is refused; SCHEDULE is accepted.
	v.ok("CONFIG", "SET", "save", "")
	v.ok("DEBUG", "POPULATE", "100000")
	v.ok("BGSAVE")
	r := v.do("BGSAVE")
	if r.Type == '-' && !strings.Contains(string(r.Str), "already in progress") {
		t.Errorf("second BGSAVE: %s", r.Str)
	}
	testutil.Eventually(t, 20*time.Second, "BGSAVE to finish", func() bool { return v.info("rdb_bgsave_in_progress") == "0" })

	// DEBUG RELOAD keeps data; appendonly shows in INFO.
	v.ok("FLUSHALL")
	persDataset(t, v)
	before := persFullDump(t, v)
	v.ok("DEBUG", "RELOAD")
	persSame(t, "DEBUG RELOAD", before, persFullDump(t, v))
	v.ok("CONFIG", "SET", "appendonly", "yes")
	testutil.Eventually(t, 20*time.Second, "AOF enabled", func() bool {
		return v.info("aof_enabled") == "1" && v.info("aof_rewrite_in_progress") == "0"
	})
	v.ok("SET", "aofkey", "1")
	after := persFullDump(t, v)
	v.ok("DEBUG", "LOADAOF")
	persSame(t, "DEBUG LOADAOF", after, persFullDump(t, v))
}

// A save point set at run time (CONFIG SET save) triggers a background
// save from the cron, and removing the save points stops that.
func TestPersistSavePointsConfigSet(t *testing.T) {
	v := persStart(t, "vigil", t.TempDir())
	defer v.stop()
	v.ok("CONFIG", "SET", "save", "")
	v.ok("SET", "a", "1")
	time.Sleep(1500 * time.Millisecond) // no save point: nothing may save
	if got := v.info("rdb_changes_since_last_save"); got != "1" {
		t.Fatalf("saved without save points: rdb_changes_since_last_save=%s", got)
	}
	v.ok("CONFIG", "SET", "save", "1 1")
	deadline := time.Now().Add(10 * time.Second)
	for v.info("rdb_changes_since_last_save") != "0" {
		if time.Now().After(deadline) {
			t.Fatalf("save point 1 1 set at run time never saved")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PUBLISH reaches replicas but, as in Redis, never the AOF.
func TestPersistAOFSkipsPublish(t *testing.T) {
	dir := t.TempDir()
	v := persStart(t, "vigil", dir, "--appendonly", "yes", "--appendfsync", "always")
	v.ok("PUBLISH", "ch", "hello")
	v.ok("SET", "k", "v")
	files, _ := filepath.Glob(filepath.Join(dir, "appendonlydir", "*.incr.aof"))
	if len(files) == 0 {
		t.Fatalf("no incremental AOF file in %s", dir)
	}
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte("SET")) {
		t.Fatalf("SET not in the AOF: %q", all)
	}
	if bytes.Contains(bytes.ToUpper(all), []byte("PUBLISH")) {
		t.Fatalf("PUBLISH written to the AOF: %q", all)
	}
	v.stop()
}
