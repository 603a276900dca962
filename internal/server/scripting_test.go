package server

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/vigil-kv/vigil/internal/config"
	"github.com/vigil-kv/vigil/internal/logging"
	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/testutil"
)

func luaEval(t *testing.T, L *lua.LState, src string) lua.LValue {
	t.Helper()
	if err := L.DoString("return " + src); err != nil {
		t.Fatal(err)
	}
	v := L.Get(-1)
	L.Pop(1)
	return v
}

func TestLuaToResp(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	cases := []struct {
		src       string
		proto, sp int
		want      string
	}{
		{"3.99", 2, 2, ":3\r\n"},
		{"-3.99", 2, 2, ":-3\r\n"},
		{"1e20", 2, 2, ":-9223372036854775808\r\n"},
		{"'abc'", 2, 2, "$3\r\nabc\r\n"},
		{"true", 2, 2, ":1\r\n"},
		{"false", 2, 2, "$-1\r\n"},
		{"false", 3, 2, "_\r\n"},
		{"true", 3, 3, "#t\r\n"},
		{"nil", 2, 2, "$-1\r\n"},
		{"{1,'a',nil,3}", 2, 2, "*2\r\n:1\r\n$1\r\na\r\n"},
		{"{1,{2,{}}}", 2, 2, "*2\r\n:1\r\n*2\r\n:2\r\n*0\r\n"},
		{"{err='E x'}", 2, 2, "-E x\r\n"},
		{"{ok='fine'}", 2, 2, "+fine\r\n"},
		{"{ok='a\\r\\nb'}", 2, 2, "+a  b\r\n"},
		{"{double=1.5}", 2, 2, "$3\r\n1.5\r\n"},
		{"{double=1.5}", 3, 2, ",1.5\r\n"},
		{"{map={a=1}}", 3, 2, "%1\r\n$1\r\na\r\n:1\r\n"},
		{"{map={a=1}}", 2, 2, "*2\r\n$1\r\na\r\n:1\r\n"},
		{"{set={x=true}}", 3, 2, "~1\r\n$1\r\nx\r\n"},
		{"{big_number='12'}", 3, 2, "(12\r\n"},
		{"{big_number='12'}", 2, 2, "$2\r\n12\r\n"},
		{"{verbatim_string={format='txt',string='hi'}}", 3, 2, "=6\r\ntxt:hi\r\n"},
		{"{a=1}", 2, 2, "*0\r\n"},
	}
	for _, c := range cases {
		w := &resp.Writer{Proto: c.proto}
		luaToResp(w, luaEval(t, L, c.src), c.sp, 0)
		if string(w.Buf) != c.want {
			t.Errorf("%s (proto %d/%d): got %q want %q", c.src, c.proto, c.sp, w.Buf, c.want)
		}
	}
}

func TestRespToLua(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	check := func(reply, luaExpr string) {
		t.Helper()
		v, rest := respToLua(L, []byte(reply))
		if len(rest) != 0 {
			t.Errorf("%q: leftover %q", reply, rest)
		}
		L.SetGlobal("v", v)
		if err := L.DoString("assert(" + luaExpr + ")"); err != nil {
			t.Errorf("%q: %s: %v", reply, luaExpr, err)
		}
	}
	check(":42\r\n", "v == 42")
	check("$3\r\nabc\r\n", "v == 'abc'")
	check("$-1\r\n", "v == false")
	check("*-1\r\n", "v == false")
	check("_\r\n", "v == nil")
	check("+OK\r\n", "v.ok == 'OK'")
	check("-WRONGTYPE bad thing\r\n", "v.err == 'WRONGTYPE bad thing'")
	check("-NOSPACE\r\n", "v.err == 'ERR NOSPACE'")
	check("*3\r\n:1\r\n$1\r\nx\r\n*1\r\n:2\r\n", "v[1] == 1 and v[2] == 'x' and v[3][1] == 2")
	check("%1\r\n$1\r\nk\r\n:5\r\n", "v.map.k == 5")
	check("~2\r\n$1\r\na\r\n$1\r\nb\r\n", "v.set.a == true and v.set.b == true")
	check(",1.5\r\n", "v.double == 1.5")
	check(",inf\r\n", "v.double == 1/0")
	check("#t\r\n", "v == true")
	check("#f\r\n", "v == false")
	check("(123\r\n", "v.big_number == '123'")
	check("=7\r\ntxt:abc\r\n", "v.verbatim_string.format == 'txt' and v.verbatim_string.string == 'abc'")
	check("|1\r\n$1\r\na\r\n:1\r\n:7\r\n", "v == 7")
}

