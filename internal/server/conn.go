package server

import (
	"crypto/subtle"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/resp"
)

// Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT, CLIENT.

func init() {
	C := commands.Register
	type cc = commands.Command
	f := commands.Fast
	C(
		&cc{Name: "ping", Arity: -1, Flags: f | commands.Sentinel, Proc: pingCommand, Group: "connection", Since: "1.0.0", Categories: "@fast @connection"},
		&cc{Name: "echo", Arity: 2, Flags: commands.Loading | commands.Stale | f, Proc: echoCommand, Group: "connection", Since: "1.0.0", Categories: "@fast @connection"},
		&cc{Name: "quit", Arity: -1, Flags: commands.AllowBusy | commands.NoAuth | commands.NoScript | commands.Loading | commands.Stale | f | commands.Sentinel, Proc: quitCommand, Group: "connection", Since: "1.0.0", Categories: "@fast @connection"},
		&cc{Name: "reset", Arity: 1, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.NoAuth | f | commands.AllowBusy | commands.Sentinel, Proc: resetCommand, Group: "connection", Since: "6.2.0", Categories: "@fast @connection"},
		&cc{Name: "hello", Arity: -1, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.NoAuth | f | commands.AllowBusy | commands.Sentinel, Proc: helloCommand, Group: "connection", Since: "6.0.0", Categories: "@fast @connection"},
		&cc{Name: "auth", Arity: -2, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.NoAuth | f | commands.AllowBusy | commands.Sentinel, Proc: authCommand, Group: "connection", Since: "1.0.0", Categories: "@fast @connection"},
		&cc{Name: "select", Arity: 2, Flags: commands.Loading | commands.Stale | f, Proc: selectCommand, Group: "connection", Since: "1.0.0", Categories: "@keyspace @fast"},
		&cc{Name: "client", Arity: -2, Group: "connection", Since: "2.4.0", Categories: "@slow", Sub: map[string]*cc{
			"id":       {Name: "id", Arity: 2, Flags: commands.NoScript | commands.Loading | commands.Stale, Proc: clientIDCommand, Categories: "@slow @connection"},
			"info":     {Name: "info", Arity: 2, Flags: commands.NoScript | commands.Loading | commands.Stale, Proc: clientInfoCommand, Categories: "@slow @connection"},
			"list":     {Name: "list", Arity: -2, Flags: commands.Admin | commands.NoScript | commands.Loading | commands.Stale, Proc: clientListCommand, Categories: "@admin @slow @dangerous @connection"},
			"setname":  {Name: "setname", Arity: 3, Flags: commands.NoScript | commands.Loading | commands.Stale, Proc: clientSetnameCommand, Categories: "@slow @connection"},
			"getname":  {Name: "getname", Arity: 2, Flags: commands.NoScript | commands.Loading | commands.Stale, Proc: clientGetnameCommand, Categories: "@slow @connection"},
			"kill":     {Name: "kill", Arity: -3, Flags: commands.Admin | commands.NoScript | commands.Loading | commands.Stale, Proc: clientKillCommand, Categories: "@admin @slow @dangerous @connection"},
			"pause":    {Name: "pause", Arity: -3, Flags: commands.Admin | commands.NoScript | commands.Loading | commands.Stale, Proc: clientPauseCommand, Categories: "@admin @slow @dangerous @connection"},
			"unpause":  {Name: "unpause", Arity: 2, Flags: commands.Admin | commands.NoScript | commands.Loading | commands.Stale, Proc: clientUnpauseCommand, Categories: "@admin @slow @dangerous @connection"},
			"reply":    {Name: "reply", Arity: 3, Flags: commands.NoScript | commands.Loading | commands.Stale, Proc: clientReplyCommand, Categories: "@slow @connection"},
			"no-evict": {Name: "no-evict", Arity: 3, Flags: commands.Admin | commands.NoScript | commands.Loading | commands.Stale, Proc: clientNoEvictCommand, Categories: "@admin @slow @dangerous @connection"},
			"unblock":  {Name: "unblock", Arity: -3, Flags: commands.Admin | commands.NoScript | commands.Loading | commands.Stale, Proc: clientUnblockCommand, Categories: "@admin @slow @dangerous @connection"},
			"getredir": {Name: "getredir", Arity: 2, Flags: commands.NoScript | commands.Loading | commands.Stale, Proc: func(c *commands.Ctx) { c.W.Int(-1) }, Categories: "@slow @connection"},
			"tracking": {Name: "tracking", Arity: -3, Flags: commands.NoScript | commands.Loading | commands.Stale, Proc: func(c *commands.Ctx) {
				if commands.EqualFold(c.Args[2], "off") {
					c.W.OK()
					return
				}
				c.W.Error("ERR client tracking is not supported by vigil yet")
			}, Categories: "@slow @connection"},
			"help": {Name: "help", Arity: 2, Flags: commands.Loading | commands.Stale, Proc: clientHelpCommand, Categories: "@slow @connection"},
		}},
	)
}

func pingCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	if len(ctx.Args) > 2 {
		ctx.W.Error(commands.WrongArity("ping"))
		return
	}
	if c.proto == 2 && c.subCount() > 0 {
		ctx.W.ArrayLen(2)
		ctx.W.BulkString("pong")
		if len(ctx.Args) == 2 {
			ctx.W.Bulk(ctx.Args[1])
		} else {
			ctx.W.BulkString("")
		}
		return
	}
	if len(ctx.Args) == 2 {
		ctx.W.Bulk(ctx.Args[1])
		return
	}
	ctx.W.Simple("PONG")
}

func echoCommand(ctx *commands.Ctx) { ctx.W.Bulk(ctx.Args[1]) }

func quitCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	c.flags |= flagCloseAfterReply
	ctx.W.OK()
}

func resetCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	s := c.srv
	c.discardTransaction()
	s.pubsubUnsubscribeAll(c, false)
	delete(s.monitors, c)
	c.flags &^= flagMonitor | flagNoEvict | flagReadOnly
	c.SelectDB(0)
	c.proto = 2
	c.w.Proto = 2
	c.name = ""
	c.replyMode = replyOn
	c.skipNext = false
	c.authed = s.requirePass == ""
	c.user = "default"
	ctx.W.Simple("RESET")
}

func (s *Server) checkPassword(user, pass string) bool {
	if user != "default" {
		return false
	}
	if s.requirePass == "" {
		// nopass default user accepts any password (Redis 6+ behaviour).
		return true
	}
	return subtle.ConstantTimeCompare([]byte(pass), []byte(s.requirePass)) == 1
}

func authCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	s := c.srv
	if len(ctx.Args) > 3 {
		ctx.W.Error(commands.ErrSyntax)
		return
	}
	if len(ctx.Args) == 2 {
		if s.requirePass == "" {
			ctx.W.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
		if s.checkPassword("default", string(ctx.Args[1])) {
			c.authed = true
			ctx.W.OK()
			return
		}
	} else if s.checkPassword(string(ctx.Args[1]), string(ctx.Args[2])) {
		c.authed = true
		c.user = string(ctx.Args[1])
		ctx.W.OK()
		return
	}
	ctx.W.Error("WRONGPASS invalid username-password pair or user is disabled.")
}

func helloCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	s := c.srv
	ver := int64(c.proto)
	i := 1
	if len(ctx.Args) >= 2 {
		v, ok := commands.ParseInt(ctx.Args[1])
		if !ok {
			ctx.W.Error("ERR Protocol version is not an integer or out of range")
			return
		}
		i = 2
		if v < 2 || v > 3 {
			ctx.W.Error("NOPROTO unsupported protocol version")
			return
		}
		ver = v
	}
	var name []byte
	hasName := false
	for ; i < len(ctx.Args); i++ {
		left := len(ctx.Args) - i - 1
		switch {
		case commands.EqualFold(ctx.Args[i], "auth") && left >= 2:
			if !s.checkPassword(string(ctx.Args[i+1]), string(ctx.Args[i+2])) {
				ctx.W.Error("WRONGPASS invalid username-password pair or user is disabled.")
				return
			}
			c.authed = true
			c.user = string(ctx.Args[i+1])
			i += 2
		case commands.EqualFold(ctx.Args[i], "setname") && left >= 1:
			name = ctx.Args[i+1]
			hasName = true
			i++
		default:
			ctx.W.Error("ERR Syntax error in HELLO option '" + string(ctx.Args[i]) + "'")
			return
		}
	}
	if !c.authed {
		ctx.W.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if hasName {
		if msg := validClientName(name); msg != "" {
			ctx.W.Error(msg)
			return
		}
		c.name = string(name)
	}
	c.proto = int(ver)
	ctx.W.Proto = c.proto
	w := ctx.W
	if s.Sentinel != nil {
		w.MapLen(6) // redis-sentinel's HELLO has no "role"
	} else {
		w.MapLen(7)
	}
	w.BulkString("server")
	w.BulkString("redis")
	w.BulkString("version")
	w.BulkString(Version)
	w.BulkString("proto")
	w.Int(ver)
	w.BulkString("id")
	w.Int(c.id)
	w.BulkString("mode")
	if s.Sentinel != nil {
		w.BulkString("sentinel")
	} else {
		w.BulkString("standalone")
	}
	if s.Sentinel == nil {
		w.BulkString("role")
		w.BulkString(s.roleName())
	}
	w.BulkString("modules")
	w.ArrayLen(0)
}

func (s *Server) roleName() string {
	if s.IsReplica != nil && s.IsReplica() {
		return "replica"
	}
	return "master"
}

func selectCommand(ctx *commands.Ctx) {
	id, ok := commands.GetIntArg(ctx, ctx.Args[1], "")
	if !ok {
		return
	}
	if err := ctx.Client.SelectDB(id); err != nil {
		ctx.W.Error(commands.ErrDBIndex)
		return
	}
	ctx.W.OK()
}

func validClientName(n []byte) string {
	for _, ch := range n {
		if ch < '!' || ch > '~' {
			return "ERR Client names cannot contain spaces, newlines or special characters."
		}
	}
	return ""
}

func clientIDCommand(ctx *commands.Ctx) { ctx.W.Int(cl(ctx).id) }

func (s *Server) clientInfo(c *Client) string {
	now := time.Now()
	multi := -1
	if c.flags&flagMulti != 0 {
		multi = len(c.multiQueue)
	}
	qbuf := 0
	if c.rd != nil {
		qbuf = c.rd.Buffered()
	}
	c.outMu.Lock()
	obl := len(c.out)
	c.outMu.Unlock()
	cmd := c.lastCmd
	if cmd == "" {
		cmd = "NULL"
	}
	events := "r"
	if obl > 0 {
		events = "rw"
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d ssub=%d multi=%d qbuf=%d qbuf-free=%d argv-mem=%d multi-mem=0 rbs=%d rbp=%d obl=%d oll=0 omem=%d tot-mem=%d events=%s cmd=%s user=%s redir=-1 resp=%d",
		c.id, c.addr, c.laddr, 8+c.id%1000, c.name, int64(now.Sub(c.created).Seconds()), int64(now.Sub(c.lastInteraction).Seconds()),
		c.flagsString(), c.db, len(c.channels), len(c.patterns), len(c.shard), multi, qbuf, 0, c.argvMem, 16384, 0, obl, obl, 16384+obl+qbuf, events, cmd, c.user, c.proto)
}

func clientInfoCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	ctx.W.Verbatim([]byte(c.srv.clientInfo(c) + "\n"))
}

