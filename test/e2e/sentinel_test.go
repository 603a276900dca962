// Package e2e runs vigil's programs as real processes against each other
// and against Debian's redis-server / redis-sentinel.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/testutil"
)

// Timings used by the failover scenarios.
const (
	sDownAfter = 1500  // ms
	sFailoverT = 10000 // ms
)

func requireRedisTools(t *testing.T) {
	t.Helper()
	testutil.RequireTool(t, "redis-server")
	testutil.RequireTool(t, "redis-sentinel")
}

// sdo runs one command on a fresh connection; errors come back as values.
func sdo(addr string, args ...string) (resp.Value, error) {
	c, err := testutil.Dial(addr)
	if err != nil {
		return resp.Value{}, err
	}
	defer c.Close()
	return c.Do(args...)
}

func mustDo(t *testing.T, addr string, args ...string) resp.Value {
	t.Helper()
	v, err := sdo(addr, args...)
	if err != nil {
		t.Fatalf("%s %v: %v", addr, args, err)
	}
	return v
}

// fieldMap turns a flat key/value array (RESP2 map) into a map.
func fieldMap(v resp.Value) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(v.Elems); i += 2 {
		m[string(v.Elems[i].Str)] = string(v.Elems[i+1].Str)
	}
	return m
}

func masterAddr(addr, name string) string {
	v, err := sdo(addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
	if err != nil || len(v.Elems) != 2 {
		return ""
	}
	return string(v.Elems[0].Str) + ":" + string(v.Elems[1].Str)
}

func infoField(addr, section, field string) string {
	v, err := sdo(addr, "INFO", section)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(v.Str), "\r\n") {
		if strings.HasPrefix(l, field+":") {
			return strings.TrimPrefix(l, field+":")
		}
	}
	return ""
}

// sentinelNode is one started sentinel (vigil or redis-sentinel).
type sentinelNode struct {
	kind string // "vigil" or "redis"
	proc *testutil.Proc
	conf string
	dir  string
}

func writeSentinelConf(t *testing.T, dir string, masterPort, quorum int) string {
	t.Helper()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d %d\n"+
		"sentinel down-after-milliseconds mymaster %d\n"+
		"sentinel failover-timeout mymaster %d\n"+
		"sentinel parallel-syncs mymaster 1\n"+
		"sentinel deny-scripts-reconfig no\n", masterPort, quorum, sDownAfter, sFailoverT)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// startSentinel starts a sentinel of the given kind from conf in dir. port 0
// picks a free one. vigil is started as `vigil server conf --sentinel` here;
// `vigil sentinel conf` is covered by TestSentinelSeedConfig.
func startSentinel(t *testing.T, kind, conf, dir string, port int) *sentinelNode {
	t.Helper()
	o := testutil.StartOptions{Config: conf, Dir: dir, Port: port, Args: []string{"--sentinel"}}
	var p *testutil.Proc
	if kind == "vigil" {
		p = testutil.StartVigil(t, o)
	} else {
		p = testutil.StartRedis(t, o)
	}
	t.Cleanup(func() {
		// With VIGIL_BIN built by `go build -race`, data races fail the test.
		if l := p.ReadLog(); strings.Contains(l, "WARNING: DATA RACE") {
			t.Errorf("data race in sentinel %s:\n%s", p.Addr, l)
		}
	})
	return &sentinelNode{kind: kind, proc: p, conf: conf, dir: dir}
}

// cluster is a master + one replica + sentinels.
type cluster struct {
	master, replica *testutil.Proc
	sentinels       []*sentinelNode
	dataKind        string
}

func startData(t *testing.T, kind string, o testutil.StartOptions) *testutil.Proc {
	if kind == "vigil" {
		return testutil.StartVigil(t, o)
	}
	return testutil.StartRedis(t, o)
}

