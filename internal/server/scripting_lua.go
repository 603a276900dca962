package server

// The Lua side of scripting: the sandboxed VM, the redis.* API and the
// conversions between Lua values and RESP (Redis 7.0's script_lua.c).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/logging"
	"github.com/vigil-kv/vigil/internal/resp"
)

const readonlyTableErr = "Attempt to modify a readonly table"

func newScriptEngine(s *Server) *scriptEngine {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	e := &scriptEngine{s: s, L: L, cache: map[string]*evalScript{}, bodies: map[string]*evalScript{},
		proxies: map[*lua.LTable]*lua.LTable{}, ro: map[*lua.LTable]bool{}}
	e.kctx = newKillCtx(&e.mu)
	e.busyTimer = time.AfterFunc(time.Hour, e.busyCheck)
	e.busyTimer.Stop()
	e.rand.x = 0x1234ABCD330E // rand48's unseeded state, as in Redis
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}, {lua.CoroutineLibName, lua.OpenCoroutine}} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	G := L.G.Global
	e.globals = G
	for _, name := range []string{"dofile", "loadfile", "print", "module", "require", "getfenv", "setfenv", "newproxy", "_printregs", "_GOPHER_LUA_VERSION", "channel"} {
		G.RawSetString(name, lua.LNil)
	}
	G.RawSetString("pcall", L.NewFunction(e.luaPcall))
	G.RawSetString("error", L.NewFunction(luaErrorFn))
	G.RawSetString("rawset", L.NewFunction(e.luaRawset))
	G.RawSetString("rawget", L.NewFunction(e.luaRawget))
	G.RawSetString("setmetatable", L.NewFunction(e.luaSetmetatable))
	G.RawSetString("next", L.NewFunction(e.luaNext))
	G.RawSetString("pairs", L.NewFunction(e.luaPairs))
	G.RawSetString("ipairs", L.NewFunction(e.luaIpairs))
	G.RawSetString("tostring", L.NewFunction(luaTostring))
	G.RawSetString("collectgarbage", L.NewFunction(func(L *lua.LState) int {
		switch L.OptString(1, "collect") {
		case "count":
			L.Push(lua.LNumber(64))
		default:
			L.Push(lua.LNumber(0))
		}
		return 1
	}))
	G.RawSetString("gcinfo", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(64)); return 1 }))
	loadstring := G.RawGetString("loadstring").(*lua.LFunction)
	load := G.RawGetString("load").(*lua.LFunction)
	G.RawSetString("loadstring", L.NewFunction(e.envLoader(loadstring)))
	G.RawSetString("load", L.NewFunction(e.envLoader(load)))

	math := G.RawGetString("math").(*lua.LTable)
	math.RawSetString("random", L.NewFunction(e.mathRandom))
	math.RawSetString("randomseed", L.NewFunction(e.mathRandomseed))
	tbl := G.RawGetString("table").(*lua.LTable)
	tbl.RawSetString("foreach", L.NewFunction(tableForeach(false)))
	tbl.RawSetString("foreachi", L.NewFunction(tableForeach(true)))
	tbl.RawSetString("setn", L.NewFunction(func(L *lua.LState) int { L.RaiseError("'setn' is obsolete"); return 0 }))

	G.RawSetString("redis", e.redisAPI())
	G.RawSetString("cjson", openCjson(L))
	G.RawSetString("bit", openBit(L))
	G.RawSetString("struct", openStruct(L))

	// Read-only libraries: scripts see proxies whose writes fail.
	for _, name := range []string{"string", "math", "table", "coroutine", "redis", "cjson", "bit", "struct"} {
		real := G.RawGetString(name).(*lua.LTable)
		G.RawSetString(name, e.protect(real, lua.LNil))
	}
	// Strings' metatable indexes the string library: the read-only one, as
	// in Redis (getmetatable('').__index == string, and writing to it fails).
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		mt.RawSetString("__index", G.RawGetString("string"))
	}
	// Globals: reads of missing names fail, writes fail.
	missing := L.NewTable()
	missing.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Script attempted to access nonexistent global variable '%s'", L.ToString(2))
		return 0
	}))
	L.SetMetatable(G, missing)
	e.env = e.protect(G, lua.LNil)
	G.RawSetString("_G", e.env)
	L.G.Global = G

	e.handler = L.NewFunction(e.errHandler)

	fc := &Client{srv: s, id: s.nextID.Add(1), proto: 2, user: "default", authed: true, fake: true,
		created: time.Now(), wake: make(chan struct{}, 1)}
	fc.lastInteraction = fc.created
	fc.name = ""
	fc.w.Proto = 2
	fc.ctx.Client = fc
	fc.ctx.Srv = s
	fc.ctx.KS = s.ks
	fc.ctx.DB = s.ks.DBs[0]
	e.fake = fc
	return e
}

