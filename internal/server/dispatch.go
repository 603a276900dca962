package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
)

// Hooks other subsystems install into the dispatcher.
var (
	// DenyWrite returns a non-empty error reply (without CRLF) when a write
	// must be refused (read-only replica, min-replicas, safe-mode fencing).
	DenyWrite func(s *Server, c *Client, cmd *commands.Command) string
	// DenyStale returns an error for a command that must not run on a
	// replica whose master link is down (replica-serve-stale-data no).
	DenyStale func(s *Server, c *Client, cmd *commands.Command) string
	// DenyOOM returns an error when the command would exceed maxmemory after
	// trying eviction.
	DenyOOM func(s *Server, c *Client, cmd *commands.Command) string
	// AfterBatch runs after each batch of commands (under mu).
	AfterCommand func(s *Server, c *Client)
)

// unknownCommand builds Redis's error for an unknown command: the name cut
// at 128 bytes, then quoted arguments while the list is under 128 bytes,
// each cut to what is left of those 128 (C strings: cut at a NUL too).
func (c *Client) unknownCommand(args [][]byte) string {
	var list strings.Builder
	for i := 1; i < len(args) && list.Len() < 128; i++ {
		list.WriteString("'")
		list.WriteString(truncate(cString(args[i]), 128-list.Len()+1))
		list.WriteString("' ")
	}
	return sanitize("ERR unknown command '" + truncate(cString(args[0]), 128) + "', with args beginning with: " + list.String())
}

// cString is b as C's %s prints it: up to the first NUL byte.
func cString(b []byte) string {
	for i, ch := range b {
		if ch == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func sanitize(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, s)
	}
	return s
}

// lookupCommand resolves args to a command, descending into subcommands.
func lookupCommand(args [][]byte) (*commands.Command, *commands.Command) {
	cmd := commands.Lookup(args[0])
	if cmd == nil {
		return nil, nil
	}
	if len(cmd.Sub) > 0 && len(args) >= 2 {
		sub := cmd.Sub[strings.ToLower(string(args[1]))]
		if sub != nil {
			return cmd, sub
		}
	}
	return cmd, nil
}