// startCluster starts the data nodes (dataKind "redis" or "vigil") and one
// sentinel per entry of kinds (quorum 2), and waits until every sentinel
// knows the replica and all the other sentinels.
func startCluster(t *testing.T, dataKind string, kinds []string) *cluster {
	t.Helper()
	c := &cluster{dataKind: dataKind}
	c.master = startData(t, dataKind, testutil.StartOptions{})
	c.replica = startData(t, dataKind, testutil.StartOptions{Args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(c.master.Port)}})
	testutil.Eventually(t, 20*time.Second, "replica link up", func() bool {
		return infoField(c.replica.Addr, "replication", "master_link_status") == "up"
	})
	testutil.Eventually(t, 10*time.Second, "master sees the replica", func() bool {
		return infoField(c.master.Addr, "replication", "connected_slaves") == "1"
	})
	for _, k := range kinds {
		dir := t.TempDir()
		conf := writeSentinelConf(t, dir, c.master.Port, 2)
		c.sentinels = append(c.sentinels, startSentinel(t, k, conf, dir, 0))
	}
	c.waitDiscovery(t, c.master.Addr, 30*time.Second)
	return c
}

// waitDiscovery waits until every live sentinel agrees on master, knows one
// replica and len(sentinels)-1 other sentinels.
func (c *cluster) waitDiscovery(t *testing.T, master string, d time.Duration) {
	t.Helper()
	want := strconv.Itoa(len(c.sentinels) - 1)
	testutil.Eventually(t, d, "sentinels discover each other and the replica", func() bool {
		for _, s := range c.sentinels {
			v, err := sdo(s.proc.Addr, "SENTINEL", "MASTER", "mymaster")
			if err != nil {
				return false
			}
			m := fieldMap(v)
			if m["num-other-sentinels"] != want || m["num-slaves"] != "1" || m["ip"]+":"+m["port"] != master {
				return false
			}
		}
		return true
	})
}

func (c *cluster) live() []*sentinelNode {
	var out []*sentinelNode
	for _, s := range c.sentinels {
		if !s.proc.Exited() {
			out = append(out, s)
		}
	}
	return out
}

// allAgree reports whether every live sentinel returns want for mymaster.
func (c *cluster) allAgree(want string) bool {
	for _, s := range c.live() {
		if masterAddr(s.proc.Addr, "mymaster") != want {
			return false
		}
	}
	return true
}

func (c *cluster) dumpLogs(t *testing.T) {
	for i, s := range c.sentinels {
		t.Logf("---- sentinel %d (%s, %s) log:\n%s", i, s.kind, s.proc.Addr, s.proc.ReadLog())
	}
}

// subscribe collects messages of the given channels on addr in the background.
type subscription struct {
	mu   sync.Mutex
	msgs []string // "channel payload"
	c    *testutil.Client
}