// protect returns a read-only proxy for real: reads fall through to it,
// writes raise "Attempt to modify a readonly table".
func (e *scriptEngine) protect(real *lua.LTable, _ lua.LValue) *lua.LTable {
	L := e.L
	p := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", real)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError(readonlyTableErr)
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(p, mt)
	e.proxies[p] = real
	e.ro[p] = true
	e.ro[real] = true
	return p
}

func (e *scriptEngine) unproxy(t *lua.LTable) *lua.LTable {
	if r, ok := e.proxies[t]; ok {
		return r
	}
	return t
}

// envLoader wraps load/loadstring so loaded chunks see the protected globals.
func (e *scriptEngine) envLoader(orig *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		top := L.GetTop()
		L.Push(orig)
		for i := 1; i <= top; i++ {
			L.Push(L.Get(i))
		}
		L.Call(top, lua.MultRet)
		n := L.GetTop() - top
		if f, ok := L.Get(top + 1).(*lua.LFunction); ok && !f.IsG {
			f.Env = e.env
		}
		return n
	}
}

func (e *scriptEngine) luaRawset(L *lua.LState) int {
	t := L.CheckTable(1)
	if e.ro[t] {
		L.Error(lua.LString(readonlyTableErr), 0)
	}
	t.RawSet(L.CheckAny(2), L.CheckAny(3))
	L.Push(t)
	return 1
}

func (e *scriptEngine) luaRawget(L *lua.LState) int {
	t := e.unproxy(L.CheckTable(1))
	L.Push(t.RawGet(L.CheckAny(2)))
	return 1
}

func (e *scriptEngine) luaSetmetatable(L *lua.LState) int {
	t := L.CheckTable(1)
	if e.ro[t] {
		L.Error(lua.LString(readonlyTableErr), 0)
	}
	mt := L.Get(2)
	if mt != lua.LNil {
		if _, ok := mt.(*lua.LTable); !ok {
			L.ArgError(2, "nil or table expected")
		}
	}
	if cur, ok := L.GetMetatable(t).(*lua.LTable); ok && cur.RawGetString("__metatable") != lua.LNil {
		L.RaiseError("cannot change a protected metatable")
	}
	L.SetMetatable(t, mt)
	L.Push(t)
	return 1
}

func (e *scriptEngine) luaNext(L *lua.LState) int {
	t := e.unproxy(L.CheckTable(1))
	k, v := t.Next(L.Get(2))
	if k == lua.LNil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(k)
	L.Push(v)
	return 2
}

func (e *scriptEngine) luaPairs(L *lua.LState) int {
	t := e.unproxy(L.CheckTable(1))
	L.Push(L.G.Global.RawGetString("next"))
	L.Push(t)
	L.Push(lua.LNil)
	return 3
}

func (e *scriptEngine) luaIpairs(L *lua.LState) int {
	t := e.unproxy(L.CheckTable(1))
	L.Push(L.NewFunction(func(L *lua.LState) int {
		i := L.CheckInt(2) + 1
		v := L.CheckTable(1).RawGetInt(i)
		if v == lua.LNil {
			return 0
		}
		L.Push(lua.LNumber(i))
		L.Push(v)
		return 2
	}))
	L.Push(t)
	L.Push(lua.LNumber(0))
	return 3
}

func tableForeach(indexed bool) lua.LGFunction {
	return func(L *lua.LState) int {
		t := L.CheckTable(1)
		f := L.CheckFunction(2)
		call := func(k, v lua.LValue) bool {
			L.Push(f)
			L.Push(k)
			L.Push(v)
			L.Call(2, 1)
			r := L.Get(-1)
			L.Pop(1)
			if r != lua.LNil {
				L.Push(r)
				return true
			}
			return false
		}
		if indexed {
			for i := 1; i <= t.Len(); i++ {
				if call(lua.LNumber(i), t.RawGetInt(i)) {
					return 1
				}
			}
			return 0
		}
		for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
			if call(k, v) {
				return 1
			}
		}
		return 0
	}
}