func TestParseShebang(t *testing.T) {
	cases := []struct {
		body  string
		flags int
		err   string
	}{
		{"return 1", 0, ""},
		{"#!lua\nreturn 1", sfShebang, ""},
		{"#!lua flags=no-writes,allow-oom\nx", sfShebang | sfNoWrites | sfAllowOOM, ""},
		{"#!lua flags=no-writes", 0, "ERR Invalid script shebang"},
		{"#!lua flags=bad\n", 0, "ERR Unexpected flag in script shebang: bad"},
		{"#!lua x=1\n", 0, "ERR Unknown lua shebang option: x=1"},
		{"#!py\n", 0, "ERR Unexpected engine in script shebang: #!py"},
	}
	for _, c := range cases {
		f, err := parseShebang(c.body)
		if f != c.flags || err != c.err {
			t.Errorf("%q: got %d %q want %d %q", c.body, f, err, c.flags, c.err)
		}
	}
}

func TestRand48MatchesRedis(t *testing.T) {
	// Redis 7.0.15 on a fresh server: math.random(100) -> 40, then
	// math.random() -> 0.84048536971234.
	r := rand48{x: 0x1234ABCD330E}
	if v := float64(int64(r.next())%2147483647) / 2147483647; int(v*100)+1 != 40 {
		t.Fatalf("first draw %v", v)
	}
	if v := float64(int64(r.next())%2147483647) / 2147483647; luaNumberString(lua.LNumber(v)) != "0.84048536971234" {
		t.Fatalf("second draw %v", luaNumberString(lua.LNumber(v)))
	}
}

// TestScriptBusyAndKill runs an endless script on one connection and checks
// that another gets -BUSY, and that SCRIPT KILL stops it (or refuses when the
// script wrote).
func TestScriptBusyAndKill(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{Args: []string{"--busy-reply-threshold", "100"}})
	a := testutil.MustDial(t, p.Addr)
	b := testutil.MustDial(t, p.Addr)
	// Register both connections before the script takes the lock (a new
	// connection's setup needs the keyspace lock; see the report).
	a.MustDo(t, "PING")
	b.MustDo(t, "PING")

	// Read-only endless script: killable.
	if err := a.Send("EVAL", "while true do end", "0"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	v := b.MustDo(t, "PING")
	if v.Type != '-' || string(v.Str) != busyScriptErr {
		t.Fatalf("PING during busy script: %s", v)
	}
	v = b.MustDo(t, "SHUTDOWN")
	if v.Type != '-' || string(v.Str) != busyScriptErr {
		t.Fatalf("SHUTDOWN during busy script: %s", v)
	}
	v = b.MustDo(t, "SCRIPT", "KILL")
	if v.Type != '+' || string(v.Str) != "OK" {
		t.Fatalf("SCRIPT KILL: %s", v)
	}
	v, err := a.Read()
	if err != nil {
		t.Fatal(err)
	}
	if v.Type != '-' || string(v.Str) != "ERR Script killed by user with SCRIPT KILL... script: 3c6afd8d6fa3cce7e6d41f5e7a9e7ff4d7b3c2b3, on @user_script:1." {
		// The sha is that of "while true do end"; check the shape if it differs.
		if v.Type != '-' || len(v.Str) < 50 || string(v.Str[:46]) != "ERR Script killed by user with SCRIPT KILL... " {
			t.Fatalf("killed script reply: %s", v)
		}
	}
	if v := b.MustDo(t, "PING"); v.Type != '+' {
		t.Fatalf("PING after kill: %s", v)
	}
	if v := b.MustDo(t, "SCRIPT", "KILL"); v.Type != '-' || string(v.Str) != notBusyErr {
		t.Fatalf("SCRIPT KILL with no script: %s", v)
	}

	// pcall can't swallow the kill.
	a.Send("EVAL", "while true do pcall(function() while true do end end) end", "0")
	time.Sleep(300 * time.Millisecond)
	if v := b.MustDo(t, "SCRIPT", "KILL"); v.Type != '+' {
		t.Fatalf("SCRIPT KILL (pcall loop): %s", v)
	}
	if v, err := a.Read(); err != nil || v.Type != '-' {
		t.Fatalf("pcall-loop script reply: %s %v", v, err)
	}

	// A script that wrote can't be killed; SHUTDOWN NOSAVE ends it.
	a.Send("EVAL", "redis.call('set','k','v') while true do end", "0")
	time.Sleep(300 * time.Millisecond)
	v = b.MustDo(t, "SCRIPT", "KILL")
	if v.Type != '-' || string(v.Str) != unkillableErr {
		t.Fatalf("SCRIPT KILL after write: %s", v)
	}
	b.Send("SHUTDOWN", "NOSAVE")
	if !p.Wait(5 * time.Second) {
		t.Fatal("server did not exit after SHUTDOWN NOSAVE")
	}
}

