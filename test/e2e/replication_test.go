package e2e

// Replication end to end: vigil↔vigil and vigil↔redis-server in both
// directions, the tutorial's master/replica configs, partial resync after
// every kind of link trouble (through tcpProxy), failover continuity
// (PSYNC2), WAIT, min-replicas, read-only replicas, ROLE, and the tools that
// speak the replication protocol (redis-cli --rdb / --replica).
//
// Dataset equality is checked with DEBUG DIGEST, which vigil computes with
// Redis's algorithm (TestReplDigestMatchesRedis proves it on one dataset).

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/testutil"
)

type rnode struct {
	t    *testing.T
	kind string // "vigil" or "redis"
	p    *testutil.Proc
	c    *testutil.Client
}

func replNeedRedis(t *testing.T) {
	t.Helper()
	testutil.RequireTool(t, "redis-server")
	testutil.RequireTool(t, "redis-cli")
}

func replStart(t *testing.T, kind string, o testutil.StartOptions) *rnode {
	t.Helper()
	var p *testutil.Proc
	// Both wait 5 s (repl-diskless-sync-delay) for more replicas before a
	// diskless sync; tests that want the delay pass it again.
	o.Args = append([]string{"--repl-diskless-sync-delay", "0"}, o.Args...)
	if kind == "redis" {
		p = testutil.StartRedis(t, o)
	} else {
		p = testutil.StartVigil(t, o)
	}
	// With VIGIL_BIN built with -race, a race report fails the test.
	t.Cleanup(func() {
		if log := p.ReadLog(); strings.Contains(log, "WARNING: DATA RACE") {
			i := strings.Index(log, "WARNING: DATA RACE")
			t.Errorf("%s %d: data race:\n%s", kind, p.Port, log[i:min(len(log), i+4000)])
		}
	})
	return &rnode{t: t, kind: kind, p: p, c: testutil.MustDial(t, p.Addr)}
}

func (n *rnode) String() string { return fmt.Sprintf("%s@%d", n.kind, n.p.Port) }

// do runs a command; I/O errors fail the test, error replies are returned.
func (n *rnode) do(args ...string) resp.Value {
	n.t.Helper()
	v, err := n.c.Do(args...)
	if err != nil {
		n.t.Fatalf("%s %v: %v", n, args, err)
	}
	return v
}

// ok runs a command that must not fail.
func (n *rnode) ok(args ...string) resp.Value {
	n.t.Helper()
	v := n.do(args...)
	if v.Type == '-' {
		n.t.Fatalf("%s %v: %s", n, args, v.Str)
	}
	return v
}

func (n *rnode) info(section string) map[string]string {
	n.t.Helper()
	v := n.ok("INFO", section)
	m := map[string]string{}
	for _, line := range strings.Split(string(v.Str), "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			m[k] = val
		}
	}
	return m
}

func (n *rnode) infoInt(section, field string) int64 {
	n.t.Helper()
	x, _ := strconv.ParseInt(n.info(section)[field], 10, 64)
	return x
}

// replicaArgs: the arguments of a replica of 127.0.0.1:port.
func replicaArgs(port int, extra ...string) []string {
	return append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(port)}, extra...)
}

// replBackgroundWrites writes to m (several DBs, strings and lists) until
// the returned stop is called; stop fails the test if a write failed.
func replBackgroundWrites(t *testing.T, m *rnode, valueSize int) (stop func()) {
	t.Helper()
	quit := make(chan struct{})
	done := make(chan error, 1)
	val := strings.Repeat("v", valueSize)
	go func() {
		c, err := testutil.Dial(m.p.Addr)
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-quit:
				done <- nil
				return
			default:
			}
			db := strconv.Itoa(i % 3)
			for _, cmd := range [][]string{{"SELECT", db}, {"INCR", "ctr"}, {"RPUSH", "log", strconv.Itoa(i)}, {"SET", fmt.Sprint("w", i%500), val + strconv.Itoa(i)}} {
				if v, err := c.Do(cmd...); err != nil || v.Type == '-' {
					done <- fmt.Errorf("%v: %v %v", cmd, v, err)
					return
				}
			}
		}
	}()
	var stopped bool
	return func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		close(quit)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// replicaOf points n at 127.0.0.1:port.
func (n *rnode) replicaOf(port int) {
	n.t.Helper()
	n.ok("REPLICAOF", "127.0.0.1", strconv.Itoa(port))
}

func replLogs(t *testing.T, nodes ...*rnode) {
	t.Helper()
	if !t.Failed() {
		return
	}
	for _, n := range nodes {
		log := n.p.ReadLog()
		if len(log) > 6000 {
			log = log[len(log)-6000:]
		}
		t.Logf("---- log of %s ----\n%s", n, log)
	}
}