// luaNumberString formats like Lua 5.1's tostring ("%.14g").
func luaNumberString(n lua.LNumber) string {
	f := float64(n)
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

func luaTostring(L *lua.LState) int {
	v := L.CheckAny(1)
	if n, ok := v.(lua.LNumber); ok {
		L.Push(lua.LString(luaNumberString(n)))
		return 1
	}
	if fn := L.GetMetaField(v, "__tostring"); fn != lua.LNil {
		L.Push(fn)
		L.Push(v)
		L.Call(1, 1)
		return 1
	}
	L.Push(lua.LString(v.String()))
	return 1
}

// luaErrorFn is Lua's error(): numbers get a position like strings do.
func luaErrorFn(L *lua.LState) int {
	obj := L.Get(1)
	level := L.OptInt(2, 1)
	if n, ok := obj.(lua.LNumber); ok {
		obj = lua.LString(luaNumberString(n))
	}
	L.Error(obj, level)
	return 0
}

// luaPcall is Redis 7's pcall: an error table with an err field becomes
// its message string.
func (e *scriptEngine) luaPcall(L *lua.LState) int {
	L.CheckAny(1)
	nargs := L.GetTop() - 1
	if err := L.PCall(nargs, lua.MultRet, nil); err != nil {
		L.Push(lua.LFalse)
		obj := lua.LValue(lua.LString(err.Error()))
		var aerr *lua.ApiError
		if errors.As(err, &aerr) {
			obj = aerr.Object
		}
		if t, ok := obj.(*lua.LTable); ok {
			if s, ok := t.RawGetString("err").(lua.LString); ok {
				obj = s
			}
		}
		L.Push(obj)
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

// errHandler is __redis__err__handler: turn the error into a table with
// err, source and line.
func (e *scriptEngine) errHandler(L *lua.LState) int {
	obj := L.Get(1)
	tbl, ok := obj.(*lua.LTable)
	if !ok {
		tbl = L.NewTable()
		s := obj.String()
		if n, ok := obj.(lua.LNumber); ok {
			s = luaNumberString(n)
		}
		tbl.RawSetString("err", lua.LString("ERR "+s))
	}
	for level := 1; level <= 3; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, nil); err != nil {
			break
		}
		if dbg.What == "G" {
			continue
		}
		tbl.RawSetString("source", lua.LString("@"+dbg.Source))
		tbl.RawSetString("line", lua.LNumber(dbg.CurrentLine))
		break
	}
	L.Push(tbl)
	return 1
}

// errorReply formats a script's runtime error like Redis 7.0:
// "<err> script: <sha>, on @user_script:<line>."
func (e *scriptEngine) errorReply(err error, run *scriptRun) string {
	var obj lua.LValue = lua.LString(err.Error())
	var aerr *lua.ApiError
	if errors.As(err, &aerr) {
		obj = aerr.Object
	}
	tbl, ok := obj.(*lua.LTable)
	if !ok {
		msg := "execution failure"
		if s, ok := obj.(lua.LString); ok {
			msg = string(s)
		}
		if len(msg) > 100 {
			msg = msg[:100]
		}
		return fmt.Sprintf("ERR Error running script %s, %s", run.sha, msg)
	}
	msg := ""
	if s, ok := tbl.RawGetString("err").(lua.LString); ok {
		msg = string(s)
	}
	if run.killed.Load() {
		msg = scriptKilledText
	} else {
		msg = luaRuntimeError(msg)
	}
	src, ok1 := tbl.RawGetString("source").(lua.LString)
	line := tbl.RawGetString("line")
	if ok1 && line != lua.LNil {
		ls := line.String()
		if n, ok := line.(lua.LNumber); ok {
			ls = luaNumberString(n)
		}
		msg += " script: " + run.sha + ", on " + string(src) + ":" + ls + "."
	}
	return msg
}

var (
	reArith = regexp.MustCompile(`cannot perform (\w+) operation between (\w+) and (\w+)`)
	reIndex = regexp.MustCompile(`attempt to index a non-table object\((\w+)\) with key '[^']*'`)
)

// luaRuntimeError rewrites gopher-lua's runtime error texts into Lua 5.1's
// where the two differ only in wording.
func luaRuntimeError(msg string) string {
	if m := reArith.FindStringSubmatch(msg); m != nil {
		bad := m[2]
		if m[1] == "concat" {
			if bad == "string" || bad == "number" {
				bad = m[3]
			}
			return strings.Replace(msg, m[0], "attempt to concatenate a "+bad+" value", 1)
		}
		if bad == "number" {
			bad = m[3]
		}
		return strings.Replace(msg, m[0], "attempt to perform arithmetic on a "+bad+" value", 1)
	}
	if m := reIndex.FindStringSubmatch(msg); m != nil {
		return strings.Replace(msg, m[0], "attempt to index a "+m[1]+" value", 1)
	}
	return strings.Replace(msg, "attempt to call a non-function object", "attempt to call a nil value", 1)
}

var reParse = regexp.MustCompile(`^(.*) line:(\d+)\(column:\d+\) near '(.*)':\s+(.*?)\s*$`)

// luaCompileError renders a gopher-lua compile error like Lua 5.1's
// "user_script:1: <msg> near '<token>'".
func luaCompileError(err error) string {
	var aerr *lua.ApiError
	if errors.As(err, &aerr) && aerr.Cause != nil {
		var perr *parse.Error
		if errors.As(aerr.Cause, &perr) {
			tok := perr.Token
			if tok == "" || tok == "EOF" {
				tok = "<eof>"
			}
			return fmt.Sprintf("%s:%d: %s near '%s'", perr.Pos.Source, perr.Pos.Line, perr.Message, tok)
		}
		err = aerr.Cause
	}
	msg := strings.TrimSpace(err.Error())
	if m := reParse.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s:%s: %s near '%s'", m[1], m[2], m[4], m[3])
	}
	return msg
}

