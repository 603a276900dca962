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
	fn    *lua.LFunction
	flags int
}

// scriptRun is the state of the script being executed.
type scriptRun struct {
	sha      string
	caller   *Client
	readOnly bool // EVAL_RO or no-writes
	flags    int
	wrote    atomic.Bool
	killed   atomic.Bool
	shutdown atomic.Bool
	cancel   context.CancelFunc
	busy     chan struct{} // closed once past busy-reply-threshold
	done     chan struct{} // closed when the script ends
}

type scriptEngine struct {
	s       *Server
	L       *lua.LState
	globals *lua.LTable // the real globals
	env     *lua.LTable // read-only proxy scripts see as _G
	proxies map[*lua.LTable]*lua.LTable
	ro      map[*lua.LTable]bool
	cache   map[string]*evalScript
	fake    *Client
	handler *lua.LFunction
	run     *scriptRun // under s.mu
	cur     atomic.Pointer[scriptRun]
	rand    rand48
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

// compile returns the cached script for body, compiling it if needed.
func (e *scriptEngine) compile(body string) (string, *evalScript, string) {
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
	sc := &evalScript{body: body, fn: fn, flags: flags}
	e.cache[sha] = sc
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
	var sha string
	var sc *evalScript
	if bySha {
		sha = strings.ToLower(string(ctx.Args[1]))
		sc = e.cache[sha]
		if sc == nil {
			ctx.W.Error(noScriptErr)
			return
		}
	} else {
		var msg string
		sha, sc, msg = e.compile(string(ctx.Args[1]))
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
	e.execute(ctx.W, c, sha, sc, keys, argv, ro || sc.flags&sfNoWrites != 0)
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
func (e *scriptEngine) execute(w *resp.Writer, c *Client, sha string, sc *evalScript, keys, argv [][]byte, readOnly bool) {
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

	run := &scriptRun{sha: sha, caller: c, readOnly: readOnly, flags: sc.flags,
		busy: make(chan struct{}), done: make(chan struct{})}
	runCtx, cancel := context.WithCancel(context.Background())
	run.cancel = cancel
	e.run = run
	e.cur.Store(run)
	scriptsRunning.Add(1)
	var timer *time.Timer
	if th := s.Cfg.Int("busy-reply-threshold"); th > 0 {
		timer = time.AfterFunc(time.Duration(th)*time.Millisecond, func() {
			s.Log.Warn(fmt.Sprintf("Slow script detected: still in execution after %d milliseconds. You can try killing the script using the SCRIPT KILL command. Script name is: %s.", th, sha))
			close(run.busy)
		})
	}

	e.globals.RawSetString("KEYS", bytesArray(L, keys))
	e.globals.RawSetString("ARGV", bytesArray(L, argv))

	s.beginTxPropagation()
	L.SetContext(runCtx)
	L.Push(sc.fn)
	err := L.PCall(0, 1, e.handler)
	L.RemoveContext()

	if timer != nil {
		timer.Stop()
	}
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
	e.run = nil
	e.cur.Store(nil)
	scriptsRunning.Add(-1)
	close(run.done)
	cancel()
}

func bytesArray(L *lua.LState, a [][]byte) *lua.LTable {
	t := L.CreateTable(len(a), 0)
	for i, v := range a {
		t.RawSetInt(i+1, lua.LString(v))
	}
	return t
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
		select {
		case <-run.done:
			continue
		case <-run.busy:
		}
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
					run.cancel()
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
				run.cancel()
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
