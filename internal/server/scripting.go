package server

// Lua scripting (Redis 7.0's eval.c / script.c): EVAL, EVALSHA, EVAL_RO,
// EVALSHA_RO and SCRIPT.
//
// One gopher-lua VM per server, created on first use and reused. Scripts run
// on the caller's goroutine with the keyspace lock held (EVAL is an ordinary
// command), so they are atomic. redis.call runs commands through the normal
// call() on a fake client that starts in the caller's DB.
//
// Busy scripts: a script that runs longer than busy-reply-threshold makes
// other clients get -BUSY. Since the script holds srv.mu, those clients are
// answered before they take the lock: serve() asks busyGate when the cheap
// global counter scriptsRunning says some script is executing. SCRIPT KILL
// cancels the VM's context, which gopher-lua checks at every instruction.
//
// Per-call cost matters (EVAL of a one-line script should cost little more
// than the command it runs), so an EVAL allocates almost nothing of its own:
// the kill context lives as long as the engine and is replaced only after a
// kill (killCtx), one long-lived timer notices busy scripts instead of a
// timer per call, the channel other clients wait on is made only when one
// waits, scripts are found by body without hashing it, and KEYS/ARGV, the
// redis.call argument vector and its status-reply tables are reused.

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/resp"
)

// scriptsRunning counts scripts executing in this process (all servers).
// It is the only thing the client loop reads on its hot path.
var scriptsRunning atomic.Int32

// engines maps *Server to its *scriptEngine.
var engines sync.Map

const (
	busyScriptErr    = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	unkillableErr    = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
	notBusyErr       = "NOTBUSY No scripts in execution right now."
	noScriptErr      = "NOSCRIPT No matching script. Please use EVAL."
	scriptKilledText = "ERR Script killed by user with SCRIPT KILL..."
)

// Script flags (shebang).
const (
	sfNoWrites = 1 << iota
	sfAllowOOM
	sfAllowStale
	sfNoCluster
	sfAllowCrossSlot
	sfShebang // the script declared a shebang (not eval compat mode)
)

type evalScript struct {
	body  string
	sha   string
	fn    *lua.LFunction
	flags int
}

// scriptRun is the state of the script being executed. The plain fields
// above the atomics are set before the run is published (e.cur) and don't
// change; busy, ended and wake are guarded by the engine's mu.
type scriptRun struct {
	sha      string
	caller   *Client
	readOnly bool // EVAL_RO or no-writes
	flags    int
	start    time.Time
	th       time.Duration // busy-reply-threshold when it started; 0: never busy
	wrote    atomic.Bool
	killed   atomic.Bool
	shutdown atomic.Bool

	busy  bool          // past busy-reply-threshold
	ended bool          // finished (e.cur no longer points here)
	wake  chan struct{} // made by a waiting client; closed when busy or ended
}

type scriptEngine struct {
	s       *Server
	L       *lua.LState
	globals *lua.LTable // the real globals
	env     *lua.LTable // read-only proxy scripts see as _G
	proxies map[*lua.LTable]*lua.LTable
	ro      map[*lua.LTable]bool
	cache   map[string]*evalScript // by sha
	bodies  map[string]*evalScript // the same scripts by body
	fake    *Client
	handler *lua.LFunction
	run     *scriptRun // under s.mu
	cur     atomic.Pointer[scriptRun]
	rand    rand48

	// mu guards the current run's busy/ended/wake and kctx; it is taken by
	// the script's goroutine once per run, and by other clients' goroutines
	// and the busy timer only while a script is running.
	mu         sync.Mutex
	kctx       *killCtx
	busyTimer  *time.Timer // fires busyCheck; armed while scripts run
	timerArmed atomic.Bool
	timerTh    atomic.Int64 // the threshold busyTimer was armed for

	// Reused between calls (under s.mu): KEYS and ARGV with their entry
	// counts, redis.call's argument vector and the bytes it points into,
	// and status-reply tables ({ok=...}) handed out by redis.call.
	keysT, argvT *lua.LTable
	keysN, argvN int
	callArgs     [][]byte
	callEnds     []int
	callArena    []byte
	statusTables statusPool
}