// ---------------------------------------------------------------------------
// redis.* API

func (e *scriptEngine) redisAPI() *lua.LTable {
	L := e.L
	t := L.NewTable()
	fn := func(name string, f lua.LGFunction) { t.RawSetString(name, L.NewFunction(f)) }
	fn("call", func(L *lua.LState) int { return e.redisCall(L, true) })
	fn("pcall", func(L *lua.LState) int { return e.redisCall(L, false) })
	fn("log", e.redisLog)
	fn("setresp", e.redisSetresp)
	fn("sha1hex", func(L *lua.LState) int {
		if L.GetTop() != 1 {
			raiseRedisError(L, "wrong number of arguments")
		}
		s := ""
		switch v := L.Get(1).(type) {
		case lua.LString:
			s = string(v)
		case lua.LNumber:
			s = luaNumberString(v)
		}
		L.Push(lua.LString(sha1hex(s)))
		return 1
	})
	fn("error_reply", func(L *lua.LState) int {
		s, ok := L.Get(1).(lua.LString)
		if L.GetTop() != 1 || !ok {
			L.Push(errorTable(L, "wrong number or type of arguments"))
			return 1
		}
		msg := string(s)
		if !strings.HasPrefix(msg, "-") {
			msg = "-" + msg
		}
		L.Push(errorTable(L, msg))
		return 1
	})
	fn("status_reply", func(L *lua.LState) int {
		s, ok := L.Get(1).(lua.LString)
		if L.GetTop() != 1 || !ok {
			L.Push(errorTable(L, "wrong number or type of arguments"))
			return 1
		}
		r := L.NewTable()
		r.RawSetString("ok", s)
		L.Push(r)
		return 1
	})
	fn("set_repl", func(L *lua.LState) int {
		if L.GetTop() != 1 {
			raiseRedisError(L, "redis.set_repl() requires two arguments.")
		}
		flags := int(lua.LVAsNumber(L.Get(1)))
		if flags&^3 != 0 {
			raiseRedisError(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
		}
		return 0
	})
	fn("replicate_commands", func(L *lua.LState) int { L.Push(lua.LTrue); return 1 })
	fn("breakpoint", func(L *lua.LState) int { L.Push(lua.LFalse); return 1 })
	fn("debug", func(L *lua.LState) int { return 0 })
	fn("acl_check_cmd", func(L *lua.LState) int {
		args, msg := luaArgs(L)
		if msg != "" {
			raiseRedisError(L, msg)
		}
		base, sub := lookupCommand(args)
		if base == nil || (len(base.Sub) > 0 && len(args) > 1 && sub == nil) {
			raiseRedisError(L, "Invalid command passed to redis.acl_check_cmd()")
		}
		L.Push(lua.LTrue)
		return 1
	})
	for name, v := range map[string]int{"LOG_DEBUG": 0, "LOG_VERBOSE": 1, "LOG_NOTICE": 2, "LOG_WARNING": 3,
		"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3} {
		t.RawSetString(name, lua.LNumber(v))
	}
	t.RawSetString("REDIS_VERSION", lua.LString(Version))
	t.RawSetString("REDIS_VERSION_NUM", lua.LNumber(versionNum(Version)))
	return t
}

func versionNum(v string) int {
	n := 0
	for _, p := range strings.SplitN(v, ".", 3) {
		x, _ := strconv.Atoi(p)
		n = n<<8 | x
	}
	return n
}

// errorTable builds {err="CODE msg"} like luaPushErrorBuff: "-CODE msg"
// keeps its code, a bare message gets ERR.
func errorTable(L *lua.LState, msg string) *lua.LTable {
	code := "ERR"
	if strings.HasPrefix(msg, "-") {
		if sp := strings.IndexByte(msg, ' '); sp > 0 {
			code, msg = msg[1:sp], msg[sp+1:]
		} else {
			msg = msg[1:]
		}
	}
	msg = strings.Trim(msg, "\r\n")
	t := L.CreateTable(0, 1)
	t.RawSetString("err", lua.LString(code+" "+msg))
	return t
}

func raiseRedisError(L *lua.LState, msg string) {
	L.Error(errorTable(L, msg), 0)
}

// luaArgs converts redis.call's arguments to a command line.
func luaArgs(L *lua.LState) ([][]byte, string) {
	n := L.GetTop()
	if n == 0 {
		return nil, "Please specify at least one argument for this redis lib call"
	}
	args := make([][]byte, n)
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			args[i-1] = []byte(v)
		case lua.LNumber:
			args[i-1] = strconv.AppendFloat(nil, float64(v), 'g', 17, 64)
		default:
			return nil, "Lua redis lib command arguments must be strings or integers"
		}
	}
	return args, ""
}