func subscribe(t *testing.T, addr string, channels ...string) *subscription {
	t.Helper()
	c := testutil.MustDial(t, addr)
	s := &subscription{c: c}
	if err := c.Send(append([]string{"SUBSCRIBE"}, channels...)...); err != nil {
		t.Fatal(err)
	}
	for range channels {
		if _, err := c.Read(); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for {
			c.Conn.SetReadDeadline(time.Time{})
			v, err := c.R.Read()
			if err != nil {
				return
			}
			if len(v.Elems) == 3 {
				s.mu.Lock()
				s.msgs = append(s.msgs, string(v.Elems[1].Str)+" "+string(v.Elems[2].Str))
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *subscription) has(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// failoverScenario kills the master, waits for +switch-master and for all
// sentinels to agree on the replica, then restarts the old master and waits
// for it to become a replica of the new one. It returns the failover time.
func failoverScenario(t *testing.T, c *cluster) time.Duration {
	t.Helper()
	oldMaster := c.master
	newAddr := c.replica.Addr
	sub := subscribe(t, c.sentinels[0].proc.Addr, "+switch-master", "+odown", "+elected-leader")
	t0 := time.Now()
	oldMaster.Kill()
	deadline := time.Duration(sDownAfter)*time.Millisecond + 30*time.Second
	ok := false
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if sub.has("+switch-master mymaster 127.0.0.1 "+strconv.Itoa(oldMaster.Port)+" 127.0.0.1 "+strconv.Itoa(c.replica.Port)) && c.allAgree(newAddr) {
			ok = true
			break
		}
	}
	if !ok {
		c.dumpLogs(t)
		t.Fatalf("no agreed failover to %s within %v (got %v)", newAddr, deadline, sub.msgs)
	}
	window := time.Since(t0)
	leader := "?"
	for _, s := range c.sentinels {
		if strings.Contains(s.proc.ReadLog(), "+elected-leader") {
			leader = s.kind + " " + s.proc.Addr
		}
	}
	t.Logf("failover: master killed -> all sentinels agree on %s in %v (leader: %s)", newAddr, window, leader)
	if infoField(newAddr, "replication", "role") != "master" {
		t.Fatalf("promoted replica does not report role:master")
	}

	// The old master comes back and must be reconfigured as a replica.
	restarted := startData(t, c.dataKind, testutil.StartOptions{Port: oldMaster.Port, Dir: oldMaster.Dir})
	t1 := time.Now()
	testutil.Eventually(t, 40*time.Second, "old master converted to a replica of the new one", func() bool {
		return infoField(restarted.Addr, "replication", "role") == "slave" &&
			infoField(restarted.Addr, "replication", "master_port") == strconv.Itoa(c.replica.Port)
	})
	t.Logf("old master rejoined as a replica in %v", time.Since(t1))
	c.master, c.replica = c.replica, restarted
	return window
}

// TestSentinelSeedConfig: the tutorial's sentinel.conf loads in `vigil
// sentinel` (its 192.168.1.10 master is rewritten to a local redis-server so
// nothing outside 127.0.0.1 is ever dialled), plus the command surface of
// sentinel mode.
func TestSentinelSeedConfig(t *testing.T) {
	requireRedisTools(t)
	seed := filepath.Join(testutil.ModuleRoot(), "..", "shared", "seed", "sentinel.conf")
	data, err := os.ReadFile(seed)
	if err != nil {
		t.Skipf("seed sentinel.conf not found at %s: %v", seed, err)
	}
	bin := testutil.VigilBin(t)
	dir := t.TempDir()

	// --test-config on the untouched copy: checked and never started.
	orig := filepath.Join(dir, "orig.conf")
	os.WriteFile(orig, data, 0o644)
	out, err := exec.Command(bin, "sentinel", orig, "--test-config").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Configuration OK") {
		t.Fatalf("--test-config: %v\n%s", err, out)
	}

	master := testutil.StartRedis(t, testutil.StartOptions{})
	conf := filepath.Join(dir, "sentinel.conf")
	text := strings.Replace(string(data), "sentinel monitor mymaster 192.168.1.10 6379 2",
		fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 2", master.Port), 1)
	if strings.Contains(text, "192.168.") {
		t.Fatalf("seed config has other 192.168.x addresses; refusing to run it")
	}
	os.WriteFile(conf, []byte(text), 0o644)
	port := testutil.FreePort(t)
	logPath := filepath.Join(dir, "sentinel.log")
	cmd := exec.Command(bin, "sentinel", conf, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", dir, "--daemonize", "no", "--logfile", logPath, "--pidfile", filepath.Join(dir, "s.pid"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	readLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	testutil.Eventually(t, 10*time.Second, "vigil sentinel answers PING", func() bool {
		v, err := sdo(addr, "PING")
		return err == nil && string(v.Str) == "PONG"
	})
	myid := string(mustDo(t, addr, "SENTINEL", "MYID").Str)
	logText := readLog()
	for _, want := range []string{":X ", "Sentinel ID is " + myid, fmt.Sprintf("+monitor master mymaster 127.0.0.1 %d quorum 2", master.Port), "Running mode=sentinel, port=" + strconv.Itoa(port)} {
		if !strings.Contains(logText, want) {
			t.Errorf("log lacks %q:\n%s", want, logText)
		}
	}
	rewritten, _ := os.ReadFile(conf)
	if !strings.Contains(string(rewritten), "sentinel myid "+myid) {
		t.Errorf("config not rewritten with myid:\n%s", rewritten)
	}
	if got := masterAddr(addr, "mymaster"); got != master.Addr {
		t.Errorf("GET-MASTER-ADDR-BY-NAME = %q, want %s", got, master.Addr)
	}
	m := fieldMap(mustDo(t, addr, "SENTINEL", "MASTER", "mymaster"))
	if m["down-after-milliseconds"] != "5000" || m["failover-timeout"] != "60000" || m["quorum"] != "2" || m["parallel-syncs"] != "1" {
		t.Errorf("SENTINEL MASTER = %v", m)
	}
	testutil.Eventually(t, 10*time.Second, "master run id learnt from INFO", func() bool {
		return len(fieldMap(mustDo(t, addr, "SENTINEL", "MASTER", "mymaster"))["runid"]) == 40
	})

	// Sentinel-mode command surface, compared with redis-sentinel 7.0's texts.
	if v := mustDo(t, addr, "get", "foo"); string(v.Str) != "ERR unknown command 'get', with args beginning with: 'foo' " {
		t.Errorf("GET: %q", v.Str)
	}
	if v := mustDo(t, addr, "PUBLISH", "foo", "bar"); string(v.Str) != "ERR Only HELLO messages are accepted by Sentinel instances." {
		t.Errorf("PUBLISH: %q", v.Str)
	}
	if v := mustDo(t, addr, "ROLE"); len(v.Elems) != 2 || string(v.Elems[0].Str) != "sentinel" || len(v.Elems[1].Elems) != 1 || string(v.Elems[1].Elems[0].Str) != "mymaster" {
		t.Errorf("ROLE: %v", v)
	}
	if v := mustDo(t, addr, "SENTINEL", "FOO"); string(v.Str) != "ERR unknown subcommand 'FOO'. Try SENTINEL HELP." {
		t.Errorf("SENTINEL FOO: %q", v.Str)
	}
	if v := mustDo(t, addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope"); !v.Null {
		t.Errorf("unknown master: %v", v)
	}
	if v := mustDo(t, addr, "SENTINEL", "MASTER", "nope"); string(v.Str) != "ERR No such master with that name" {
		t.Errorf("SENTINEL MASTER nope: %q", v.Str)
	}
	if v := mustDo(t, addr, "SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"); len(v.Elems) != 3 || v.Elems[0].Int != 0 || string(v.Elems[1].Str) != "*" || v.Elems[2].Int != 0 {
		t.Errorf("IS-MASTER-DOWN-BY-ADDR: %v", v)
	}
	info := string(mustDo(t, addr, "INFO").Str)
	for _, want := range []string{"# Server", "redis_mode:sentinel", "# Clients", "# Stats", "# Sentinel", "sentinel_masters:1", "sentinel_tilt:0",
		"sentinel_tilt_since_seconds:-1", "sentinel_running_scripts:0", "sentinel_scripts_queue_length:0", "sentinel_simulate_failure_flags:0",
		fmt.Sprintf("master0:name=mymaster,status=ok,address=%s,slaves=0,sentinels=1", master.Addr)} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
	if strings.Contains(info, "# Keyspace") || strings.Contains(info, "# Memory") {
		t.Errorf("INFO has data-server sections:\n%s", info)
	}
	if v := mustDo(t, addr, "SENTINEL", "CKQUORUM", "mymaster"); !strings.HasPrefix(string(v.Str), "NOQUORUM 1 usable Sentinels") {
		t.Errorf("CKQUORUM: %q", v.Str)
	}
	if v := mustDo(t, addr, "SENTINEL", "SET", "mymaster", "quorum", "0"); string(v.Str) != "ERR Invalid argument '0' for SENTINEL SET 'quorum'" {
		t.Errorf("SET quorum 0: %q", v.Str)
	}
	if v := mustDo(t, addr, "SENTINEL", "SET", "mymaster", "down-after-milliseconds", "4000"); string(v.Str) != "OK" {
		t.Errorf("SET: %q", v.Str)
	}
	rewritten, _ = os.ReadFile(conf)
	if !strings.Contains(string(rewritten), "sentinel down-after-milliseconds mymaster 4000") {
		t.Errorf("SET not persisted:\n%s", rewritten)
	}
	if v := mustDo(t, addr, "SENTINEL", "INFO-CACHE", "mymaster"); len(v.Elems) != 2 || len(v.Elems[1].Elems) != 1 ||
		!strings.Contains(string(v.Elems[1].Elems[0].Elems[1].Str), "redis_mode:standalone") {
		t.Errorf("INFO-CACHE: %v", v)
	}
	if v := mustDo(t, addr, "SENTINEL", "CONFIG", "GET", "announce-*"); len(v.Elems) != 6 {
		t.Errorf("CONFIG GET announce-*: %v", v)
	}
	if v := mustDo(t, addr, "SENTINEL", "DEBUG"); len(v.Elems) != 26 {
		t.Errorf("DEBUG: %v", v)
	}
	if v := mustDo(t, addr, "SENTINEL", "PENDING-SCRIPTS"); v.Type != '*' || len(v.Elems) != 0 {
		t.Errorf("PENDING-SCRIPTS: %v", v)
	}
	// HELLO in sentinel mode: mode "sentinel" and no "role" field.
	if v := mustDo(t, addr, "HELLO", "3"); len(v.Elems) != 12 || fieldMap(v)["mode"] != "sentinel" {
		t.Errorf("HELLO 3: %v", v)
	}
}

// TestSentinelFailoverVigil: three vigil Sentinels fail over a master whose
// data nodes are Debian's redis-server; the old master rejoins as a replica;
// a Sentinel restarted from its rewritten config has the new view.
func TestSentinelFailoverVigil(t *testing.T) {
	requireRedisTools(t)
	for _, data := range dataKinds() {
		t.Run("data="+data, func(t *testing.T) {
			c := startCluster(t, data, []string{"vigil", "vigil", "vigil"})
			// Scripts on every sentinel: they append their arguments to a file.
			var notes, reconfs []string
			for i, s := range c.sentinels {
				note, reconf := filepath.Join(s.dir, "notify.out"), filepath.Join(s.dir, "reconf.out")
				ns, rs := filepath.Join(s.dir, "notify.sh"), filepath.Join(s.dir, "reconf.sh")
				os.WriteFile(ns, []byte("#!/bin/sh\necho \"$@\" >> "+note+"\n"), 0o755)
				os.WriteFile(rs, []byte("#!/bin/sh\necho \"$@\" >> "+reconf+"\n"), 0o755)
				if v := mustDo(t, s.proc.Addr, "SENTINEL", "SET", "mymaster", "notification-script", ns, "client-reconfig-script", rs); string(v.Str) != "OK" {
					t.Fatalf("sentinel %d SET scripts: %v", i, v)
				}
				notes, reconfs = append(notes, note), append(reconfs, reconf)
			}
			failoverScenario(t, c)
			testutil.Eventually(t, 10*time.Second, "notification and client-reconfig scripts ran", func() bool {
				leaderSeen := false
				for i := range notes {
					n, _ := os.ReadFile(notes[i])
					if !strings.Contains(string(n), "+switch-master mymaster") || !strings.Contains(string(n), "+sdown master mymaster") {
						return false
					}
					r, _ := os.ReadFile(reconfs[i])
					if strings.Contains(string(r), "mymaster leader start 127.0.0.1") {
						leaderSeen = true
					}
				}
				return leaderSeen
			})

			// (4) restart a Sentinel from its rewritten config.
			s := c.sentinels[1]
			port := s.proc.Port
			s.proc.Kill()
			conf, _ := os.ReadFile(s.conf)
			if !strings.Contains(string(conf), fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 2", c.master.Port)) {
				t.Fatalf("rewritten config lacks the new master:\n%s", conf)
			}
			c.sentinels[1] = startSentinel(t, "vigil", s.conf, s.dir, port)
			addr := c.sentinels[1].proc.Addr
			// Straight from the config, before any hello/INFO.
			m := fieldMap(mustDo(t, addr, "SENTINEL", "MASTER", "mymaster"))
			if m["ip"]+":"+m["port"] != c.master.Addr || m["num-other-sentinels"] != "2" || m["config-epoch"] == "0" {
				t.Fatalf("restarted sentinel view = %v\nconfig:\n%s", m, conf)
			}
			c.waitDiscovery(t, c.master.Addr, 30*time.Second)
			t.Logf("restarted sentinel rejoined with master %s, config-epoch %s", c.master.Addr, m["config-epoch"])
		})
	}
}

// dataKinds: the data nodes under the Sentinels, Debian's redis-server and
// vigil (`vigil server --replicaof`). VIGIL_SENTINEL_DATA=redis or =vigil
// restricts the run to one of them.
func dataKinds() []string {
	switch os.Getenv("VIGIL_SENTINEL_DATA") {
	case "redis":
		return []string{"redis"}
	case "vigil":
		return []string{"vigil"}
	}
	return []string{"redis", "vigil"}
}

// TestSentinelFailoverMixed: vigil and redis-sentinel in one quorum.
func TestSentinelFailoverMixed(t *testing.T) {
	requireRedisTools(t)
	for _, kinds := range [][]string{{"vigil", "vigil", "redis"}, {"vigil", "redis", "redis"}} {
		t.Run(strings.Join(kinds, "+"), func(t *testing.T) {
			c := startCluster(t, "redis", kinds)
			failoverScenario(t, c)
			for _, s := range c.sentinels {
				if got := masterAddr(s.proc.Addr, "mymaster"); got != c.master.Addr {
					t.Errorf("%s sentinel %s says %s", s.kind, s.proc.Addr, got)
				}
			}
		})
	}
}

// TestSentinelLeaderDeath: the Sentinel elected leader crashes right after
// +elected-leader (SENTINEL SIMULATE-FAILURE crash-after-election, i.e.
// before it sends SLAVEOF NO ONE); the remaining vigil Sentinels must finish
// the failover within down-after + a few seconds (Redis would wait
// 2*failover-timeout).
func TestSentinelLeaderDeath(t *testing.T) {
	requireRedisTools(t)
	c := startCluster(t, "redis", []string{"vigil", "vigil", "vigil"})
	for _, s := range c.sentinels {
		if v := mustDo(t, s.proc.Addr, "SENTINEL", "SIMULATE-FAILURE", "crash-after-election"); string(v.Str) != "OK" {
			t.Fatalf("SIMULATE-FAILURE: %v", v)
		}
	}
	newAddr := c.replica.Addr
	c.master.Kill()
	var crashed *sentinelNode
	testutil.Eventually(t, 30*time.Second, "the elected leader crashes", func() bool {
		for _, s := range c.sentinels {
			if s.proc.Exited() {
				crashed = s
				return true
			}
		}
		return false
	})
	tCrash := time.Now()
	for _, s := range c.live() {
		// "help" clears the flags (Redis resets them before parsing).
		mustDo(t, s.proc.Addr, "SENTINEL", "SIMULATE-FAILURE", "help")
	}
	if !strings.Contains(crashed.proc.ReadLog(), "+elected-leader") {
		t.Fatalf("crashed sentinel was not the leader:\n%s", crashed.proc.ReadLog())
	}
	if infoField(newAddr, "replication", "role") != "slave" {
		t.Fatalf("the replica was promoted before the leader crashed")
	}
	limit := time.Duration(sDownAfter)*time.Millisecond + 10*time.Second
	ok := false
	for end := time.Now().Add(limit + 20*time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if c.allAgree(newAddr) && infoField(newAddr, "replication", "role") == "master" {
			ok = true
			break
		}
	}
	window := time.Since(tCrash)
	if !ok {
		c.dumpLogs(t)
		t.Fatalf("remaining sentinels did not finish the failover within %v", limit+20*time.Second)
	}
	t.Logf("leader %s crashed after +elected-leader; remaining sentinels failed over to %s %v after the crash (down-after %d ms, failover-timeout %d ms)",
		crashed.proc.Addr, newAddr, window, sDownAfter, sFailoverT)
	if window > limit {
		c.dumpLogs(t)
		t.Fatalf("takeover took %v, want <= down-after + 10s = %v", window, limit)
	}
	for _, s := range c.live() {
		if strings.Contains(s.proc.ReadLog(), "+vigil-takeover") {
			t.Logf("sentinel %s published +vigil-takeover", s.proc.Addr)
		}
	}
}