// execute runs one command from this client (srv.mu held).
func (c *Client) execute(args [][]byte) {
	s := c.srv
	if len(args) == 0 {
		return
	}
	w := &c.w
	base, sub := lookupCommand(args)
	cmd := base
	if sub != nil {
		cmd = sub
	}
	c.rejectingExec = cmd != nil && cmd.Name == "exec" && cmd.Parent == nil
	if cmd == nil {
		c.rejectCommand(c.unknownCommand(args))
		return
	}
	if base != nil && len(base.Sub) > 0 && sub == nil && base.Proc == nil {
		if len(args) < 2 {
			c.rejectCommand(commands.WrongArity(base.Name))
			return
		}
		c.rejectCommand("ERR unknown subcommand '" + sanitize(truncate(cString(args[1]), 128)) + "'. Try " + strings.ToUpper(base.Name) + " HELP.")
		return
	}
	if (cmd.Arity > 0 && len(args) != cmd.Arity) || len(args) < -cmd.Arity {
		c.rejectCommand(commands.WrongArity(cmd.FullName()))
		return
	}
	if !c.authed && cmd.Flags&commands.NoAuth == 0 {
		c.rejectCommand("NOAUTH Authentication required.")
		return
	}
	if c.flags&flagMulti != 0 && cmd.Flags&commands.NoMulti != 0 {
		c.rejectCommand("ERR Command not allowed inside a transaction")
		return
	}
	if c.proto == 2 && len(c.channels)+len(c.patterns) > 0 && !allowedInSubscribe(cmd) {
		c.rejectCommand("ERR Can't execute '" + cmd.FullName() + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		return
	}
	if s.SafePingError != "" && c.safePingDenied(cmd) {
		c.rejectCommand(s.SafePingError)
		return
	}
	isWrite := cmd.Flags&commands.Write != 0
	if c.flags&flagMulti == 0 || isExecLike(cmd) {
		if cmd.Flags&commands.Stale == 0 && DenyStale != nil {
			if msg := DenyStale(s, c, cmd); msg != "" {
				c.rejectCommand(msg)
				return
			}
		}
		if isWrite && DenyWrite != nil {
			if msg := DenyWrite(s, c, cmd); msg != "" {
				c.rejectCommand(msg)
				return
			}
		}
		if cmd.Flags&commands.DenyOOM != 0 && DenyOOM != nil {
			if msg := DenyOOM(s, c, cmd); msg != "" {
				c.rejectCommand(msg)
				return
			}
		}
	}
	// After -MASTERDOWN and the other checks above, as in Redis's
	// processCommand: a replica loading a full sync with
	// replica-serve-stale-data no says its master link is down.
	if cmd.Flags&commands.Loading == 0 && !c.fake && s.loading.Load() {
		c.rejectCommand("LOADING Redis is loading the dataset in memory")
		return
	}
	c.rejectingExec = false
	if c.flags&flagMulti != 0 && !isExecLike(cmd) {
		q := make([][]byte, len(args))
		for i, a := range args {
			q[i] = append([]byte(nil), a...)
		}
		c.multiQueue = append(c.multiQueue, queuedCmd{cmd: cmd, args: q})
		c.reply(func() { w.Raw(queuedReply) })
		return
	}
	c.call(cmd, args)
}

var queuedReply = []byte("+QUEUED\r\n")

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func isExecLike(cmd *commands.Command) bool {
	switch cmd.Name {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return cmd.Parent == nil
	}
	return false
}

func allowedInSubscribe(cmd *commands.Command) bool {
	switch cmd.FullName() {
	case "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "ping", "quit", "reset":
		return true
	}
	return false
}

// rejectCommand replies with an error for a command that didn't run, and
// flags a surrounding MULTI so EXEC answers EXECABORT.
func (c *Client) rejectCommand(msg string) {
	if c.flags&flagMulti != 0 {
		c.flags |= flagDirtyExec
	}
	if c.rejectingExec {
		// Redis's execCommandAbort: a rejected EXEC discards the
		// transaction and says why.
		c.rejectingExec = false
		c.discardTransaction()
		msg = "EXECABORT Transaction discarded because of: " + strings.TrimPrefix(msg, "ERR ")
	}
	c.srv.countError(msg)
	if c.replyMode == replyOn && !c.skipNext {
		c.w.Error(msg)
	}
	c.skipNext = false
}

const (
	replyOn = iota
	replyOff
	replySkip
)

func (c *Client) reply(fn func()) {
	if c.replyMode == replyOn && !c.skipNext {
		fn()
	}
	c.skipNext = false
}

func (s *Server) countError(msg string) {
	s.stats.totalErrorReplies++
	code := msg
	if i := strings.IndexByte(msg, ' '); i > 0 {
		code = msg[:i]
	}
	s.stats.errStats[code]++
}

// call executes cmd with args, with stats, slowlog, propagation and MONITOR.
func (c *Client) call(cmd *commands.Command, args [][]byte) {
	s := c.srv
	ctx := &c.ctx
	ctx.Reset()
	ctx.Args = args
	ctx.Cmd = cmd
	ctx.W = &c.w
	ctx.Now = s.nowMs
	ctx.DB = s.ks.DBs[c.db]
	start := len(c.w.Buf)
	replyOffBefore := c.replyMode == replyOff
	replyOff := c.replyMode != replyOn || c.skipNext
	prevCurrent := s.current
	s.current = c
	t0 := time.Now()
	cmd.Proc(ctx)
	dur := time.Since(t0)
	s.current = prevCurrent
	if ctx.Block != nil {
		if c.reprocessing {
			return
		}
		if c.NoBlock() {
			// Inside MULTI/EXEC or a script a blocking command behaves as
			// if its timeout expired at once.
			if ctx.Block.OnTimeout != nil {
				ctx.Block.OnTimeout(&c.w)
			} else {
				c.w.NullArray()
			}
			ctx.Block = nil
		} else {
			s.blockClient(c, cmd, args, ctx.Block)
			return
		}
	}
	if len(c.w.Buf) > start && c.w.Buf[start] == '-' {
		end := start + 1
		for end < len(c.w.Buf) && c.w.Buf[end] != '\r' {
			end++
		}
		s.countError(string(c.w.Buf[start+1 : end]))
		st := s.cmdStat(cmd)
		st.failed++
	}
	if replyOffBefore && c.replyMode == replyOn {
		// CLIENT REPLY ON answers +OK even though replies were off.
		replyOff = false
	}
	if replyOff {
		c.w.Buf = c.w.Buf[:start]
		if c.replyMode == replySkip || c.skipNext {
			c.skipNext = false
		}
	}
	if c.replyMode == replySkip {
		// CLIENT REPLY SKIP applies to the next command only.
		c.skipNext = true
		c.replyMode = replyOn
	}
	st := s.cmdStat(cmd)
	st.calls++
	us := dur.Microseconds()
	st.usec += us
	s.stats.commands++
	if cmd.Flags&commands.SkipSlowlog == 0 {
		s.slowlogPush(c, args, us)
	}
	s.latencySample("command", dur)
	if ctx.Dirty > 0 {
		s.stats.dirty += int64(ctx.Dirty)
		if (cmd.Flags&(commands.Write|commands.MayReplicate) != 0) && !ctx.NoPropagate {
			targets := PropagateAll
			if cmd.Flags&commands.ReplOnly != 0 {
				targets = PropagateRepl
			}
			if len(ctx.Propagate) > 0 {
				for _, p := range ctx.Propagate {
					s.propagateTo(c.db, p, targets)
				}
			} else {
				s.propagateTo(c.db, args, targets)
			}
		}
	}
	if len(s.monitors) > 0 && cmd.Flags&commands.SkipMonitor == 0 && cmd.Flags&commands.Admin == 0 {
		s.feedMonitors(c, args)
	}
	c.lastCmd = cmd.FullName()
	if len(s.blocking.ready) > 0 && !c.inExec && s.txDepth == 0 {
		s.handleReadyKeys()
	}
	if AfterCommand != nil {
		AfterCommand(s, c)
	}
}

func (s *Server) cmdStat(cmd *commands.Command) *cmdStat {
	// Keyed by pointer on the hot path; INFO commandstats renders names.
	if st := s.stats.cmdByPtr[cmd]; st != nil {
		return st
	}
	name := cmd.FullName()
	st := s.stats.cmdStats[name]
	if st == nil {
		st = &cmdStat{}
		s.stats.cmdStats[name] = st
	}
	if s.stats.cmdByPtr == nil {
		s.stats.cmdByPtr = map[*commands.Command]*cmdStat{}
	}
	s.stats.cmdByPtr[cmd] = st
	return st
}

func (s *Server) feedMonitors(c *Client, args [][]byte) {
	now := time.Now()
	var b []byte
	b = append(b, '+')
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	us := now.Nanosecond() / 1000
	b = append(b, []byte(strconv.Itoa(1000000 + us))[1:]...)
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(c.db), 10)
	b = append(b, ' ')
	if c.flags&flagUnix != 0 {
		b = append(b, "unix:"...)
		b = append(b, s.Cfg.String("unixsocket")...)
	} else if c.conn == nil {
		b = append(b, "lua"...)
	} else {
		b = append(b, c.addr...)
	}
	b = append(b, ']')
	for _, a := range args {
		b = append(b, ' ')
		b = appendRepr(b, a)
	}
	b = append(b, '\r', '\n')
	for m := range s.monitors {
		if m != c {
			m.push(b)
		}
	}
}

// appendRepr quotes like Redis's sdscatrepr.
func appendRepr(b []byte, a []byte) []byte {
	b = append(b, '"')
	for _, ch := range a {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= 32 && ch < 127 {
				b = append(b, ch)
			} else {
				const hx = "0123456789abcdef"
				b = append(b, '\\', 'x', hx[ch>>4], hx[ch&15])
			}
		}
	}
	return append(b, '"')
}