// TestKillCtx checks the engine's long-lived kill context: children made by
// context.WithCancel (gopher-lua's coroutines) are cancelled with it, and
// after a reset it is usable again and forgets earlier children.
func TestKillCtx(t *testing.T) {
	var mu sync.Mutex
	k := newKillCtx(&mu)
	child, cancelChild := context.WithCancel(k)
	defer cancelChild()
	if len(k.fns) != 1 {
		t.Fatalf("child not registered through AfterFunc: %d", len(k.fns))
	}
	mu.Lock()
	fns := k.cancelLocked()
	mu.Unlock()
	for _, f := range fns {
		f()
	}
	select {
	case <-child.Done():
	case <-time.After(time.Second):
		t.Fatal("child not cancelled")
	}
	if k.Err() != context.Canceled {
		t.Fatalf("Err after cancel: %v", k.Err())
	}
	mu.Lock()
	k.resetLocked()
	mu.Unlock()
	if k.Err() != nil {
		t.Fatal("Err after reset")
	}
	select {
	case <-k.Done():
		t.Fatal("Done closed after reset")
	default:
	}
	// A child cancelled on its own unregisters; one left over is dropped
	// by the reset.
	c2, cancel2 := context.WithCancel(k)
	cancel2()
	_, cancel3 := context.WithCancel(k)
	defer cancel3()
	live := 0
	for _, f := range k.fns {
		if f != nil {
			live++
		}
	}
	if live != 1 || c2.Err() == nil {
		t.Fatalf("live registrations %d", live)
	}
	mu.Lock()
	k.resetLocked()
	mu.Unlock()
	if len(k.fns) != 0 {
		t.Fatal("registrations kept after reset")
	}
}