func init() {
	type cc = commands.Command
	evalFlags := commands.NoScript | commands.Stale | commands.SkipMonitor | commands.NoMandatoryKeys
	C := commands.Register
	C(
		&cc{Name: "eval", Arity: -3, Flags: evalFlags, Keys: evalKeys, Proc: func(c *commands.Ctx) { evalGeneric(c, false, false) }, Group: "scripting", Since: "2.6.0", Categories: "@slow @scripting"},
		&cc{Name: "evalsha", Arity: -3, Flags: evalFlags, Keys: evalKeys, Proc: func(c *commands.Ctx) { evalGeneric(c, true, false) }, Group: "scripting", Since: "2.6.0", Categories: "@slow @scripting"},
		&cc{Name: "eval_ro", Arity: -3, Flags: evalFlags | commands.ReadOnly, Keys: evalKeys, Proc: func(c *commands.Ctx) { evalGeneric(c, false, true) }, Group: "scripting", Since: "7.0.0", Categories: "@slow @scripting"},
		&cc{Name: "evalsha_ro", Arity: -3, Flags: evalFlags | commands.ReadOnly, Keys: evalKeys, Proc: func(c *commands.Ctx) { evalGeneric(c, true, true) }, Group: "scripting", Since: "7.0.0", Categories: "@slow @scripting"},
		&cc{Name: "script", Arity: -2, Group: "scripting", Since: "2.6.0", Categories: "@slow", Sub: map[string]*cc{
			"load":   {Name: "load", Arity: 3, Flags: commands.NoScript | commands.Stale, Proc: scriptLoadCommand, Categories: "@slow @scripting"},
			"exists": {Name: "exists", Arity: -3, Flags: commands.NoScript, Proc: scriptExistsCommand, Categories: "@slow @scripting"},
			"flush":  {Name: "flush", Arity: -2, Flags: commands.NoScript, Proc: scriptFlushCommand, Categories: "@slow @scripting"},
			"kill":   {Name: "kill", Arity: 2, Flags: commands.NoScript | commands.AllowBusy, Proc: scriptKillCommand, Categories: "@slow @scripting"},
			"debug":  {Name: "debug", Arity: 3, Flags: commands.NoScript, Proc: scriptDebugCommand, Categories: "@slow @scripting"},
			"help":   {Name: "help", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: scriptHelpCommand, Categories: "@slow @scripting"},
		}},
	)
}

// evalKeys: EVAL script numkeys key [key ...] arg [arg ...]
func evalKeys(args [][]byte) []int {
	if len(args) < 3 {
		return nil
	}
	n, ok := commands.ParseInt(args[2])
	if !ok || n <= 0 || n > int64(len(args)-3) {
		return nil
	}
	out := make([]int, n)
	for i := range out {
		out[i] = 3 + i
	}
	return out
}

// engine returns the server's scripting engine, creating it on first use
// (under s.mu).
func (s *Server) engine() *scriptEngine {
	if v, ok := engines.Load(s); ok {
		return v.(*scriptEngine)
	}
	e := newScriptEngine(s)
	engines.Store(s, e)
	return e
}

func sha1hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// parseShebang extracts Redis 7 shebang flags ("#!lua flags=no-writes").
func parseShebang(body string) (int, string) {
	if !strings.HasPrefix(body, "#!") {
		return 0, ""
	}
	nl := strings.IndexByte(body, '\n')
	if nl < 0 {
		return 0, "ERR Invalid script shebang"
	}
	parts := strings.Fields(body[:nl])
	if len(parts) == 0 || parts[0] != "#!lua" {
		p := "#!"
		if len(parts) > 0 {
			p = parts[0]
		}
		return 0, "ERR Unexpected engine in script shebang: " + p
	}
	flags := sfShebang
	for _, p := range parts[1:] {
		if !strings.HasPrefix(p, "flags=") {
			return 0, "ERR Unknown lua shebang option: " + p
		}
		for _, f := range strings.Split(p[len("flags="):], ",") {
			switch f {
			case "":
			case "no-writes":
				flags |= sfNoWrites
			case "allow-oom":
				flags |= sfAllowOOM
			case "allow-stale":
				flags |= sfAllowStale
			case "no-cluster":
				flags |= sfNoCluster
			case "allow-cross-slot-keys":
				flags |= sfAllowCrossSlot
			default:
				return 0, "ERR Unexpected flag in script shebang: " + f
			}
		}
	}
	return flags, ""
}