// luaCallArgs is luaArgs for redis.call: the vector and the argument
// bytes are the engine's, reused by the next call. Commands don't keep
// their arguments (those from clients alias the connection's read buffer
// too); each argument is capped so appending to it can't overwrite the
// next.
func (e *scriptEngine) luaCallArgs(L *lua.LState) ([][]byte, string) {
	n := L.GetTop()
	if n == 0 {
		return nil, "Please specify at least one argument for this redis lib call"
	}
	arena := e.callArena[:0]
	ends := e.callEnds[:0]
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			arena = append(arena, v...)
		case lua.LNumber:
			arena = strconv.AppendFloat(arena, float64(v), 'g', 17, 64)
		default:
			return nil, "Lua redis lib command arguments must be strings or integers"
		}
		ends = append(ends, len(arena))
	}
	args := e.callArgs[:0]
	off := 0
	for _, end := range ends {
		args = append(args, arena[off:end:end])
		off = end
	}
	e.callArena, e.callEnds, e.callArgs = arena, ends, args
	return args, ""
}

func (e *scriptEngine) redisCall(L *lua.LState, raise bool) int {
	run := e.run
	if run == nil {
		raiseRedisError(L, "redis.call/pcall can only be called inside a script invocation")
	}
	args, msg := e.luaCallArgs(L)
	L.SetTop(0)
	var cmd *commands.Command
	if msg == "" {
		cmd, msg = e.checkScriptCommand(run, args)
	}
	if msg != "" {
		t := errorTable(L, msg)
		if raise {
			L.Error(t, 0)
		}
		L.Push(t)
		return 1
	}
	fc := e.fake
	fc.w.Buf = fc.w.Buf[:0]
	if cmd.Flags&commands.Write != 0 {
		run.wrote.Store(true)
	}
	fc.call(cmd, args)
	buf := fc.w.Buf
	isErr := len(buf) > 0 && buf[0] == '-'
	var v lua.LValue
	if len(buf) > 1 && buf[0] == '+' {
		v = e.statusReply(L, buf)
	} else {
		v, _ = respToLua(L, buf)
	}
	fc.w.Buf = fc.w.Buf[:0]
	if isErr && raise {
		L.Error(v, 0)
	}
	L.Push(v)
	return 1
}