// TestScriptReuseInvisible checks that reusing KEYS/ARGV and the {ok=...}
// tables between scripts can't be observed: a script that changed them
// doesn't affect the next one (results as with Redis 7.0).
func TestScriptReuseInvisible(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{})
	c := testutil.MustDial(t, p.Addr)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"EVAL", "return KEYS", "2", "a", "b"}, "1) \"a\"\n2) \"b\""},
		{[]string{"EVAL", "KEYS[3] = 'z' KEYS.x = 1 return #KEYS", "2", "a", "b"}, "(integer) 3"},
		{[]string{"EVAL", "return {#KEYS, KEYS.x}", "2", "a", "b"}, "1) (integer) 2"},
		{[]string{"EVAL", "KEYS[1] = nil return 1", "2", "a", "b"}, "(integer) 1"},
		{[]string{"EVAL", "return KEYS", "2", "a", "b"}, "1) \"a\"\n2) \"b\""},
		{[]string{"EVAL", "setmetatable(ARGV, {__index = function() return 'd' end}) return ARGV[9]", "0", "x"}, "\"d\""},
		{[]string{"EVAL", "return tostring(ARGV[9])", "0", "x"}, "\"nil\""},
		{[]string{"EVAL", "return ARGV", "0", "x", "y", "z"}, "1) \"x\"\n2) \"y\"\n3) \"z\""},
		{[]string{"EVAL", "return ARGV", "0", "x"}, "1) \"x\""},
		{[]string{"EVAL", "return #ARGV", "0"}, "(integer) 0"},
		{[]string{"EVAL", "local r = redis.call('SET', 'k', 'v') r.ok = 'CHANGED' r.extra = 1 return r", "0"}, "CHANGED"},
		{[]string{"EVAL", "local r = redis.call('SET', 'k', 'v') return tostring(r.extra)", "0"}, "\"nil\""},
		{[]string{"EVAL", "local r = redis.call('SET', 'k', 'v') r.ok = 'NOPE' return 1", "0"}, "(integer) 1"},
		{[]string{"EVAL", "return redis.call('SET', 'k', 'v')", "0"}, "OK"},
		{[]string{"EVAL", "local a = redis.call('SET', 'k', 'v') local b = redis.call('PING') a.ok = 'A' return {a.ok, b.ok, tostring(a == b)}", "0"}, "1) \"A\"\n2) \"PONG\"\n3) \"false\""},
		{[]string{"EVAL", "return {redis.call('PING').ok, redis.call('SET', 'k', 'v').ok}", "0"}, "1) \"PONG\"\n2) \"OK\""},
		{[]string{"EVAL", "getmetatable('').__index.x = 1", "0"}, "(error) ERR user_script:1: Attempt to modify a readonly table script: 51bcc41a2e1b62ad6c9fdf5c1e8c1b5a5cc20e08, on @user_script:1."},
		{[]string{"EVAL", "return tostring(getmetatable('').__index == string)", "0"}, "\"true\""},
		{[]string{"EVAL", "return ('abc'):upper()", "0"}, "\"ABC\""},
		{[]string{"EVAL", "return select('#', ...)", "0"}, "(integer) 0"},
		{[]string{"EVAL", "local function f(...) return arg.n end return f(1, 2, 3)", "0"}, "(integer) 3"},
		{[]string{"EVAL", "return redis.call('SET', 'n', 3.5)", "0"}, "OK"},
		{[]string{"EVAL", "return {redis.call('GET', 'n'), redis.call('INCRBY', 'i', 12345678901234)}", "0"}, "1) \"3.5\"\n2) (integer) 12345678901234"},
	}
	for _, tc := range cases {
		v := c.MustDo(t, tc.args...)
		got := v.String()
		if v.Type == '-' {
			got = "(error) " + string(v.Str)
		}
		if tc.want == "(error) ERR user_script:1: Attempt to modify a readonly table script: 51bcc41a2e1b62ad6c9fdf5c1e8c1b5a5cc20e08, on @user_script:1." {
			if v.Type != '-' || !strings.HasPrefix(string(v.Str), "ERR user_script:1: Attempt to modify a readonly table script: ") {
				t.Errorf("%q: got %s", tc.args, got)
			}
			continue
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: got %q want %q", tc.args, got, tc.want)
		}
	}
}