// compileBytes is compile for a body still in the client's buffer: a
// script already cached is found without copying or hashing the body.
func (e *scriptEngine) compileBytes(body []byte) (string, *evalScript, string) {
	if sc := e.bodies[string(body)]; sc != nil {
		return sc.sha, sc, ""
	}
	return e.compile(string(body))
}

// compile returns the cached script for body, compiling it if needed.
func (e *scriptEngine) compile(body string) (string, *evalScript, string) {
	if sc := e.bodies[body]; sc != nil {
		return sc.sha, sc, ""
	}
	sha := sha1hex(body)
	if sc := e.cache[sha]; sc != nil {
		return sha, sc, ""
	}
	flags, msg := parseShebang(body)
	if msg != "" {
		return sha, nil, msg
	}
	src := body
	if flags&sfShebang != 0 {
		// Comment the shebang line out so line numbers stay the same.
		src = "--" + body[2:]
	}
	fn, err := e.L.Load(strings.NewReader(src), "user_script")
	if err != nil {
		return sha, nil, "ERR Error compiling script (new function): " + luaCompileError(err)
	}
	fn.Env = e.env
	// A main chunk is vararg, and gopher-lua (LUA_COMPAT_VARARG) would build
	// an "arg" table with an "n" field on every call; in a main chunk no
	// local named arg exists to read it (as in Lua 5.1), so skip it.
	fn.Proto.IsVarArg &^= lua.VarArgNeedsArg
	sc := &evalScript{body: body, sha: sha, fn: fn, flags: flags}
	e.cache[sha] = sc
	e.bodies[body] = sc
	return sha, sc, ""
}

func evalGeneric(ctx *commands.Ctx, bySha, ro bool) {
	c := cl(ctx)
	s := c.srv
	n, ok := commands.ParseInt(ctx.Args[2])
	if !ok {
		ctx.W.Error("ERR value is not an integer or out of range")
		return
	}
	if n > int64(len(ctx.Args)-3) {
		ctx.W.Error("ERR Number of keys can't be greater than number of args")
		return
	}
	if n < 0 {
		ctx.W.Error("ERR Number of keys can't be negative")
		return
	}
	e := s.engine()
	if e.run != nil {
		// A script calling EVAL is refused by NoScript; this is a guard.
		ctx.W.Error("ERR Can't run a script from a script")
		return
	}
	var sc *evalScript
	if bySha {
		sc = e.cache[string(ctx.Args[1])]
		if sc == nil {
			sc = e.cache[strings.ToLower(string(ctx.Args[1]))]
		}
		if sc == nil {
			ctx.W.Error(noScriptErr)
			return
		}
	} else {
		var msg string
		_, sc, msg = e.compileBytes(ctx.Args[1])
		if msg != "" {
			ctx.W.Error(msg)
			return
		}
	}
	if sc.flags&sfShebang != 0 {
		if msg := e.prepareShebang(c, sc.flags, ro); msg != "" {
			ctx.W.Error(msg)
			return
		}
	}
	keys := ctx.Args[3 : 3+n]
	argv := ctx.Args[3+n:]
	e.execute(ctx.W, c, sc, keys, argv, ro || sc.flags&sfNoWrites != 0)
}

// prepareShebang applies scriptPrepareForRun's checks for scripts that
// declared flags.
func (e *scriptEngine) prepareShebang(c *Client, flags int, ro bool) string {
	s := e.s
	set := commands.Table["set"]
	if flags&sfAllowOOM == 0 && DenyOOM != nil && c.flags&flagMaster == 0 && set != nil {
		if msg := DenyOOM(s, c, set); msg != "" {
			return "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'"
		}
	}
	if flags&sfNoWrites == 0 {
		if DenyWrite != nil && set != nil {
			if msg := DenyWrite(s, c, set); msg != "" {
				if strings.HasPrefix(msg, "READONLY") {
					return "READONLY Can not run script with write flag on readonly replica"
				}
				return msg
			}
		}
		if ro {
			return "ERR Can not execute a script with write flag using *_ro command."
		}
	}
	return ""
}