// replCaughtUp waits until every replica's link is up and its processed
// offset equals the master's.
func replCaughtUp(t *testing.T, d time.Duration, m *rnode, replicas ...*rnode) {
	t.Helper()
	var last string
	deadline := time.Now().Add(d)
	for {
		mo := m.info("replication")["master_repl_offset"]
		done := true
		last = "master " + mo
		for _, r := range replicas {
			ri := r.info("replication")
			last += fmt.Sprintf("; %s link=%s off=%s", r, ri["master_link_status"], ri["slave_repl_offset"])
			if ri["master_link_status"] != "up" || ri["slave_repl_offset"] != mo {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			replLogs(t, append([]*rnode{m}, replicas...)...)
			t.Fatalf("replicas did not catch up in %v: %s", d, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replSynced waits (up to d) for the replicas to catch up with m, then
// checks each holds the same data as m.
func replSynced(t *testing.T, d time.Duration, m *rnode, replicas ...*rnode) {
	t.Helper()
	replCaughtUp(t, d, m, replicas...)
	for _, r := range replicas {
		replSameData(t, 5*time.Second, m, r)
	}
}

// replSameData waits until a and b report the same DEBUG DIGEST; on
// failure it reports which keys differ.
func replSameData(t *testing.T, d time.Duration, a, b *rnode) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		da, db := string(a.ok("DEBUG", "DIGEST").Str), string(b.ok("DEBUG", "DIGEST").Str)
		if da == db {
			return da
		}
		if time.Now().After(deadline) {
			t.Errorf("DEBUG DIGEST differs: %s=%s %s=%s", a, da, b, db)
			replDiff(t, a, b)
			replLogs(t, a, b)
			t.FailNow()
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// replDiff lists keys whose per-key digest differs (first DBs only).
func replDiff(t *testing.T, a, b *rnode) {
	t.Helper()
	t.Logf("keyspace %s: %v", a, a.info("keyspace"))
	t.Logf("keyspace %s: %v", b, b.info("keyspace"))
	n := 0
	for db := 0; db < 16 && n < 20; db++ {
		keys := map[string]bool{}
		for _, x := range []*rnode{a, b} {
			x.ok("SELECT", strconv.Itoa(db))
			for _, k := range x.ok("KEYS", "*").Elems {
				keys[string(k.Str)] = true
			}
		}
		for k := range keys {
			va := a.ok("DEBUG", "DIGEST-VALUE", k).Elems[0].Str
			vb := b.ok("DEBUG", "DIGEST-VALUE", k).Elems[0].Str
			if string(va) != string(vb) {
				ta, tb := a.ok("TYPE", k).Str, b.ok("TYPE", k).Str
				t.Logf("db %d key %q: %s %s %s / %s %s %s", db, k, a, ta, va, b, tb, vb)
				n++
			}
		}
	}
	a.ok("SELECT", "0")
	b.ok("SELECT", "0")
}

// replWriteLoad runs writes of every kind on m: all types, TTLs (some of
// which expire on the master during the test), MULTI/EXEC, EVAL, a BLPOP
// served by a later push, and several DBs. Keys are prefixed with tag.
func replWriteLoad(t *testing.T, m *rnode, tag string) {
	t.Helper()
	k := func(s string) string { return tag + ":" + s }
	for _, db := range []string{"0", "3", "9"} {
		m.ok("SELECT", db)
		m.ok("SET", k("s"), "v"+db)
		m.ok("APPEND", k("s"), "-tail")
		m.ok("INCRBY", k("n"), "41")
		m.ok("INCR", k("n"))
		m.ok("INCRBYFLOAT", k("f"), "1.1")
		m.ok("INCRBYFLOAT", k("f"), "2.25")
		m.ok("SETRANGE", k("r"), "5", "xyz")
		m.ok("MSET", k("m1"), "a", k("m2"), "b")
		m.ok("RPUSH", k("l"), "a", "b", "c", "1", "22")
		m.ok("LPUSH", k("l"), "z")
		m.ok("LINSERT", k("l"), "BEFORE", "b", "ins")
		m.ok("LSET", k("l"), "0", "zz")
		m.ok("RPOP", k("l"))
		m.ok("SADD", k("is"), "1", "2", "3", "-7")
		m.ok("SADD", k("hs"), "a", "b", "c", "d", "e")
		m.ok("SREM", k("hs"), "e")
		m.ok("SPOP", k("hs"))
		m.ok("SINTERSTORE", k("si"), k("hs"), k("hs"))
		m.ok("ZADD", k("z"), "1", "a", "2.5", "b", "-3", "c", "+inf", "top")
		m.ok("ZINCRBY", k("z"), "0.1", "a")
		m.ok("ZPOPMIN", k("z"))
		m.ok("ZUNIONSTORE", k("zu"), "1", k("z"), "WEIGHTS", "3")
		m.ok("HSET", k("h"), "f1", "v1", "f2", "v2", "n", "10")
		m.ok("HINCRBY", k("h"), "n", "5")
		m.ok("HINCRBYFLOAT", k("h"), "fl", "0.5")
		m.ok("HDEL", k("h"), "f2")
		m.ok("SET", k("ttl"), "x", "EX", "1000")
		m.ok("EXPIRE", k("m1"), "500")
		m.ok("PEXPIRE", k("m2"), "900000")
		m.ok("PERSIST", k("m2"))
		m.ok("SET", k("gone"), "x", "PX", "50")
		m.ok("SET", k("renameme"), "x")
		m.ok("RENAME", k("renameme"), k("renamed"))
		m.ok("SET", k("del"), "x")
		m.ok("DEL", k("del"))
	}
	// Whole-DB commands and cross-DB moves.
	m.ok("SELECT", "7")
	m.ok("SET", k("flushed"), "x")
	m.ok("FLUSHDB")
	m.ok("SET", k("db7"), "x")
	m.ok("SET", k("moved"), "x")
	m.ok("MOVE", k("moved"), "8")
	m.ok("COPY", k("db7"), k("copied"), "DB", "8")
	m.ok("SWAPDB", "7", "8")
	m.ok("SELECT", "0")
	// A big hash and zset (hashtable/skiplist encodings).
	args := []string{"HSET", k("bigh")}
	zargs := []string{"ZADD", k("bigz")}
	for i := 0; i < 300; i++ {
		args = append(args, fmt.Sprint("field", i), strings.Repeat("v", i%70))
		zargs = append(zargs, fmt.Sprint(float64(i)/3), fmt.Sprint("m", i))
	}
	m.ok(args...)
	m.ok(zargs...)
	// MULTI/EXEC.
	m.ok("MULTI")
	m.do("SET", k("tx1"), "a")
	m.do("LPUSH", k("txl"), "x", "y")
	m.do("INCR", k("txn"))
	m.do("SELECT", "5")
	m.do("SET", k("tx5"), "in-db5")
	v := m.ok("EXEC")
	if len(v.Elems) != 5 {
		t.Fatalf("EXEC: %v", v)
	}
	m.ok("SELECT", "0")
	// Scripts (effects replication, including a random command).
	m.ok("EVAL", "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCRBY', KEYS[2], 5); return redis.call('GET', KEYS[1])", "2", k("ev1"), k("ev2"), "scripted")
	m.ok("EVAL", "redis.call('SADD', KEYS[1], 'a', 'b', 'c', 'd'); return redis.call('SPOP', KEYS[1])", "1", k("evsp"))
	// BLPOP served by a later push: the replica must see the pop.
	bc := testutil.MustDial(t, m.p.Addr)
	if err := bc.Send("BLPOP", k("bl"), "10"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "BLPOP to block", func() bool { return m.infoInt("clients", "blocked_clients") >= 1 })
	m.ok("RPUSH", k("bl"), "first", "second")
	bv, err := bc.Read()
	if err != nil || len(bv.Elems) != 2 || string(bv.Elems[1].Str) != "first" {
		t.Fatalf("BLPOP reply %v %v", bv, err)
	}
	bc.Close()
	// Keys that expire on the master: wait until it deleted them.
	m.ok("SET", k("short"), "x", "PX", "30")
	testutil.Eventually(t, 5*time.Second, "short TTL keys to be deleted on the master", func() bool {
		for _, db := range []string{"0", "3", "9"} {
			m.ok("SELECT", db)
			// DEBUG DIGEST-VALUE doesn't expire keys: all zeros = gone.
			if string(m.ok("DEBUG", "DIGEST-VALUE", k("gone")).Elems[0].Str) != strings.Repeat("0", 40) {
				m.ok("SELECT", "0")
				return false
			}
		}
		m.ok("SELECT", "0")
		return m.ok("EXISTS", k("short")).Int == 0 && string(m.ok("DEBUG", "DIGEST-VALUE", k("short")).Elems[0].Str) == strings.Repeat("0", 40)
	})
}

// TestReplDigestMatchesRedis: same dataset, same DEBUG DIGEST and DEBUG
// DIGEST-VALUE strings on vigil and redis-server.
func TestReplDigestMatchesRedis(t *testing.T) {
	replNeedRedis(t)
	v := replStart(t, "vigil", testutil.StartOptions{})
	r := replStart(t, "redis", testutil.StartOptions{})
	empty := strings.Repeat("0", 40)
	for _, n := range []*rnode{v, r} {
		if d := string(n.ok("DEBUG", "DIGEST").Str); d != empty {
			t.Fatalf("%s empty digest %s", n, d)
		}
		replWriteLoad(t, n, "d")
		n.ok("SELECT", "0")
		n.ok("ZADD", "zs", "-inf", "lo", "1e300", "hi", "0.1", "tenth", "-0.5", "neg", "100", "int")
		sargs := []string{"SADD", "bigset"}
		for i := 0; i < 600; i++ {
			sargs = append(sargs, fmt.Sprint(i*7))
		}
		n.ok(sargs...)
		n.ok("RPUSH", "ints", "1", "-2", "300000000000", "abc")
		n.ok("SET", "num", "12345")
	}
	keys := []string{"d:s", "d:n", "d:f", "d:l", "d:is", "d:z", "d:zu", "d:h", "d:ttl", "d:bigh", "d:bigz", "zs", "bigset", "ints", "num", "nokey"}
	dv := v.ok(append([]string{"DEBUG", "DIGEST-VALUE"}, keys...)...)
	dr := r.ok(append([]string{"DEBUG", "DIGEST-VALUE"}, keys...)...)
	for i, key := range keys {
		if string(dv.Elems[i].Str) != string(dr.Elems[i].Str) {
			t.Errorf("DIGEST-VALUE %s: vigil %s redis %s", key, dv.Elems[i].Str, dr.Elems[i].Str)
		}
	}
	// SPOP picks differently on each server: make those sets equal first.
	for _, n := range []*rnode{v, r} {
		for _, db := range []string{"0", "3", "9"} {
			n.ok("SELECT", db)
			n.ok("DEL", "d:hs", "d:si")
		}
		n.ok("SELECT", "0")
		n.ok("DEL", "d:evsp")
	}
	if a, b := v.ok("DEBUG", "DIGEST").Str, r.ok("DEBUG", "DIGEST").Str; string(a) != string(b) {
		replDiff(t, v, r)
		t.Fatalf("DEBUG DIGEST: vigil %s redis %s", a, b)
	}
}

// TestReplTutorialConfigs: the tutorial's master and replica configs, moved
// to loopback, replicate with vigil on both ends.
func TestReplTutorialConfigs(t *testing.T) {
	seed := filepath.Join(testutil.ModuleRoot(), "..", "shared", "seed")
	for _, f := range []string{"redis-master.conf", "redis-replica-1.conf"} {
		if _, err := os.Stat(filepath.Join(seed, f)); err != nil {
			t.Skipf("tutorial seed config %s not found in %s (expected ../shared/seed from the repository root)", f, seed)
		}
	}
	m := replStart(t, "vigil", testutil.StartOptions{Config: filepath.Join(seed, "redis-master.conf")})
	m.ok("SET", "before", "sync")
	r := replStart(t, "vigil", testutil.StartOptions{Config: filepath.Join(seed, "redis-replica-1.conf"),
		Args: replicaArgs(m.p.Port)})
	replCaughtUp(t, 10*time.Second, m, r)
	for i := 0; i < 50; i++ {
		m.ok("SET", fmt.Sprint("k", i), fmt.Sprint(i))
	}
	replCaughtUp(t, 10*time.Second, m, r)
	if v := r.ok("GET", "k49"); string(v.Str) != "49" {
		t.Fatalf("replica GET k49 = %v", v)
	}
	if v := r.ok("GET", "before"); string(v.Str) != "sync" {
		t.Fatalf("replica GET before = %v", v)
	}
	ri := r.info("replication")
	if ri["role"] != "slave" || ri["master_link_status"] != "up" || ri["master_port"] != strconv.Itoa(m.p.Port) {
		t.Fatalf("replica INFO replication: %v", ri)
	}
	// The master's slave0 line reports the replica online with its ACKed
	// offset, which reaches the master's offset within a second or two.
	testutil.Eventually(t, 5*time.Second, "slave0 online with the master's offset", func() bool {
		mi := m.info("replication")
		want := fmt.Sprintf("ip=127.0.0.1,port=%d,state=online,offset=%s,", r.p.Port, mi["master_repl_offset"])
		return mi["role"] == "master" && mi["connected_slaves"] == "1" && strings.HasPrefix(mi["slave0"], want)
	})
	if mi, ri := m.info("replication"), r.info("replication"); mi["master_replid"] != ri["master_replid"] {
		t.Fatalf("replids differ: %s vs %s", mi["master_replid"], ri["master_replid"])
	}
	replSameData(t, 5*time.Second, m, r)
}

// replInterop: full sync, the write load, a killed link with partial
// resync, equal digests.
func replInterop(t *testing.T, mkind, rkind string, margs ...string) {
	replNeedRedis(t)
	m := replStart(t, mkind, testutil.StartOptions{Args: margs})
	// Data present before the replica attaches travels in the snapshot.
	replWriteLoad(t, m, "pre")
	m.ok("DEBUG", "POPULATE", "2000", "pop", "20")
	r := replStart(t, rkind, testutil.StartOptions{Args: replicaArgs(m.p.Port)})
	replSynced(t, 15*time.Second, m, r)
	if n := m.infoInt("stats", "sync_full"); n != 1 {
		t.Fatalf("%s sync_full = %d, want 1", m, n)
	}
	replWriteLoad(t, m, "live")
	replSynced(t, 10*time.Second, m, r)
	if v := r.do("SET", "x", "y"); v.Type != '-' || !strings.HasPrefix(string(v.Str), "READONLY") {
		t.Fatalf("write on replica: %v", v)
	}
	// Cut the link from the replica side; it resumes with +CONTINUE.
	before := m.infoInt("stats", "sync_partial_ok")
	r.ok("CLIENT", "KILL", "TYPE", "master")
	for i := 0; i < 20; i++ {
		m.ok("SET", fmt.Sprint("after-kill-", i), "v")
	}
	testutil.Eventually(t, 10*time.Second, "partial resync", func() bool {
		return m.infoInt("stats", "sync_partial_ok") > before
	})
	replWriteLoad(t, m, "post")
	replSynced(t, 10*time.Second, m, r)
	if n := m.infoInt("stats", "sync_full"); n != 1 {
		t.Fatalf("%s sync_full = %d after the link cut, want 1 (partial resync)", m, n)
	}
	replLogs(t, m, r)
}

func TestReplInteropRedisReplicaOfVigil(t *testing.T) { replInterop(t, "vigil", "redis") }
func TestReplInteropVigilReplicaOfRedis(t *testing.T) { replInterop(t, "redis", "vigil") }
func TestReplVigilReplicaOfVigil(t *testing.T)        { replInterop(t, "vigil", "vigil") }

// Disk-based transfers ($<len> instead of $EOF:) both ways.
func TestReplInteropDiskSync(t *testing.T) {
	t.Run("redis-replica-of-vigil", func(t *testing.T) { replInterop(t, "vigil", "redis", "--repl-diskless-sync", "no") })
	t.Run("vigil-replica-of-redis", func(t *testing.T) { replInterop(t, "redis", "vigil", "--repl-diskless-sync", "no") })
}

// replFailover: M with replicas A and B; A is promoted, B and M follow it
// and both continue partially.
func replFailover(t *testing.T, mk, ak, bk string) {
	if mk == "redis" || ak == "redis" || bk == "redis" {
		replNeedRedis(t)
	}
	m := replStart(t, mk, testutil.StartOptions{})
	a := replStart(t, ak, testutil.StartOptions{Args: replicaArgs(m.p.Port)})
	b := replStart(t, bk, testutil.StartOptions{Args: replicaArgs(m.p.Port)})
	replWriteLoad(t, m, "m")
	replCaughtUp(t, 10*time.Second, m, a, b)
	a.ok("REPLICAOF", "NO", "ONE")
	b.replicaOf(a.p.Port)
	m.replicaOf(a.p.Port)
	testutil.Eventually(t, 10*time.Second, "both to continue partially from the new master", func() bool {
		return a.infoInt("stats", "sync_partial_ok") == 2
	})
	if n := a.infoInt("stats", "sync_full"); n != 0 {
		replLogs(t, m, a, b)
		t.Fatalf("new master %s did %d full syncs", a, n)
	}
	replWriteLoad(t, a, "a")
	replSynced(t, 10*time.Second, a, m, b)
	// Nothing written before the switch was lost.
	for _, n := range []*rnode{m, a, b} {
		if v := n.ok("GET", "m:s"); string(v.Str) != "v0-tail" {
			t.Fatalf("%s GET m:s = %v", n, v)
		}
	}
	replLogs(t, m, a, b)
}

func TestReplFailoverVigil(t *testing.T) { replFailover(t, "vigil", "vigil", "vigil") }
func TestReplFailoverMixed(t *testing.T) { replFailover(t, "redis", "vigil", "redis") }

// replProxied starts a vigil master and a vigil replica linked through a
// proxy.
func replProxied(t *testing.T, margs, rargs []string) (*rnode, *rnode, *tcpProxy) {
	m := replStart(t, "vigil", testutil.StartOptions{Args: margs})
	// DEBUG POPULATE isn't replicated: fill before the replica attaches.
	m.ok("DEBUG", "POPULATE", "1000")
	px := newTCPProxy(t, m.p.Addr)
	r := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(px.Port, rargs...)})
	replCaughtUp(t, 10*time.Second, m, r)
	return m, r, px
}

func TestReplFaultLinkCut(t *testing.T) {
	m, r, px := replProxied(t, nil, nil)
	px.Cut()
	for i := 0; i < 100; i++ {
		m.ok("SET", fmt.Sprint("cut", i), "v")
	}
	replCaughtUp(t, 10*time.Second, m, r)
	if m.infoInt("stats", "sync_partial_ok") != 1 || m.infoInt("stats", "sync_full") != 1 {
		replLogs(t, m, r)
		t.Fatalf("want one full and one partial sync: %v", m.info("stats"))
	}
	replSameData(t, 5*time.Second, m, r)
}

func TestReplFaultStallTimeout(t *testing.T) {
	m, r, px := replProxied(t, []string{"--repl-timeout", "2"}, []string{"--repl-timeout", "2"})
	px.Pause()
	start := time.Now()
	m.ok("SET", "during-stall", "v")
	testutil.Eventually(t, 8*time.Second, "the replica to notice the stalled link", func() bool {
		return r.info("replication")["master_link_status"] == "down"
	})
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Fatalf("link declared down after %v, before repl-timeout", d)
	}
	px.Resume()
	replCaughtUp(t, 10*time.Second, m, r)
	if v := r.ok("GET", "during-stall"); string(v.Str) != "v" {
		t.Fatalf("replica lost a write: %v", v)
	}
	if m.infoInt("stats", "sync_full") != 1 || m.infoInt("stats", "sync_partial_ok") < 1 {
		replLogs(t, m, r)
		t.Fatalf("want a partial resync after the stall: %v", m.info("stats"))
	}
	replSameData(t, 5*time.Second, m, r)
}

func TestReplFaultBacklogOverflow(t *testing.T) {
	m, r, px := replProxied(t, []string{"--repl-backlog-size", "16kb"}, nil)
	px.Pause()
	val := strings.Repeat("x", 1024)
	for i := 0; i < 40; i++ {
		m.ok("SET", fmt.Sprint("big", i), val)
	}
	px.Cut()
	px.Resume()
	replCaughtUp(t, 10*time.Second, m, r)
	if m.infoInt("stats", "sync_full") != 2 {
		replLogs(t, m, r)
		t.Fatalf("want a second full sync after the backlog overflowed: %v", m.info("stats"))
	}
	replSameData(t, 5*time.Second, m, r)
}

// TestReplFaultReplicaRestart: a replica restarted from its own RDB
// continues partially thanks to the repl-id/repl-offset aux fields.
func TestReplFaultReplicaRestart(t *testing.T) {
	for _, mk := range []string{"vigil", "redis"} {
		t.Run("master-"+mk, func(t *testing.T) {
			if mk == "redis" {
				replNeedRedis(t)
			}
			m := replStart(t, mk, testutil.StartOptions{})
			m.ok("DEBUG", "POPULATE", "500")
			dir := t.TempDir()
			rargs := replicaArgs(m.p.Port)
			r := replStart(t, "vigil", testutil.StartOptions{Dir: dir, Args: rargs})
			// The stream is in DB 3 when the replica saves: after the
			// restart it must continue there (repl-stream-db aux field).
			m.ok("SELECT", "3")
			m.ok("SET", "after-sync", "1")
			replCaughtUp(t, 10*time.Second, m, r)
			r.ok("SAVE")
			r.p.Kill()
			for i := 0; i < 50; i++ {
				m.ok("SET", fmt.Sprint("while-down", i), "v")
			}
			r2 := replStart(t, "vigil", testutil.StartOptions{Dir: dir, Args: rargs})
			replCaughtUp(t, 10*time.Second, m, r2)
			if m.infoInt("stats", "sync_full") != 1 || m.infoInt("stats", "sync_partial_ok") != 1 {
				replLogs(t, m, r2)
				t.Fatalf("want a partial resync after the restart: %v", m.info("stats"))
			}
			replSameData(t, 5*time.Second, m, r2)
		})
	}
}

func TestReplWaitAndMinReplicas(t *testing.T) {
	m := replStart(t, "vigil", testutil.StartOptions{Args: []string{"--min-replicas-max-lag", "3"}})
	r := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(m.p.Port)})
	replCaughtUp(t, 10*time.Second, m, r)
	m.ok("SET", "w", "1")
	if v := m.ok("WAIT", "1", "2000"); v.Int != 1 {
		t.Fatalf("WAIT 1 = %v", v)
	}
	if v := m.ok("WAIT", "0", "0"); v.Int != 1 {
		t.Fatalf("WAIT 0 0 = %v", v)
	}
	start := time.Now()
	if v := m.ok("WAIT", "2", "300"); v.Int != 1 {
		t.Fatalf("WAIT 2 300 = %v", v)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("WAIT 2 300 took %v", d)
	}
	if v := r.do("WAIT", "1", "10"); v.Type != '-' {
		t.Fatalf("WAIT on a replica: %v", v)
	}
	if v := r.do("SET", "x", "y"); v.Type != '-' || !strings.HasPrefix(string(v.Str), "READONLY ") {
		t.Fatalf("SET on a read-only replica: %v", v)
	}
	// ROLE on both sides.
	role := m.ok("ROLE")
	if len(role.Elems) != 3 || string(role.Elems[0].Str) != "master" || len(role.Elems[2].Elems) != 1 ||
		string(role.Elems[2].Elems[0].Elems[1].Str) != strconv.Itoa(r.p.Port) {
		t.Fatalf("master ROLE: %v", role)
	}
	rr := r.ok("ROLE")
	if len(rr.Elems) != 5 || string(rr.Elems[0].Str) != "slave" || rr.Elems[2].Int != int64(m.p.Port) || string(rr.Elems[3].Str) != "connected" {
		t.Fatalf("replica ROLE: %v", rr)
	}
	// min-replicas-to-write: fine with the replica, refused once it's gone.
	m.ok("CONFIG", "SET", "min-replicas-to-write", "1")
	m.ok("SET", "w", "2")
	r.p.Kill()
	testutil.Eventually(t, 10*time.Second, "-NOREPLICAS once the replica is gone", func() bool {
		v := m.do("SET", "w", "3")
		return v.Type == '-' && strings.HasPrefix(string(v.Str), "NOREPLICAS ")
	})
	m.ok("CONFIG", "SET", "min-replicas-to-write", "0")
	start = time.Now()
	if v := m.ok("WAIT", "1", "200"); v.Int != 0 {
		t.Fatalf("WAIT with no replica = %v", v)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("WAIT 1 200 returned after %v", d)
	}
}

// TestReplRedisCLI: redis-cli --rdb (SYNC) gives a file redis-check-rdb
// accepts; redis-cli --replica shows the stream, blocking pops as LPOP.
func TestReplRedisCLI(t *testing.T) {
	replNeedRedis(t)
	check := testutil.RequireTool(t, "redis-check-rdb")
	cli := testutil.RequireTool(t, "redis-cli")
	m := replStart(t, "vigil", testutil.StartOptions{})
	m.ok("DEBUG", "POPULATE", "300")
	m.ok("RPUSH", "l", "a", "b")
	m.ok("HSET", "h", "f", "v")
	m.ok("ZADD", "z", "1", "m")
	m.ok("SADD", "s", "1", "x")
	rdb := filepath.Join(t.TempDir(), "dump.rdb")
	out, err := exec.Command(cli, "-p", strconv.Itoa(m.p.Port), "--rdb", rdb).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --rdb: %v\n%s", err, out)
	}
	out, err = exec.Command(check, rdb).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RDB looks OK") {
		t.Fatalf("redis-check-rdb: %v\n%s", err, out)
	}

	cmd := exec.Command(cli, "-p", strconv.Itoa(m.p.Port), "--replica")
	// Progress goes to stderr, the stream (CSV) to stdout: read both.
	stdout, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(what string, match func(string) bool) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("redis-cli --replica ended before %s", what)
				}
				if match(strings.ToLower(l)) {
					return
				}
			case <-timeout:
				t.Fatalf("redis-cli --replica: no %s", what)
			}
		}
	}
	expect("SYNC done", func(l string) bool { return strings.Contains(l, "sync done") })
	m.ok("SET", "streamed", "1")
	expect("the SET", func(l string) bool { return l == `"set","streamed","1"` })
	bc := testutil.MustDial(t, m.p.Addr)
	bc.Send("BLPOP", "bq", "10")
	testutil.Eventually(t, 5*time.Second, "BLPOP to block", func() bool { return m.infoInt("clients", "blocked_clients") >= 1 })
	m.ok("RPUSH", "bq", "v1", "v2")
	if v, err := bc.Read(); err != nil || len(v.Elems) != 2 {
		t.Fatalf("BLPOP: %v %v", v, err)
	}
	expect("the RPUSH", func(l string) bool { return l == `"rpush","bq","v1","v2"` })
	expect("BLPOP propagated as LPOP", func(l string) bool {
		if strings.Contains(l, "blpop") {
			t.Fatalf("BLPOP propagated verbatim: %s", l)
		}
		return l == `"lpop","bq"`
	})
}