// statusReply converts a "+status" reply to {ok=status} from the pool.
func (e *scriptEngine) statusReply(L *lua.LState, buf []byte) lua.LValue {
	end := indexCRLF(buf)
	if end < 0 {
		return lua.LNil
	}
	var st lua.LValue
	if string(buf[1:end]) == "OK" {
		st = luaOK
	} else {
		st = lua.LString(buf[1:end])
	}
	return e.statusTables.get(L, st)
}

var (
	luaOK    lua.LValue = lua.LString("OK")
	luaOKKey lua.LValue = lua.LString("ok")
)

// statusPool recycles the {ok=...} tables redis.call returns for status
// replies, which every write command gives. A table handed out during one
// script is reused by a later script only if it still holds nothing but
// its ok field and has no metatable: no reference to it can outlive the
// script that got it (globals, libraries and strings' metatable are
// read-only, and the KEYS/ARGV tables are refilled or replaced), and a
// table that still looks as built is indistinguishable from a new one.
type statusPool struct {
	free []*lua.LTable
	out  []*lua.LTable // handed out during the current script
}

const statusPoolMax = 64

func (p *statusPool) get(L *lua.LState, status lua.LValue) *lua.LTable {
	var t *lua.LTable
	if n := len(p.free); n > 0 {
		t = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		if t.RawGetString("ok") != status {
			t.RawSetString("ok", status)
		}
	} else {
		t = L.CreateTable(0, 1)
		t.RawSetString("ok", status)
	}
	if len(p.out) < statusPoolMax {
		p.out = append(p.out, t)
	}
	return t
}

// recycle runs after a script ended and its reply was written.
func (p *statusPool) recycle() {
	for i, t := range p.out {
		if len(p.free) < statusPoolMax && onlyStatus(t) {
			p.free = append(p.free, t)
		}
		p.out[i] = nil
	}
	p.out = p.out[:0]
}

// onlyStatus reports whether t is as statusPool.get built it: one string
// field "ok", no metatable.
func onlyStatus(t *lua.LTable) bool {
	if t.Metatable != lua.LNil {
		return false
	}
	k, v := t.Next(lua.LNil)
	if k != luaOKKey || v.Type() != lua.LTString {
		return false
	}
	k, _ = t.Next(k)
	return k == lua.LNil
}

// checkScriptCommand applies scriptCall's checks; it returns the command,
// or an error text ("-CODE msg" or a bare message that gets ERR).
func (e *scriptEngine) checkScriptCommand(run *scriptRun, args [][]byte) (*commands.Command, string) {
	s := e.s
	base, sub := lookupCommand(args)
	if base == nil || (len(base.Sub) > 0 && len(args) > 1 && sub == nil) {
		return nil, "Unknown Redis command called from script"
	}
	cmd := base
	if sub != nil {
		cmd = sub
	}
	if (cmd.Arity > 0 && len(args) != cmd.Arity) || len(args) < -cmd.Arity || cmd.Proc == nil {
		return nil, "Wrong number of args calling Redis command from script"
	}
	if cmd.Flags&commands.NoScript != 0 {
		return nil, "This Redis command is not allowed from script"
	}
	if run.readOnly && cmd.Flags&(commands.Write|commands.MayReplicate) != 0 {
		return nil, "Write commands are not allowed from read-only scripts."
	}
	if cmd.Flags&commands.Write != 0 && !run.wrote.Load() && DenyWrite != nil {
		if msg := DenyWrite(s, run.caller, cmd); msg != "" {
			return nil, "-" + msg
		}
	}
	if run.flags&(sfShebang) == 0 && cmd.Flags&commands.DenyOOM != 0 && !run.wrote.Load() && DenyOOM != nil && run.caller.flags&flagMaster == 0 {
		if msg := DenyOOM(s, run.caller, cmd); msg != "" {
			return nil, "-" + msg
		}
	}
	return cmd, ""
}