// execute runs a compiled script for caller c and writes its reply to w.
func (e *scriptEngine) execute(w *resp.Writer, c *Client, sc *evalScript, keys, argv [][]byte, readOnly bool) {
	s := e.s
	L := e.L
	fc := e.fake
	fc.db = c.db
	fc.ctx.DB = s.ks.DBs[c.db]
	fc.proto = 2
	fc.w.Proto = 2
	fc.w.Buf = fc.w.Buf[:0]
	fc.user = c.user
	fc.inExec = true
	if c.flags&flagMaster != 0 {
		fc.flags |= flagMaster
	} else {
		fc.flags &^= flagMaster
	}

	run := &scriptRun{sha: sc.sha, caller: c, readOnly: readOnly, flags: sc.flags}
	if th := s.Cfg.Int("busy-reply-threshold"); th > 0 {
		run.th = time.Duration(th) * time.Millisecond
		run.start = time.Now()
	}
	e.run = run
	e.cur.Store(run)
	scriptsRunning.Add(1)
	if run.th > 0 {
		e.armBusyTimer(run.th)
	}

	// Scripts can't assign globals, so KEYS and ARGV still name these
	// tables when fillArgs reuses them.
	keysT, argvT := e.keysT, e.argvT
	e.keysT, e.keysN = e.fillArgs(keysT, e.keysN, keys)
	e.argvT, e.argvN = e.fillArgs(argvT, e.argvN, argv)
	if e.keysT != keysT {
		e.globals.RawSetString("KEYS", e.keysT)
	}
	if e.argvT != argvT {
		e.globals.RawSetString("ARGV", e.argvT)
	}

	s.beginTxPropagation()
	L.SetContext(e.kctx)
	L.Push(sc.fn)
	err := L.PCall(0, 1, e.handler)
	L.RemoveContext()

	if err != nil {
		w.Error(e.errorReply(err, run))
	} else {
		ret := L.Get(-1)
		L.Pop(1)
		luaToResp(w, ret, fc.proto, 0)
	}
	L.SetTop(0)
	if run.shutdown.Load() {
		// SHUTDOWN NOSAVE interrupted the script: like Redis, which exits
		// before propagating, don't feed its writes to the AOF/replicas.
		s.txBuf = nil
	}
	s.endTxPropagation()
	fc.inExec = false
	fc.w.Buf = fc.w.Buf[:0]
	if cap(e.callArena) > 64<<10 {
		e.callArena = nil
		clear(e.callArgs[:cap(e.callArgs)])
	}
	e.statusTables.recycle()
	e.run = nil
	e.mu.Lock()
	run.ended = true
	if run.wake != nil && !run.busy {
		close(run.wake)
	}
	e.cur.Store(nil)
	e.kctx.resetLocked()
	e.mu.Unlock()
	scriptsRunning.Add(-1)
}

// fillArgs makes t (KEYS or ARGV; n entries as last filled) hold a, reusing
// it unless the script that saw it changed it beyond its entries 1..n
// (other keys, holes, a metatable); then it makes a new table, as Redis
// does for every call.
func (e *scriptEngine) fillArgs(t *lua.LTable, n int, a [][]byte) (*lua.LTable, int) {
	if t == nil || !pristineArray(t, n) {
		t = e.L.CreateTable(len(a), 0)
		n = 0
	}
	for i, v := range a {
		if old, ok := t.RawGetInt(i + 1).(lua.LString); ok && string(old) == string(v) {
			continue
		}
		t.RawSetInt(i+1, lua.LString(v))
	}
	for i := len(a) + 1; i <= n; i++ {
		t.RawSetInt(i, lua.LNil)
	}
	return t, len(a)
}

// pristineArray reports whether t has no metatable and exactly the entries
// 1..n.
func pristineArray(t *lua.LTable, n int) bool {
	if t.Metatable != lua.LNil {
		return false
	}
	if n >= len(luaSmallInts) {
		i := 0
		for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
			i++
			if kn, ok := k.(lua.LNumber); !ok || kn != lua.LNumber(i) {
				return false
			}
		}
		return i == n
	}
	for i := 1; i <= n; i++ {
		if t.RawGetInt(i) == lua.LNil {
			return false
		}
	}
	// Nothing after n: Next from n (from the start when n is 0; Next
	// from the number 0 would skip the first hashed key).
	var k lua.LValue = lua.LNil
	if n > 0 {
		k = luaSmallInts[n]
	}
	k, _ = t.Next(k)
	return k == lua.LNil
}

// luaSmallInts holds boxed small Lua numbers, so passing one as an LValue
// doesn't allocate.
var luaSmallInts = func() (a [32]lua.LValue) {
	for i := range a {
		a[i] = lua.LNumber(i)
	}
	return
}()