// TestReplSyncUnderWrites: writes keep coming while the snapshot is taken
// and sent (diskless and disk-based); the replica ends up identical, and a
// redis-server replica chained under the vigil replica too.
func TestReplSyncUnderWrites(t *testing.T) {
	replNeedRedis(t)
	for _, mode := range []string{"yes", "no"} {
		t.Run("diskless-"+mode, func(t *testing.T) {
			m := replStart(t, "vigil", testutil.StartOptions{Args: []string{"--repl-diskless-sync", mode}})
			m.ok("DEBUG", "POPULATE", "30000", "bulk", "64")
			stop := replBackgroundWrites(t, m, 0)
			defer stop()
			r := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(m.p.Port)})
			sub := replStart(t, "redis", testutil.StartOptions{Args: replicaArgs(r.p.Port)})
			testutil.Eventually(t, 15*time.Second, "the chained replica to sync", func() bool {
				return sub.info("replication")["master_link_status"] == "up"
			})
			stop()
			replCaughtUp(t, 15*time.Second, m, r)
			replCaughtUp(t, 15*time.Second, r, sub)
			d := replSameData(t, 5*time.Second, m, r)
			if d2 := replSameData(t, 5*time.Second, r, sub); d2 != d {
				t.Fatalf("digest moved: %s then %s", d, d2)
			}
			if m.infoInt("stats", "sync_full") != 1 {
				t.Fatalf("master sync_full = %d", m.infoInt("stats", "sync_full"))
			}
			// The chain keeps working across a cut of its upper link.
			r.ok("CLIENT", "KILL", "TYPE", "master")
			m.ok("SET", "after-cut", "1")
			replCaughtUp(t, 10*time.Second, m, r)
			replCaughtUp(t, 10*time.Second, r, sub)
			replSameData(t, 5*time.Second, m, sub)
		})
	}
}