func (s *Server) sortedClients() []*Client {
	s.clientsMu.Lock()
	out := make([]*Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, c)
	}
	s.clientsMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func clientListCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	s := c.srv
	var typ string
	var ids map[int64]bool
	for i := 2; i < len(ctx.Args); i++ {
		switch {
		case commands.EqualFold(ctx.Args[i], "type") && i+1 < len(ctx.Args):
			typ = strings.ToLower(string(ctx.Args[i+1]))
			switch typ {
			case "normal", "master", "replica", "slave", "pubsub":
			default:
				ctx.W.Error("ERR Unknown client type '" + string(ctx.Args[i+1]) + "'")
				return
			}
			i++
		case commands.EqualFold(ctx.Args[i], "id") && i+1 < len(ctx.Args):
			ids = map[int64]bool{}
			for j := i + 1; j < len(ctx.Args); j++ {
				v, ok := commands.ParseInt(ctx.Args[j])
				if !ok {
					ctx.W.Error("ERR Invalid client ID")
					return
				}
				ids[v] = true
			}
			i = len(ctx.Args)
		default:
			ctx.W.Error(commands.ErrSyntax)
			return
		}
	}
	var b strings.Builder
	for _, x := range s.sortedClients() {
		if ids != nil && !ids[x.id] {
			continue
		}
		if typ != "" && x.clientType() != typ && !(typ == "slave" && x.clientType() == "replica") {
			continue
		}
		b.WriteString(s.clientInfo(x))
		b.WriteByte('\n')
	}
	ctx.W.Verbatim([]byte(b.String()))
}

func (c *Client) clientType() string {
	switch {
	case c.flags&flagMaster != 0:
		return "master"
	case c.flags&flagReplica != 0 && c.flags&flagMonitor == 0:
		return "replica"
	case c.subCount() > 0:
		return "pubsub"
	}
	return "normal"
}

func clientSetnameCommand(ctx *commands.Ctx) {
	if msg := validClientName(ctx.Args[2]); msg != "" {
		ctx.W.Error(msg)
		return
	}
	cl(ctx).name = string(ctx.Args[2])
	ctx.W.OK()
}

func clientGetnameCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	if c.name == "" {
		ctx.W.Null()
		return
	}
	ctx.W.BulkString(c.name)
}

func clientKillCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	s := c.srv
	args := ctx.Args
	if len(args) == 3 {
		// Old form: CLIENT KILL addr:port
		addr := string(args[2])
		for _, x := range s.sortedClients() {
			if x.addr == addr {
				x.killAsync(c)
				ctx.W.OK()
				return
			}
		}
		ctx.W.Error("ERR No such client")
		return
	}
	if len(args)%2 != 0 {
		ctx.W.Error(commands.ErrSyntax)
		return
	}
	var id int64
	var typ, addr, laddr, user string
	skipMe := true
	for i := 2; i < len(args); i += 2 {
		k, v := strings.ToLower(string(args[i])), string(args[i+1])
		switch k {
		case "id":
			n, ok := commands.ParseInt(args[i+1])
			if !ok || n <= 0 {
				ctx.W.Error("ERR client-id should be greater than 0")
				return
			}
			id = n
		case "type":
			typ = strings.ToLower(v)
			switch typ {
			case "normal", "master", "replica", "slave", "pubsub":
			default:
				ctx.W.Error("ERR Unknown client type '" + v + "'")
				return
			}
			if typ == "slave" {
				typ = "replica"
			}
		case "addr":
			addr = v
		case "laddr":
			laddr = v
		case "user":
			user = v
		case "skipme":
			switch strings.ToLower(v) {
			case "yes":
				skipMe = true
			case "no":
				skipMe = false
			default:
				ctx.W.Error(commands.ErrSyntax)
				return
			}
		default:
			ctx.W.Error(commands.ErrSyntax)
			return
		}
	}
	n := 0
	for _, x := range s.sortedClients() {
		if id != 0 && x.id != id {
			continue
		}
		if typ != "" && x.clientType() != typ {
			continue
		}
		if addr != "" && x.addr != addr {
			continue
		}
		if laddr != "" && x.laddr != laddr {
			continue
		}
		if user != "" && x.user != user {
			continue
		}
		if x == c && skipMe {
			continue
		}
		x.killAsync(c)
		n++
	}
	if typ == "master" && id == 0 && addr == "" && laddr == "" && user == "" && KillMasterLink != nil {
		// The master link isn't a listed client: replication drops it.
		n += KillMasterLink(s)
	}
	ctx.W.Int(int64(n))
}

// killAsync closes x; if x is the caller, after its reply is written.
func (x *Client) killAsync(caller *Client) {
	if x == caller {
		x.flags |= flagCloseAfterReply
		return
	}
	if x.fake {
		return
	}
	x.killed = true
	x.outMu.Lock()
	x.closed = true
	x.outMu.Unlock()
	if x.conn != nil {
		x.conn.Close()
	}
	x.wakeUp()
}

func clientPauseCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	ms, ok := commands.ParseInt(ctx.Args[2])
	if !ok {
		ctx.W.Error("ERR timeout is not an integer or out of range")
		return
	}
	if ms < 0 {
		ctx.W.Error("ERR timeout is negative")
		return
	}
	write := false
	if len(ctx.Args) == 4 {
		switch {
		case commands.EqualFold(ctx.Args[3], "write"):
			write = true
		case commands.EqualFold(ctx.Args[3], "all"):
		default:
			ctx.W.Error("ERR CLIENT PAUSE mode must be WRITE or ALL")
			return
		}
	} else if len(ctx.Args) > 4 {
		ctx.W.Error(commands.ErrSyntax)
		return
	}
	c.srv.pause(time.Duration(ms)*time.Millisecond, write)
	ctx.W.OK()
}

func clientUnpauseCommand(ctx *commands.Ctx) {
	cl(ctx).srv.unpause()
	ctx.W.OK()
}

func clientReplyCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	switch {
	case commands.EqualFold(ctx.Args[2], "on"):
		c.replyMode = replyOn
		c.skipNext = false
		ctx.W.OK()
	case commands.EqualFold(ctx.Args[2], "off"):
		c.replyMode = replyOff
	case commands.EqualFold(ctx.Args[2], "skip"):
		if c.replyMode == replyOn {
			c.replyMode = replySkip
		}
	default:
		ctx.W.Error(commands.ErrSyntax)
	}
}

func clientNoEvictCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	switch {
	case commands.EqualFold(ctx.Args[2], "on"):
		c.flags |= flagNoEvict
	case commands.EqualFold(ctx.Args[2], "off"):
		c.flags &^= flagNoEvict
	default:
		ctx.W.Error(commands.ErrSyntax)
		return
	}
	ctx.W.OK()
}

func clientUnblockCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	s := c.srv
	id, ok := commands.ParseInt(ctx.Args[2])
	if !ok {
		ctx.W.Error(commands.ErrNotInt)
		return
	}
	withErr := false
	if len(ctx.Args) == 4 {
		switch {
		case commands.EqualFold(ctx.Args[3], "timeout"):
		case commands.EqualFold(ctx.Args[3], "error"):
			withErr = true
		default:
			ctx.W.Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	} else if len(ctx.Args) > 4 {
		ctx.W.Error(commands.ErrSyntax)
		return
	}
	s.clientsMu.Lock()
	x := s.clients[id]
	s.clientsMu.Unlock()
	if x == nil || x.block == nil {
		ctx.W.Int(0)
		return
	}
	if withErr {
		s.unblockError(x, "UNBLOCKED client unblocked via CLIENT UNBLOCK")
	} else {
		s.unblockTimeout(x)
	}
	ctx.W.Int(1)
}

func clientHelpCommand(ctx *commands.Ctx) {
	writeHelp(ctx.W, "CLIENT", []string{
		"CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
		"GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
		"GETNAME", "    Return the name of the current connection.",
		"ID", "    Return the ID of the current connection.",
		"INFO", "    Return information about the current client connection.",
		"KILL <ip:port>", "    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
		"    * USER <username>", "      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
		"LIST [options ...]", "    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
		"UNPAUSE", "    Stop the current client pause, resuming traffic.",
		"PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
		"REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
		"SETNAME <name>", "    Assign the name <name> to the current connection.",
		"UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
		"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]", "         [OPTIN] [OPTOUT] [NOLOOP]", "    Control server assisted client side caching.",
		"TRACKINGINFO", "    Report tracking status for the current connection.",
		"NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
	})
}

// pause implements CLIENT PAUSE: commands from normal clients (all, or
// only writes) wait until the deadline.
func (s *Server) pause(d time.Duration, writeOnly bool) {
	until := time.Now().Add(d)
	if until.After(s.pauseUntil) || !writeOnly {
		s.pauseUntil = until
	}
	s.pauseWrites = writeOnly
}

func (s *Server) unpause() { s.pauseUntil = time.Time{} }

var _ = strconv.Itoa
var _ resp.Writer