// TestScriptBusyAfterManyScripts checks the shared busy timer: after many
// short scripts (which leave it armed) a slow one still becomes busy, and
// SCRIPT KILL stops a script looping inside a coroutine.
func TestScriptBusyAfterManyScripts(t *testing.T) {
	p := testutil.StartVigil(t, testutil.StartOptions{Args: []string{"--busy-reply-threshold", "100"}})
	a := testutil.MustDial(t, p.Addr)
	b := testutil.MustDial(t, p.Addr)
	a.MustDo(t, "PING")
	b.MustDo(t, "PING")
	for round := 0; round < 2; round++ {
		for i := 0; i < 2000; i++ {
			if v := a.MustDo(t, "EVAL", "return redis.call('PING')", "0"); v.Type != '+' {
				t.Fatalf("fast script: %s", v)
			}
		}
		if err := a.Send("EVAL", "local f = coroutine.wrap(function() while true do end end) f()", "0"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		deadline := time.Now().Add(3 * time.Second)
		for {
			v := b.MustDo(t, "PING")
			if v.Type == '-' && string(v.Str) == busyScriptErr {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no BUSY: %s", round, v)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if v := b.MustDo(t, "SCRIPT", "KILL"); v.Type != '+' {
			t.Fatalf("SCRIPT KILL: %s", v)
		}
		if v, err := a.Read(); err != nil || v.Type != '-' || !strings.HasPrefix(string(v.Str), "ERR Script killed by user with SCRIPT KILL...") {
			t.Fatalf("killed script reply: %s %v", v, err)
		}
		if v := a.MustDo(t, "EVAL", "local co = coroutine.create(function() coroutine.yield(1) end) return select(2, coroutine.resume(co))", "0"); v.Type != ':' || v.Int != 1 {
			t.Fatalf("script after kill: %s", v)
		}
	}
	if n := strings.Count(p.ReadLog(), "Slow script detected"); n != 2 {
		t.Errorf("%d slow script warnings, want 2", n)
	}
}

// BenchmarkEvalSet is redis-benchmark's scripted SET without the network:
// the per-call cost of EVAL over the command it runs.
func BenchmarkEvalSet(b *testing.B) {
	s := New(config.NewServer(), logging.New(io.Discard, slog.LevelWarn))
	c := s.NewFakeClient()
	args := [][]byte{[]byte("EVAL"), []byte("return redis.call('SET', KEYS[1], ARGV[1])"), []byte("1"), []byte("key:000000000000"), []byte("val")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		strconv.AppendInt(args[3][:4], int64(i%100000), 10)
		s.mu.Lock()
		out := c.Exec(args)
		s.mu.Unlock()
		if string(out) != "+OK\r\n" {
			b.Fatalf("reply %q", out)
		}
	}
}

func TestPristineArray(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	cases := []struct {
		src  string
		n    int
		want bool
	}{
		{"{}", 0, true},
		{"{'a'}", 1, true},
		{"{'a', 'b'}", 2, true},
		{"{'a', 'b'}", 1, false},
		{"{'a'}", 2, false},
		{"(function() local t = {} t.x = 1 return t end)()", 0, false},
		{"(function() local t = {'a'} t.x = 1 return t end)()", 1, false},
		{"(function() local t = {'a', 'b'} t[2] = nil return t end)()", 1, true},
		{"(function() local t = {'a', 'b'} t[1] = nil return t end)()", 1, false},
		{"(function() local t = {'a'} t[3] = 'c' return t end)()", 1, false},
		{"(function() local t = {'a'} t.x = 1 t.x = nil return t end)()", 1, true},
		{"(function() local t = {'a'} setmetatable(t, {}) return t end)()", 1, false},
		{"{[2] = 'b', [1] = 'a'}", 2, true},
		{"{[1.5] = 'x'}", 0, false},
	}
	for _, c := range cases {
		tb := luaEval(t, L, c.src).(*lua.LTable)
		if got := pristineArray(tb, c.n); got != c.want {
			t.Errorf("%s n=%d: got %v", c.src, c.n, got)
		}
	}
	// Large counts take the iterating path.
	big := L.CreateTable(40, 0)
	for i := 1; i <= 40; i++ {
		big.RawSetInt(i, lua.LString("v"))
	}
	if !pristineArray(big, 40) || pristineArray(big, 39) {
		t.Error("40 entries")
	}
	big.RawSetString("x", lua.LTrue)
	if pristineArray(big, 40) {
		t.Error("40 entries and a field")
	}
}