// TestReplFailoverCommand: FAILOVER hands the master role to a replica
// (vigil→vigil, vigil→redis-server, redis-server→vigil) with no lost write
// and a partial resync of the old master.
func TestReplFailoverCommand(t *testing.T) {
	for _, pair := range [][2]string{{"vigil", "vigil"}, {"vigil", "redis"}, {"redis", "vigil"}} {
		t.Run(pair[0]+"-to-"+pair[1], func(t *testing.T) {
			if pair[0] == "redis" || pair[1] == "redis" {
				replNeedRedis(t)
			}
			m := replStart(t, pair[0], testutil.StartOptions{})
			if v := m.do("FAILOVER"); v.Type != '-' || string(v.Str) != "ERR FAILOVER requires connected replicas." {
				t.Fatalf("FAILOVER without replicas: %v", v)
			}
			r := replStart(t, pair[1], testutil.StartOptions{Args: replicaArgs(m.p.Port)})
			replWriteLoad(t, m, "fo")
			replCaughtUp(t, 10*time.Second, m, r)
			for _, c := range []struct {
				n    *rnode
				args []string
				want string
			}{
				{r, []string{"FAILOVER"}, "ERR FAILOVER is not valid when server is a replica."},
				{m, []string{"FAILOVER", "ABORT"}, "ERR No failover in progress."},
				{m, []string{"FAILOVER", "TO", "127.0.0.1", "1"}, "ERR FAILOVER target HOST and PORT is not a replica."},
				{m, []string{"FAILOVER", "TO", "127.0.0.1", strconv.Itoa(r.p.Port), "FORCE"}, "ERR FAILOVER with force option requires both a timeout and target HOST and IP."},
				{m, []string{"FAILOVER", "TIMEOUT", "0"}, "ERR FAILOVER timeout must be greater than 0"},
			} {
				if v := c.n.do(c.args...); v.Type != '-' || string(v.Str) != c.want {
					t.Errorf("%s %v = %v, want %s", c.n, c.args, v, c.want)
				}
			}
			m.ok("FAILOVER", "TO", "127.0.0.1", strconv.Itoa(r.p.Port), "TIMEOUT", "5000")
			testutil.Eventually(t, 10*time.Second, "roles to switch", func() bool {
				mi, ri := m.info("replication"), r.info("replication")
				return ri["role"] == "master" && mi["role"] == "slave" && mi["master_link_status"] == "up" &&
					mi["master_failover_state"] == "no-failover"
			})
			if n := r.infoInt("stats", "sync_partial_ok"); n != 1 {
				replLogs(t, m, r)
				t.Fatalf("new master sync_partial_ok = %d, want 1", n)
			}
			if v := m.do("SET", "x", "y"); v.Type != '-' || !strings.HasPrefix(string(v.Str), "READONLY") {
				t.Fatalf("write on the old master: %v", v)
			}
			r.ok("SET", "after-failover", "1")
			replSynced(t, 10*time.Second, r, m)
			replLogs(t, m, r)
		})
	}
}

