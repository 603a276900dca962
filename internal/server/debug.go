package server

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/keyspace"
	"github.com/vigil-kv/vigil/internal/resp"
)

// DEBUG, behind enable-debug-command like Redis 7.

// DebugHooks lets subsystems add DEBUG subcommands (RELOAD, LOADAOF,
// DIGEST ...). Return false if not handled.
var DebugHooks []func(s *Server, ctx *commands.Ctx, sub string) bool

func debugAllowed(s *Server, c *Client) bool {
	switch strings.ToLower(s.Cfg.String("enable-debug-command")) {
	case "yes":
		return true
	case "local":
		return c.conn == nil || isLocalAddr(c.conn.RemoteAddr())
	}
	return false
}

func debugCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	s := c.srv
	if !debugAllowed(s, c) {
		ctx.W.Error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")
		return
	}
	sub := strings.ToLower(string(ctx.Args[1]))
	for _, h := range DebugHooks {
		if h(s, ctx, sub) {
			return
		}
	}
	switch sub {
	case "help":
		writeHelp(ctx.W, "DEBUG", []string{
			"DIGEST", "    Output a hex signature representing the current DB content.",
			"DIGEST-VALUE <key> [<key> ...]", "    Output a hex signature of the values of all the specified keys.",
			"LOG <message>", "    Write <message> to the server log.",
			"OBJECT <key>", "    Show low level info about the `key` and associated value.",
			"POPULATE <count> [<prefix>] [<size>]", "    Create <count> string keys named key:<num>.",
			"PROTOCOL <type>", "    Reply with a test value of the specified type.",
			"RELOAD [option ...]", "    Save the RDB on disk and reload it back to memory.",
			"SET-ACTIVE-EXPIRE <0|1>", "    Setting it to 0 disables expiring keys in background.",
			"SLEEP <seconds>", "    Stop the server for <seconds>. Decimals allowed.",
		})
	case "sleep":
		if len(ctx.Args) < 3 {
			ctx.W.Error(commands.WrongArity("debug"))
			return
		}
		f, err := strconv.ParseFloat(string(ctx.Args[2]), 64)
		if err != nil {
			f = 0
		}
		// Sleeping with the lock held freezes the whole server, which is
		// what DEBUG SLEEP is for (drills, tests of timeouts).
		time.Sleep(time.Duration(f * float64(time.Second)))
		ctx.W.OK()
	case "set-active-expire":
		if len(ctx.Args) != 3 {
			ctx.W.Error(commands.WrongArity("debug"))
			return
		}
		s.activeExpireDisabled = string(ctx.Args[2]) == "0"
		ctx.W.OK()
	case "log":
		if len(ctx.Args) != 3 {
			ctx.W.Error(commands.WrongArity("debug"))
			return
		}
		s.Log.Warn("DEBUG LOG: " + string(ctx.Args[2]))
		ctx.W.OK()
	case "object":
		if len(ctx.Args) != 3 {
			ctx.W.Error(commands.WrongArity("debug"))
			return
		}
		e := ctx.DB.Peek(string(ctx.Args[2]))
		if e == nil {
			ctx.W.Error("ERR no such key")
			return
		}
		enc := ""
		if e.Type == keyspace.TypeString {
			enc = commands.StringEncodingOf(e)
		} else {
			enc = e.Coll.Encoding()
		}
		idle := s.ks.IdleSeconds(e)
		ctx.W.Simple("Value at:0x0 refcount:1 encoding:" + enc + " serializedlength:" + strconv.FormatInt(EntryMemUsage(e), 10) + " lru:" + strconv.FormatInt(int64(e.Clock()), 10) + " lru_seconds_idle:" + strconv.FormatInt(idle, 10))
	case "populate":
		if len(ctx.Args) < 3 || len(ctx.Args) > 5 {
			ctx.W.Error(commands.WrongArity("debug"))
			return
		}
		n, ok := commands.ParseInt(ctx.Args[2])
		if !ok || n < 0 {
			ctx.W.Error("ERR count can't be negative")
			return
		}
		prefix := "key"
		if len(ctx.Args) >= 4 {
			prefix = string(ctx.Args[3])
		}
		size := int64(-1)
		if len(ctx.Args) == 5 {
			v, ok := commands.ParseInt(ctx.Args[4])
			if !ok || v < 0 {
				ctx.W.Error(commands.ErrNotInt)
				return
			}
			size = v
		}
		for i := int64(0); i < n; i++ {
			key := prefix + ":" + strconv.FormatInt(i, 10)
			if ctx.DB.Peek(key) != nil {
				continue
			}
			val := []byte("value:" + strconv.FormatInt(i, 10))
			if size >= 0 {
				v := make([]byte, size)
				copy(v, val)
				val = v
			}
			ctx.DB.Add(keyspace.NewStringEntry(key, val))
		}
		ctx.W.OK()
	case "protocol":
		if len(ctx.Args) != 3 {
			ctx.W.Error(commands.WrongArity("debug"))
			return
		}
		debugProtocol(ctx.W, strings.ToLower(string(ctx.Args[2])))
	case "htstats":
		if len(ctx.Args) < 3 {
			ctx.W.Error(commands.WrongArity("debug"))
			return
		}
		id, ok := commands.ParseInt(ctx.Args[2])
		if !ok || id < 0 || id >= int64(len(s.ks.DBs)) {
			ctx.W.Error("ERR Out of range database")
			return
		}
		db := s.ks.DBs[id]
		ctx.W.Verbatim([]byte(fmt.Sprintf("[Dictionary HT]\n%s[Expires HT]\nkeys with a TTL: %d\n", db.Dict().Stats(), db.ExpiresLen())))
	case "change-repl-id", "quicklist-packed-threshold", "listpack", "stringmatch-len", "replybuffer", "pause-cron", "set-disable-deny-scripts", "dict-resizing", "jmap", "mallctl", "mallctl-str":
		ctx.W.OK()
	default:
		ctx.W.Error("ERR unknown subcommand or wrong number of arguments for '" + sanitize(cString(ctx.Args[1])) + "'. Try DEBUG HELP.")
	}
}

func debugProtocol(w *resp.Writer, t string) {
	switch t {
	case "string":
		w.BulkString("Hello World")
	case "integer":
		w.Int(12345)
	case "double":
		w.Double(3.141)
	case "bignum":
		w.BigNumber("1234567999999999999999999999999999999")
	case "null":
		w.Null()
	case "array":
		w.ArrayLen(3)
		for i := 0; i < 3; i++ {
			w.Int(int64(i))
		}
	case "set":
		w.SetLen(3)
		for i := 0; i < 3; i++ {
			w.Int(int64(i))
		}
	case "map":
		w.MapLen(3)
		for i := 0; i < 3; i++ {
			w.Int(int64(i))
			w.Bool(i == 1)
		}
	case "attrib":
		if w.Proto >= 3 {
			w.Raw([]byte("|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n"))
		}
		w.BulkString("Some real reply following the attribute")
	case "push":
		if w.Proto < 3 {
			w.Error("ERR RESP2 is not supported by this command")
			return
		}
		w.PushLen(2)
		w.BulkString("server-cpu-usage")
		w.Int(42)
		w.BulkString("Some real reply following the push reply")
	case "true":
		w.Bool(true)
	case "false":
		w.Bool(false)
	case "verbatim":
		w.Verbatim([]byte("This is a verbatim\nstring"))
	default:
		w.Error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
	}
}