// armBusyTimer makes sure busyTimer will look at the running script within
// th. The timer stays armed while scripts keep running (busyCheck re-arms
// it), so back-to-back scripts don't touch it.
func (e *scriptEngine) armBusyTimer(th time.Duration) {
	if e.timerArmed.Load() && e.timerTh.Load() == int64(th) {
		return
	}
	e.timerArmed.Store(true)
	e.timerTh.Store(int64(th))
	e.busyTimer.Reset(th)
}

// busyCheck runs on the timer goroutine: it marks the running script busy
// once it has run for its threshold (waking clients waiting in busyGate),
// or re-arms for the rest of the threshold. armBusyTimer and busyCheck
// order their accesses to timerArmed and cur so that a script starting
// while the timer disarms is always covered by one of them.
func (e *scriptEngine) busyCheck() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.timerArmed.Store(false)
	run := e.cur.Load()
	if run == nil || run.ended || run.busy || run.th <= 0 {
		return
	}
	if el := time.Since(run.start); el < run.th {
		if e.timerArmed.CompareAndSwap(false, true) {
			e.timerTh.Store(int64(run.th))
			e.busyTimer.Reset(run.th - el)
		}
		return
	}
	e.s.Log.Warn(fmt.Sprintf("Slow script detected: still in execution after %d milliseconds. You can try killing the script using the SCRIPT KILL command. Script name is: %s.", run.th.Milliseconds(), run.sha))
	run.busy = true
	if run.wake != nil {
		close(run.wake)
	}
}

// kill cancels run if it is still the running script (SCRIPT KILL,
// SHUTDOWN NOSAVE).
func (e *scriptEngine) kill(run *scriptRun) {
	e.mu.Lock()
	if run.ended {
		e.mu.Unlock()
		return
	}
	fns := e.kctx.cancelLocked()
	e.mu.Unlock()
	for _, f := range fns {
		if f != nil {
			f()
		}
	}
}

// killCtx is the context the Lua VM checks at every instruction. One lives
// as long as the engine: a kill closes its channel and the next script gets
// a fresh one. Contexts derived from it (gopher-lua gives each coroutine a
// child context) register through AfterFunc, so context.WithCancel neither
// starts a goroutine nor links them into a long-lived parent; registrations
// are dropped when each script ends. mu is the engine's.
type killCtx struct {
	mu   *sync.Mutex
	done chan struct{} // replaced only by the script's goroutine, under mu
	err  error
	fns  []func()
	gen  uint64
}

func newKillCtx(mu *sync.Mutex) *killCtx {
	return &killCtx{mu: mu, done: make(chan struct{})}
}

func (k *killCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (k *killCtx) Done() <-chan struct{}       { return k.done }
func (k *killCtx) Value(any) any               { return nil }

func (k *killCtx) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// AfterFunc implements the interface context.WithCancel looks for to
// propagate cancellation to a child.
func (k *killCtx) AfterFunc(f func()) func() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		go f()
		return func() bool { return false }
	}
	i, gen := len(k.fns), k.gen
	k.fns = append(k.fns, f)
	return func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.gen != gen || k.fns[i] == nil {
			return false
		}
		k.fns[i] = nil
		return true
	}
}

// cancelLocked cancels the context and returns the registered functions,
// to be called without the lock.
func (k *killCtx) cancelLocked() []func() {
	if k.err != nil {
		return nil
	}
	k.err = context.Canceled
	close(k.done)
	fns := k.fns
	k.fns = nil
	k.gen++
	return fns
}

// resetLocked readies the context for the next script. Registrations of
// the script's coroutines are dropped: nothing can resume them any more.
func (k *killCtx) resetLocked() {
	if k.err != nil {
		k.err = nil
		k.done = make(chan struct{})
	}
	if len(k.fns) > 0 {
		k.fns = nil
		k.gen++
	}
}

func scriptLoadCommand(ctx *commands.Ctx) {
	e := cl(ctx).srv.engine()
	sha, _, msg := e.compile(string(ctx.Args[2]))
	if msg != "" {
		ctx.W.Error(msg)
		return
	}
	ctx.W.BulkString(sha)
}

func scriptExistsCommand(ctx *commands.Ctx) {
	e := cl(ctx).srv.engine()
	ctx.W.ArrayLen(len(ctx.Args) - 2)
	for _, a := range ctx.Args[2:] {
		if e.cache[strings.ToLower(string(a))] != nil {
			ctx.W.Int(1)
		} else {
			ctx.W.Int(0)
		}
	}
}