// TestReplFailoverPauseAndAbort: while waiting for a stalled replica the
// master holds writes (reads go on); a timeout without FORCE, or ABORT,
// releases them and the master stays master.
func TestReplFailoverPauseAndAbort(t *testing.T) {
	m, r, px := replProxied(t, nil, nil)
	px.Pause()
	m.ok("SET", "lagging", "1")
	start := time.Now()
	m.ok("FAILOVER", "TIMEOUT", "700")
	if st := m.info("replication")["master_failover_state"]; st != "waiting-for-sync" {
		t.Fatalf("master_failover_state = %s", st)
	}
	w := testutil.MustDial(t, m.p.Addr)
	if err := w.Send("SET", "paused-write", "1"); err != nil {
		t.Fatal(err)
	}
	if v := m.ok("GET", "lagging"); string(v.Str) != "1" {
		t.Fatalf("read during failover: %v", v)
	}
	v, err := w.Read()
	if err != nil || v.Type != '+' {
		t.Fatalf("paused write: %v %v", v, err)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Fatalf("write returned after %v, while the failover waited", d)
	}
	mi := m.info("replication")
	if mi["role"] != "master" || mi["master_failover_state"] != "no-failover" {
		t.Fatalf("after the timeout: %v", mi)
	}
	// ABORT.
	m.ok("FAILOVER", "TO", "127.0.0.1", strconv.Itoa(r.p.Port))
	if v := m.do("FAILOVER"); v.Type != '-' || string(v.Str) != "ERR FAILOVER already in progress." {
		t.Fatalf("second FAILOVER: %v", v)
	}
	if v := m.do("REPLICAOF", "NO", "ONE"); v.Type != '-' {
		t.Fatalf("REPLICAOF during failover: %v", v)
	}
	w.Send("SET", "paused-write", "2")
	m.ok("FAILOVER", "ABORT")
	if v, err := w.Read(); err != nil || v.Type != '+' {
		t.Fatalf("write after ABORT: %v %v", v, err)
	}
	px.Resume()
	replSynced(t, 10*time.Second, m, r)
}

