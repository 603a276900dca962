package rdb

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------
// Minimal RESP2 client (test only).

type respConn struct {
	c net.Conn
	r *bufio.Reader
}

type respError string

func (e respError) Error() string { return string(e) }

func dialRESP(addr string) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &respConn{c: c, r: bufio.NewReader(c)}, nil
}

func (c *respConn) Close() { c.c.Close() }

// do sends a command and returns the reply: []byte (bulk/simple), int64,
// []any (array), nil (null) or respError.
func (c *respConn) do(args ...any) (any, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		var s []byte
		switch v := a.(type) {
		case string:
			s = []byte(v)
		case []byte:
			s = v
		case int:
			s = strconv.AppendInt(nil, int64(v), 10)
		case int64:
			s = strconv.AppendInt(nil, v, 10)
		default:
			panic(fmt.Sprintf("bad arg %T", a))
		}
		fmt.Fprintf(&b, "$%d\r\n", len(s))
		b.Write(s)
		b.WriteString("\r\n")
	}
	c.c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.c.Write(b.Bytes()); err != nil {
		return nil, err
	}
	return c.read()
}

func (c *respConn) read() (any, error) {
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 {
		return nil, errors.New("short RESP line")
	}
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+':
		return []byte(body), nil
	case '-':
		return respError(body), nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return n, err
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		p := make([]byte, n+2)
		if _, err := ioReadFull(c.r, p); err != nil {
			return nil, err
		}
		return p[:n], nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, n)
		for i := range out {
			if out[i], err = c.read(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad RESP type %q", line[0])
}

func ioReadFull(r *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := r.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// must runs a command and fails the test on transport or server errors.
func (c *respConn) must(t testing.TB, args ...any) any {
	t.Helper()
	v, err := c.do(args...)
	if err != nil {
		t.Fatalf("%v: %v", args[0], err)
	}
	if e, ok := v.(respError); ok {
		t.Fatalf("%v: server error: %s", args[:min(len(args), 2)], e)
	}
	return v
}

// ---------------------------------------------------------------------------
// redis-server harness.

func requireRedis(t testing.TB) (server, checker string) {
	t.Helper()
	s, err1 := exec.LookPath("redis-server")
	c, err2 := exec.LookPath("redis-check-rdb")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server/redis-check-rdb not installed but CI=true: live compatibility tests are mandatory")
		}
		t.Skip("redis-server or redis-check-rdb not installed: skipping live compatibility test")
	}
	return s, c
}