func (e *scriptEngine) redisLog(L *lua.LState) int {
	n := L.GetTop()
	if n < 2 {
		raiseRedisError(L, "redis.log() requires two arguments or more.")
	}
	lv := L.Get(1)
	if lv.Type() != lua.LTNumber {
		if s, ok := lv.(lua.LString); !ok || !isNumeric(string(s)) {
			raiseRedisError(L, "First argument must be a number (log level).")
		}
	}
	level := int(lua.LVAsNumber(lv))
	if level < 0 || level > 3 {
		raiseRedisError(L, "Invalid debug level.")
	}
	var parts []string
	for i := 2; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			parts = append(parts, string(v))
		case lua.LNumber:
			parts = append(parts, luaNumberString(v))
		}
	}
	levels := [...]slog.Level{logging.LevelDebug, logging.LevelVerbose, logging.LevelNotice, logging.LevelWarning}
	e.s.Log.Log(context.Background(), levels[level], strings.Join(parts, " "))
	return 0
}

func isNumeric(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

func (e *scriptEngine) redisSetresp(L *lua.LState) int {
	if e.run == nil {
		raiseRedisError(L, "redis.setresp can only be called inside a script invocation")
	}
	if L.GetTop() != 1 {
		raiseRedisError(L, "redis.setresp() requires one argument.")
	}
	v := int(lua.LVAsNumber(L.Get(1)))
	if v != 2 && v != 3 {
		raiseRedisError(L, "RESP version must be 2 or 3.")
	}
	e.fake.proto = v
	e.fake.w.Proto = v
	return 0
}

// ---------------------------------------------------------------------------
// Conversions

// respToLua converts one RESP reply (as a command wrote it) into a Lua
// value, following redisProtocolToLuaType. It returns the rest of buf.
func respToLua(L *lua.LState, buf []byte) (lua.LValue, []byte) {
	if len(buf) < 3 {
		return lua.LNil, nil
	}
	end := indexCRLF(buf)
	if end < 0 {
		return lua.LNil, nil
	}
	t, lineb, rest := buf[0], buf[1:end], buf[end+2:]
	switch t {
	case '+':
		r := L.CreateTable(0, 1)
		r.RawSetString("ok", lua.LString(lineb))
		return r, rest
	case '-':
		return errorTable(L, "-"+string(lineb)), rest
	case ':':
		return lua.LNumber(parseReplyInt(lineb)), rest
	case '$', '=':
		n := int(parseReplyInt(lineb))
		if n < 0 {
			return lua.LFalse, rest
		}
		if n+2 > len(rest) {
			return lua.LNil, nil
		}
		s := string(rest[:n])
		rest = rest[n+2:]
		if t == '=' {
			r, v := L.CreateTable(0, 1), L.CreateTable(0, 2)
			if len(s) >= 4 {
				v.RawSetString("format", lua.LString(s[:3]))
				s = s[4:]
			}
			v.RawSetString("string", lua.LString(s))
			r.RawSetString("verbatim_string", v)
			return r, rest
		}
		return lua.LString(s), rest
	}
	line := string(lineb)
	switch t {
	case '_':
		return lua.LNil, rest
	case '#':
		return lua.LBool(line == "t"), rest
	case ',':
		f, err := strconv.ParseFloat(line, 64)
		if err != nil {
			switch line {
			case "inf":
				f = math.Inf(1)
			case "-inf":
				f = math.Inf(-1)
			default:
				f = math.NaN()
			}
		}
		r := L.CreateTable(0, 1)
		r.RawSetString("double", lua.LNumber(f))
		return r, rest
	case '(':
		r := L.CreateTable(0, 1)
		r.RawSetString("big_number", lua.LString(line))
		return r, rest
	case '*', '>', '~', '%', '|':
		n := int(parseReplyInt(lineb))
		if n < 0 {
			return lua.LFalse, rest
		}
		switch t {
		case '%', '|':
			m := L.CreateTable(0, n)
			for i := 0; i < n; i++ {
				var k, v lua.LValue
				k, rest = respToLua(L, rest)
				v, rest = respToLua(L, rest)
				if k != lua.LNil {
					m.RawSet(k, v)
				}
			}
			if t == '|' {
				return respToLua(L, rest)
			}
			r := L.CreateTable(0, 1)
			r.RawSetString("map", m)
			return r, rest
		case '~':
			m := L.CreateTable(0, n)
			for i := 0; i < n; i++ {
				var k lua.LValue
				k, rest = respToLua(L, rest)
				if k != lua.LNil {
					m.RawSet(k, lua.LTrue)
				}
			}
			r := L.CreateTable(0, 1)
			r.RawSetString("set", m)
			return r, rest
		}
		a := L.CreateTable(n, 0)
		for i := 0; i < n; i++ {
			var v lua.LValue
			v, rest = respToLua(L, rest)
			a.RawSetInt(i+1, v)
		}
		return a, rest
	}
	return lua.LNil, nil
}

// parseReplyInt parses a RESP integer or length line (as strconv.ParseInt
// would for the well-formed lines commands write; 0 for anything else).
func parseReplyInt(b []byte) int64 {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		n, _ := strconv.ParseInt(string(b), 10, 64)
		if neg {
			return -n
		}
		return n
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

func indexCRLF(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

// luaToInt truncates a Lua number like C's (long long) cast on x86-64:
// out of range and NaN become the minimum int64.
func luaToInt(n lua.LNumber) int64 {
	f := float64(n)
	if math.IsNaN(f) || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
		return math.MinInt64
	}
	return int64(f)
}

const maxReplyDepth = 1000

// luaToResp writes a script's return value to the caller (luaReplyToRedisReply).
// scriptProto is the script client's protocol (redis.setresp), which decides
// how booleans are sent; everything else follows the caller's protocol.
func luaToResp(w *resp.Writer, v lua.LValue, scriptProto int, depth int) {
	if depth > maxReplyDepth {
		w.Error("ERR reached lua stack limit")
		return
	}
	switch x := v.(type) {
	case lua.LString:
		w.BulkString(string(x))
	case lua.LBool:
		switch {
		case scriptProto == 2 && bool(x):
			w.Int(1)
		case scriptProto == 2:
			w.Null()
		default:
			w.Bool(bool(x))
		}
	case lua.LNumber:
		w.Int(luaToInt(x))
	case *lua.LTable:
		if s, ok := x.RawGetString("err").(lua.LString); ok {
			w.Error(string(s))
			return
		}
		if s, ok := x.RawGetString("ok").(lua.LString); ok {
			w.Simple(string(s))
			return
		}
		if n, ok := x.RawGetString("double").(lua.LNumber); ok {
			w.Double(float64(n))
			return
		}
		if s, ok := x.RawGetString("big_number").(lua.LString); ok {
			w.BigNumber(strings.NewReplacer("\r", " ", "\n", " ").Replace(string(s)))
			return
		}
		if vt, ok := x.RawGetString("verbatim_string").(*lua.LTable); ok {
			f, ok1 := vt.RawGetString("format").(lua.LString)
			s, ok2 := vt.RawGetString("string").(lua.LString)
			if ok1 && ok2 {
				if w.Proto >= 3 {
					w.Buf = resp.AppendVerbatim(w.Buf, string(f), []byte(s))
				} else {
					w.BulkString(string(s))
				}
				return
			}
		}
		if m, ok := x.RawGetString("map").(*lua.LTable); ok {
			n := 0
			for k, _ := m.Next(lua.LNil); k != lua.LNil; k, _ = m.Next(k) {
				n++
			}
			w.MapLen(n)
			for k, val := m.Next(lua.LNil); k != lua.LNil; k, val = m.Next(k) {
				luaToResp(w, k, scriptProto, depth+1)
				luaToResp(w, val, scriptProto, depth+1)
			}
			return
		}
		if m, ok := x.RawGetString("set").(*lua.LTable); ok {
			n := 0
			for k, _ := m.Next(lua.LNil); k != lua.LNil; k, _ = m.Next(k) {
				n++
			}
			w.SetLen(n)
			for k, _ := m.Next(lua.LNil); k != lua.LNil; k, _ = m.Next(k) {
				luaToResp(w, k, scriptProto, depth+1)
			}
			return
		}
		n := 0
		for x.RawGetInt(n+1) != lua.LNil {
			n++
		}
		w.ArrayLen(n)
		for i := 1; i <= n; i++ {
			luaToResp(w, x.RawGetInt(i), scriptProto, depth+1)
		}
	default:
		w.Null()
	}
}