// TestReplSafeModeEpochRise: safe mode's epoch rule (sentinelEpochRose in
// internal/replication/safemode.go; the other master-side rules are tested
// in test/chaos/rules_test.go). A master whose Sentinel's current epoch
// (hello field 4) rises above the configuration epoch of the hellos naming
// it refuses writes as unconfirmed for vigil-confirm-timeout: an election
// for it may be under way, and when the Sentinels can't hear it (a one-way
// failure) nothing else fences it. A write waiting for its ACK then gets
// the timeout error even if the ACK comes. Hellos at a steady epoch, or
// naming it with the new epoch (it was the one promoted), change nothing.
func TestReplSafeModeEpochRise(t *testing.T) {
	safe := []string{"--vigil-safe-mode", "yes", "--vigil-min-ack-replicas", "1", "--vigil-fence-timeout", "3000", "--vigil-confirm-timeout", "3000"}
	m := replStart(t, "vigil", testutil.StartOptions{Args: safe})
	r := replStart(t, "vigil", testutil.StartOptions{Args: replicaArgs(m.p.Port, safe...)})
	t.Cleanup(func() { replLogs(t, m, r) })
	// A stand-in Sentinel: a connection named like Sentinel's, PINGing and
	// publishing hellos naming m with (current epoch, config epoch) = epochs.
	sc := testutil.MustDial(t, m.p.Addr)
	sc.MustDo(t, "CLIENT", "SETNAME", "sentinel-0123abcd-cmd")
	var epochs atomic.Int64 // current<<32 | config
	hello := func(current, config int64) string {
		return fmt.Sprintf("127.0.0.1,26379,%s,%d,mymaster,127.0.0.1,%d,%d", strings.Repeat("0123abcd", 5), current, m.p.Port, config)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			e := epochs.Load()
			sc.Do("PING")
			sc.Do("PUBLISH", "__sentinel__:hello", hello(e>>32, e&0xffffffff))
		}
	}()
	write := func() resp.Value { return m.do("SET", "k", "v") }
	accepted := func(what string) {
		t.Helper()
		testutil.Eventually(t, 20*time.Second, what, func() bool { return write().Type == '+' })
	}
	unconfirmed := func(what string) {
		t.Helper()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for end := time.Now().Add(5 * time.Second); ; <-tk.C {
			v := write()
			if v.Type == '-' && strings.Contains(string(v.Str), "not yet confirmed") {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("%s: timed out, last reply %q", what, v.Str)
			}
		}
	}
	steady := func(what string) {
		t.Helper()
		for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
			if v := write(); v.Type != '+' {
				t.Fatalf("%s: write refused: %s", what, v.Str)
			}
		}
	}
	accepted("writes accepted after start-up")
	steady("hellos at a steady epoch")

	epochs.Store(1<<32 | 0) // an election in epoch 1, this master still named with 0
	rose := time.Now()
	unconfirmed("refused as unconfirmed after the epoch rose")
	accepted("confirmed again")
	if d := time.Since(rose); d < 3*time.Second {
		t.Fatalf("confirmed %v after the epoch rose, before vigil-confirm-timeout (3 s)", d)
	}
	if !strings.Contains(m.p.ReadLog(), "current epoch rose to 1") {
		t.Fatalf("no epoch rise logged:\n%s", m.p.ReadLog())
	}
	steady("hellos at the risen epoch")

	// A write waiting for its ACK (the replica stopped) when the epoch
	// rises again: answered with an error as soon as the master is
	// unconfirmed; the ACK arriving later must not acknowledge it.
	r.p.Stop(t) // returns once every thread of the replica is stopped
	pending := make(chan resp.Value, 1)
	wc := testutil.MustDial(t, m.p.Addr)
	start := time.Now()
	go func() {
		v, _ := wc.Do("SET", "pending", "1")
		pending <- v
	}()
	testutil.Eventually(t, 5*time.Second, "the write executed", func() bool {
		return m.do("EXISTS", "pending").Int == 1
	})
	// The stand-in's own PUBLISH may be held for its ACK too: announce the
	// new epoch on a second connection of the same Sentinel, without
	// waiting for the reply.
	epochs.Store(2<<32 | 0)
	hc := testutil.MustDial(t, m.p.Addr)
	hc.MustDo(t, "CLIENT", "SETNAME", "sentinel-0123abcd-cmd")
	if err := hc.Send("PUBLISH", "__sentinel__:hello", hello(2, 0)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "unconfirmed after the second rise", func() bool {
		return m.info("replication")["vigil_write_state"] == "unconfirmed"
	})
	if !strings.Contains(m.p.ReadLog(), "current epoch rose to 2") {
		t.Fatalf("unconfirmed, but not by the epoch rule:\n%s", m.p.ReadLog())
	}
	// The pending write is answered with an error at once, not after the
	// fence timeout, and never acknowledged: the replica is still stopped.
	select {
	case v := <-pending:
		if v.Type != '-' || !strings.HasPrefix(string(v.Str), "NOREPLICAS") || !strings.Contains(string(v.Str), "stopped being confirmed") {
			t.Fatalf("a write pending when the master became unconfirmed: %q, want the NOREPLICAS unconfirmed error", v.Str)
		}
		if d := time.Since(start); d >= 3*time.Second {
			t.Fatalf("the pending write was answered after %v, not at once when the master became unconfirmed", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a write pending when the master became unconfirmed is still waiting")
	}
	if err := r.p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	replCaughtUp(t, 5*time.Second, m, r)
	accepted("confirmed after the second rise")

	epochs.Store(3<<32 | 3) // this master promoted in epoch 3
	steady("hellos naming this master with the new epoch")
}