func scriptFlushCommand(ctx *commands.Ctx) {
	if len(ctx.Args) > 3 || (len(ctx.Args) == 3 && !commands.EqualFold(ctx.Args[2], "sync") && !commands.EqualFold(ctx.Args[2], "async")) {
		ctx.W.Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
		return
	}
	e := cl(ctx).srv.engine()
	e.cache = map[string]*evalScript{}
	e.bodies = map[string]*evalScript{}
	ctx.W.OK()
}

// scriptKillCommand runs under the lock, so no script is executing.
func scriptKillCommand(ctx *commands.Ctx) {
	ctx.W.Error(notBusyErr)
}

func scriptDebugCommand(ctx *commands.Ctx) {
	switch {
	case commands.EqualFold(ctx.Args[2], "no"):
		ctx.W.OK()
	case commands.EqualFold(ctx.Args[2], "yes"), commands.EqualFold(ctx.Args[2], "sync"):
		ctx.W.Error("ERR SCRIPT DEBUG is not supported by vigil")
	default:
		ctx.W.Error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
	}
}

func scriptHelpCommand(ctx *commands.Ctx) {
	lines := []string{
		"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"DEBUG (YES|SYNC|NO)",
		"    Set the debug mode for subsequent scripts executed.",
		"EXISTS <sha1> [<sha1> ...]",
		"    Return information about the existence of the scripts in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Flush the Lua scripts cache. Very dangerous on replicas.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the scripts cache.",
		"    * SYNC: Synchronously flush the scripts cache.",
		"KILL",
		"    Kill the currently executing Lua script.",
		"LOAD <script>",
		"    Load a script into the scripts cache without executing it.",
		"HELP",
		"    Prints this help.",
	}
	ctx.W.ArrayLen(len(lines))
	for _, l := range lines {
		ctx.W.Simple(l)
	}
}

// busyGate is called by the client loop, without srv.mu, when some script
// is running. It waits until the script ends or becomes busy; while busy it
// answers the leading commands of the batch that can't wait (-BUSY, SCRIPT
// KILL, SHUTDOWN NOSAVE) and returns the rest, which then queue for the
// lock.
func (c *Client) busyGate(cmds []resp.Command) []resp.Command {
	v, ok := engines.Load(c.srv)
	if !ok {
		return cmds
	}
	e := v.(*scriptEngine)
	for len(cmds) > 0 {
		run := e.cur.Load()
		if run == nil || run.caller == c {
			return cmds
		}
		e.mu.Lock()
		if run.ended {
			e.mu.Unlock()
			continue
		}
		if !run.busy {
			if run.wake == nil {
				run.wake = make(chan struct{})
			}
			wake := run.wake
			e.mu.Unlock()
			<-wake
			continue
		}
		e.mu.Unlock()
		i := 0
	loop:
		for ; i < len(cmds); i++ {
			args := cmds[i].Args
			if len(args) == 0 {
				continue
			}
			base, sub := lookupCommand(args)
			cmd := base
			if sub != nil {
				cmd = sub
			}
			switch {
			case cmd != nil && cmd.FullName() == "script|kill" && len(args) == 2:
				switch {
				case run.wrote.Load():
					c.appendOut(resp.AppendError(nil, unkillableErr))
				case run.killed.Load():
					c.appendOut(resp.AppendError(nil, notBusyErr))
				default:
					run.killed.Store(true)
					e.kill(run)
					c.appendOut(resp.OK)
				}
			case cmd != nil && cmd.Name == "shutdown" && cmd.Parent == nil:
				nosave := false
				for _, a := range args[1:] {
					if commands.EqualFold(a, "nosave") {
						nosave = true
					}
				}
				if !nosave {
					c.appendOut(resp.AppendError(nil, busyScriptErr))
					continue
				}
				run.shutdown.Store(true)
				run.killed.Store(true)
				e.kill(run)
				break loop
			case cmd != nil && cmd.Flags&commands.AllowBusy != 0 && cmd.Arity != 0:
				break loop
			default:
				c.appendOut(resp.AppendError(nil, busyScriptErr))
			}
		}
		c.flush()
		cmds = cmds[i:]
		if len(cmds) > 0 {
			return cmds
		}
	}
	return cmds
}