type redisServer struct {
	cmd  *exec.Cmd
	addr string
	dir  string
	log  *bytes.Buffer
	done chan error
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRedis starts redis-server on 127.0.0.1 with dir as its working
// directory (loading dir/dump.rdb if present). It is killed by PID at
// test cleanup.
func startRedis(t testing.TB, dir string, extra ...string) *redisServer {
	t.Helper()
	bin, _ := requireRedis(t)
	port := freePort(t)
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--dbfilename", "dump.rdb", "--daemonize", "no", "--logfile", "", "--databases", "16"}
	args = append(args, extra...)
	s := &redisServer{cmd: exec.Command(bin, args...), addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, log: &bytes.Buffer{}, done: make(chan error, 1)}
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			t.Fatalf("redis-server exited during startup (%v):\n%s", err, s.log.String())
		default:
		}
		if c, err := dialRESP(s.addr); err == nil {
			v, err := c.do("PING")
			c.Close()
			if err == nil {
				if b, ok := v.([]byte); ok && string(b) == "PONG" {
					return s
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis-server did not become ready:\n%s", s.log.String())
	return nil
}

func (s *redisServer) conn(t testing.TB) *respConn {
	t.Helper()
	c, err := dialRESP(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func checkRDB(t testing.TB, path string) {
	t.Helper()
	_, checker := requireRedis(t)
	out, err := exec.Command(checker, path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RDB looks OK") {
		t.Fatalf("redis-check-rdb %s failed (%v):\n%s", path, err, out)
	}
}

// ---------------------------------------------------------------------------
// Expected-content model shared by golden files and live tests.

// bstr is a []byte that marshals as a JSON string when it is valid UTF-8
// and as "base64:..." otherwise.
type bstr []byte

func (b bstr) MarshalJSON() ([]byte, error) {
	if utf8.Valid(b) && !bytes.HasPrefix(b, []byte("base64:")) {
		return json.Marshal(string(b))
	}
	return json.Marshal("base64:" + base64.StdEncoding.EncodeToString(b))
}

func (b *bstr) UnmarshalJSON(p []byte) error {
	var s string
	if err := json.Unmarshal(p, &s); err != nil {
		return err
	}
	if rest, ok := strings.CutPrefix(s, "base64:"); ok {
		d, err := base64.StdEncoding.DecodeString(rest)
		*b = d
		return err
	}
	*b = []byte(s)
	return nil
}

type jzmember struct {
	Member bstr   `json:"member"`
	Score  string `json:"score"`
}

type jfield struct {
	Field bstr `json:"field"`
	Value bstr `json:"value"`
}

type jkey struct {
	DB       int        `json:"db"`
	Key      bstr       `json:"key"`
	Type     string     `json:"type"`
	Encoding string     `json:"encoding,omitempty"`
	ExpireMs int64      `json:"expire_ms,omitempty"`
	Str      bstr       `json:"str,omitempty"`
	List     []bstr     `json:"list,omitempty"`
	Set      []bstr     `json:"set,omitempty"`
	ZSet     []jzmember `json:"zset,omitempty"`
	Hash     []jfield   `json:"hash,omitempty"`
}

type jdataset struct {
	Functions []string `json:"functions,omitempty"`
	Keys      []jkey   `json:"keys"`
}

func typeName(t Type) string {
	return map[Type]string{TypeString: "string", TypeList: "list", TypeSet: "set", TypeZSet: "zset", TypeHash: "hash"}[t]
}

func parseRedisScore(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		panic("bad score " + s)
	}
	return f
}

// canon renders a key's contents in a canonical, order-insensitive-where-
// Redis-is form for comparisons.
func canon(db int, key []byte, v *Value, expire int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "db=%d key=%q type=%s expire=%d\n", db, key, typeName(v.Type), expire)
	switch v.Type {
	case TypeString:
		fmt.Fprintf(&b, "%q\n", v.Str)
	case TypeList:
		for _, e := range v.List {
			fmt.Fprintf(&b, "%q\n", e)
		}
	case TypeSet:
		s := make([]string, len(v.Set))
		for i, e := range v.Set {
			s[i] = strconv.Quote(string(e))
		}
		slices.Sort(s)
		b.WriteString(strings.Join(s, "\n"))
	case TypeZSet:
		z := sortedZSet(v.ZSet)
		for _, m := range z {
			fmt.Fprintf(&b, "%q %s\n", m.Member, strconv.FormatFloat(m.Score, 'g', -1, 64))
		}
	case TypeHash:
		s := make([]string, len(v.Hash))
		for i, f := range v.Hash {
			s[i] = strconv.Quote(string(f.Field)) + "=" + strconv.Quote(string(f.Value))
		}
		slices.Sort(s)
		b.WriteString(strings.Join(s, "\n"))
	}
	return b.String()
}

func (k *jkey) value() *Value {
	v := &Value{}
	switch k.Type {
	case "string":
		v.Type, v.Str = TypeString, []byte(k.Str)
		if v.Str == nil {
			v.Str = []byte{}
		}
	case "list":
		v.Type = TypeList
		for _, e := range k.List {
			v.List = append(v.List, []byte(e))
		}
	case "set":
		v.Type = TypeSet
		for _, e := range k.Set {
			v.Set = append(v.Set, []byte(e))
		}
	case "zset":
		v.Type = TypeZSet
		for _, m := range k.ZSet {
			v.ZSet = append(v.ZSet, ZMember{[]byte(m.Member), parseRedisScore(m.Score)})
		}
	case "hash":
		v.Type = TypeHash
		for _, f := range k.Hash {
			v.Hash = append(v.Hash, HashField{[]byte(f.Field), []byte(f.Value)})
		}
	default:
		panic("unknown type " + k.Type)
	}
	return v
}

func (k *jkey) canon() string { return canon(k.DB, k.Key, k.value(), k.ExpireMs) }

// readKey fetches one key's contents from a live server (current DB).
func readKey(t testing.TB, c *respConn, db int, key []byte) jkey {
	t.Helper()
	k := jkey{DB: db, Key: bstr(key)}
	k.Type = string(c.must(t, "TYPE", key).([]byte))
	if enc, ok := c.must(t, "OBJECT", "ENCODING", key).([]byte); ok {
		k.Encoding = string(enc)
	}
	if exp := c.must(t, "PEXPIRETIME", key).(int64); exp > 0 {
		k.ExpireMs = exp
	}
	arr := func(v any) [][]byte {
		var out [][]byte
		for _, e := range v.([]any) {
			out = append(out, e.([]byte))
		}
		return out
	}
	switch k.Type {
	case "string":
		k.Str = bstr(c.must(t, "GET", key).([]byte))
	case "list":
		for _, e := range arr(c.must(t, "LRANGE", key, "0", "-1")) {
			k.List = append(k.List, e)
		}
	case "set":
		for _, e := range arr(c.must(t, "SMEMBERS", key)) {
			k.Set = append(k.Set, e)
		}
		slices.SortFunc(k.Set, func(a, b bstr) int { return bytes.Compare(a, b) })
	case "zset":
		a := arr(c.must(t, "ZRANGE", key, "0", "-1", "WITHSCORES"))
		for i := 0; i+1 < len(a); i += 2 {
			k.ZSet = append(k.ZSet, jzmember{a[i], string(a[i+1])})
		}
	case "hash":
		a := arr(c.must(t, "HGETALL", key))
		for i := 0; i+1 < len(a); i += 2 {
			k.Hash = append(k.Hash, jfield{a[i], a[i+1]})
		}
	default:
		t.Fatalf("unexpected type %q for key %q", k.Type, key)
	}
	return k
}

// readAll fetches the whole keyspace (16 DBs) of a live server.
func readAll(t testing.TB, c *respConn) []jkey {
	t.Helper()
	var keys []jkey
	for db := 0; db < 16; db++ {
		c.must(t, "SELECT", db)
		cursor := "0"
		var names [][]byte
		for {
			r := c.must(t, "SCAN", cursor, "COUNT", "1000").([]any)
			cursor = string(r[0].([]byte))
			for _, k := range r[1].([]any) {
				names = append(names, k.([]byte))
			}
			if cursor == "0" {
				break
			}
		}
		slices.SortFunc(names, bytes.Compare)
		names = slices.CompactFunc(names, bytes.Equal)
		for _, n := range names {
			keys = append(keys, readKey(t, c, db, n))
		}
	}
	c.must(t, "SELECT", 0)
	return keys
}

func sortKeys(keys []jkey) {
	slices.SortFunc(keys, func(a, b jkey) int {
		if a.DB != b.DB {
			return a.DB - b.DB
		}
		return bytes.Compare(a.Key, b.Key)
	})
}

// collector is a Handler that stores deep copies of everything.
type collector struct {
	aux     map[string]string
	resize  [][3]uint64
	entries []Entry
	funcs   []string
}

func (c *collector) Aux(k, v string) error {
	if c.aux == nil {
		c.aux = map[string]string{}
	}
	c.aux[k] = v
	return nil
}
func (c *collector) ResizeDB(db int, size, exp uint64) error {
	c.resize = append(c.resize, [3]uint64{uint64(db), size, exp})
	return nil
}
func (c *collector) Function(code []byte) error { c.funcs = append(c.funcs, string(code)); return nil }
func (c *collector) Entry(e *Entry) error {
	cp := *e
	cp.Key = slices.Clone(e.Key)
	cp.Value = cloneValue(&e.Value)
	c.entries = append(c.entries, cp)
	return nil
}

// rawCollector is a collector that takes hash listpacks raw
// (ListpackHandler) and decodes them itself.
type rawCollector struct {
	collector
	err error
}

func (c *rawCollector) RawHashListpacks() bool { return true }
func (c *rawCollector) Entry(e *Entry) error {
	if e.Value.Listpack != nil {
		elems, err := ListpackDecode(e.Value.Listpack)
		if err != nil || len(elems)%2 != 0 {
			c.err = fmt.Errorf("raw listpack of %q does not decode: %v", e.Key, err)
			return c.err
		}
		maxLen := 0
		v := Value{Type: TypeHash}
		for i := 0; i < len(elems); i += 2 {
			v.Hash = append(v.Hash, HashField{elems[i], elems[i+1]})
			maxLen = max(maxLen, len(elems[i]), len(elems[i+1]))
		}
		if maxLen != e.Value.ListpackMaxLen {
			c.err = fmt.Errorf("ListpackMaxLen of %q = %d, want %d", e.Key, e.Value.ListpackMaxLen, maxLen)
			return c.err
		}
		cp := *e
		cp.Value = v
		return c.collector.Entry(&cp)
	}
	return c.collector.Entry(e)
}

func cloneValue(v *Value) Value {
	out := Value{Type: v.Type, Str: slices.Clone(v.Str)}
	for _, e := range v.List {
		out.List = append(out.List, slices.Clone(e))
	}
	for _, e := range v.Set {
		out.Set = append(out.Set, slices.Clone(e))
	}
	for _, m := range v.ZSet {
		out.ZSet = append(out.ZSet, ZMember{slices.Clone(m.Member), m.Score})
	}
	for _, f := range v.Hash {
		out.Hash = append(out.Hash, HashField{slices.Clone(f.Field), slices.Clone(f.Value)})
	}
	return out
}

func (c *collector) canon() []string {
	var out []string
	for i := range c.entries {
		e := &c.entries[i]
		out = append(out, canon(e.DB, e.Key, &e.Value, e.ExpireMs))
	}
	slices.Sort(out)
	return out
}

func canonKeys(keys []jkey) []string {
	var out []string
	for i := range keys {
		out = append(out, keys[i].canon())
	}
	slices.Sort(out)
	return out
}

// diffCanon fails the test listing the first differences.
func diffCanon(t testing.TB, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	gm := map[string]bool{}
	for _, g := range got {
		gm[g] = true
	}
	wm := map[string]bool{}
	for _, w := range want {
		wm[w] = true
	}
	n := 0
	for _, w := range want {
		if !gm[w] && n < 3 {
			t.Errorf("%s: missing/different:\n%.600s", what, w)
			n++
		}
	}
	for _, g := range got {
		if !wm[g] && n < 6 {
			t.Errorf("%s: unexpected:\n%.600s", what, g)
			n++
		}
	}
	t.Fatalf("%s: got %d keys, want %d", what, len(got), len(want))
}

func testdata(name string) string { return filepath.Join("testdata", name) }
