package server

import (
	"github.com/vigil-kv/vigil/internal/commands"
)

// MULTI/EXEC/WATCH (Redis's multi.c).

func init() {
	commands.Register(
		&commands.Command{Name: "multi", Arity: 1, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.Fast | commands.AllowBusy, Proc: multiCommand, Group: "transactions", Since: "1.2.0", Categories: "@fast @transaction"},
		&commands.Command{Name: "exec", Arity: 1, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.SkipSlowlog, Proc: execCommand, Group: "transactions", Since: "1.2.0", Categories: "@slow @transaction"},
		&commands.Command{Name: "discard", Arity: 1, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.Fast | commands.AllowBusy, Proc: discardCommand, Group: "transactions", Since: "2.0.0", Categories: "@fast @transaction"},
		&commands.Command{Name: "watch", Arity: -2, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.Fast | commands.AllowBusy, FirstKey: 1, LastKey: -1, Proc: watchCommand, Group: "transactions", Since: "2.2.0", Categories: "@fast @transaction"},
		&commands.Command{Name: "unwatch", Arity: 1, Flags: commands.NoScript | commands.Loading | commands.Stale | commands.Fast | commands.AllowBusy, Proc: unwatchCommand, Group: "transactions", Since: "2.2.0", Categories: "@fast @transaction"},
	)
}

func multiCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	if c.flags&flagMulti != 0 {
		ctx.W.Error("ERR MULTI calls can not be nested")
		return
	}
	c.flags |= flagMulti
	ctx.W.OK()
}

func (c *Client) discardTransaction() {
	c.multiQueue = nil
	c.flags &^= flagMulti | flagDirtyCAS | flagDirtyExec
	c.srv.unwatchAll(c)
}

func discardCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	if c.flags&flagMulti == 0 {
		ctx.W.Error("ERR DISCARD without MULTI")
		return
	}
	c.discardTransaction()
	ctx.W.OK()
}

func execCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	s := c.srv
	if c.flags&flagMulti == 0 {
		ctx.W.Error("ERR EXEC without MULTI")
		return
	}
	if c.watchedExpired() {
		c.flags |= flagDirtyCAS
	}
	if c.flags&(flagDirtyCAS|flagDirtyExec) != 0 {
		if c.flags&flagDirtyExec != 0 {
			ctx.W.Error("EXECABORT Transaction discarded because of previous errors.")
		} else {
			ctx.W.NullArray()
		}
		c.discardTransaction()
		return
	}
	queue := c.multiQueue
	c.multiQueue = nil
	c.flags &^= flagMulti
	s.unwatchAll(c)
	// Writes inside the transaction reach replicas wrapped in MULTI/EXEC so
	// they apply atomically there too.
	s.beginTxPropagation()
	c.inExec = true
	ctx.W.ArrayLen(len(queue))
	for _, q := range queue {
		if q.cmd.Flags&commands.Write != 0 && DenyWrite != nil {
			if msg := DenyWrite(s, c, q.cmd); msg != "" {
				ctx.W.Error(msg)
				continue
			}
		}
		c.call(q.cmd, q.args)
	}
	c.inExec = false
	// call() rewrote ctx; restore what EXEC's own bookkeeping needs.
	ctx.Cmd = commands.Table["exec"]
	ctx.Reset()
	s.endTxPropagation()
	c.flags &^= flagDirtyCAS | flagDirtyExec
}

// Transaction propagation: writes during EXEC are buffered, then emitted
// alone (one write) or wrapped in MULTI/EXEC (several).
func (s *Server) beginTxPropagation() {
	s.txDepth++
}

func (s *Server) endTxPropagation() {
	s.txDepth--
	if s.txDepth > 0 {
		return
	}
	buf := s.txBuf
	s.txBuf = nil
	if len(buf) == 0 {
		return
	}
	if len(buf) == 1 {
		s.emit(buf[0].db, buf[0].args, buf[0].targets)
		return
	}
	var all PropagateTarget // MULTI/EXEC go where the commands go
	for _, p := range buf {
		all |= p.targets
	}
	s.emit(buf[0].db, [][]byte{[]byte("MULTI")}, all)
	for _, p := range buf {
		s.emit(p.db, p.args, p.targets)
	}
	s.emit(buf[len(buf)-1].db, [][]byte{[]byte("EXEC")}, all)
}

type propEntry struct {
	db      int
	args    [][]byte
	targets PropagateTarget
}

func watchCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	if c.flags&flagMulti != 0 {
		ctx.W.Error("ERR WATCH inside MULTI is not allowed")
		return
	}
	s := c.srv
	for _, k := range ctx.Args[1:] {
		key := string(k)
		dup := false
		for _, wk := range c.watchedKeys {
			if wk.db == c.db && wk.key == key {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		e := ctx.DB.Raw(key)
		expiredNow := e != nil && e.Expire() != 0 && e.Expire() <= s.nowMs
		c.watchedKeys = append(c.watchedKeys, watchedKey{db: c.db, key: key, expired: expiredNow})
		m := s.watched[c.db]
		if m == nil {
			m = map[string]map[*Client]struct{}{}
			s.watched[c.db] = m
		}
		set := m[key]
		if set == nil {
			set = map[*Client]struct{}{}
			m[key] = set
		}
		set[c] = struct{}{}
	}
	ctx.W.OK()
}

func unwatchCommand(ctx *commands.Ctx) {
	c := cl(ctx)
	c.srv.unwatchAll(c)
	c.flags &^= flagDirtyCAS
	ctx.W.OK()
}

func (s *Server) unwatchAll(c *Client) {
	for _, wk := range c.watchedKeys {
		if m := s.watched[wk.db]; m != nil {
			if set := m[wk.key]; set != nil {
				delete(set, c)
				if len(set) == 0 {
					delete(m, wk.key)
				}
			}
		}
	}
	c.watchedKeys = nil
}

// watchedExpired reports whether a key that was live at WATCH time has
// logically expired since (Redis 7 aborts EXEC then).
func (c *Client) watchedExpired() bool {
	s := c.srv
	for _, wk := range c.watchedKeys {
		if wk.expired {
			continue
		}
		e := s.ks.DBs[wk.db].Raw(wk.key)
		if e != nil && e.Expire() != 0 && e.Expire() <= s.nowMs {
			return true
		}
	}
	return false
}

// SignalModifiedKey implements commands.Server: invalidates WATCHes.
func (s *Server) SignalModifiedKey(db int, key []byte) {
	m := s.watched[db]
	if m == nil {
		return
	}
	for c := range m[string(key)] {
		c.flags |= flagDirtyCAS
	}
}

// signalFlushedDB marks every client watching a key that exists in db
// (-1: every db) as dirty.
func (s *Server) signalFlushedDB(db int) {
	for id, m := range s.watched {
		if db != -1 && id != db {
			continue
		}
		for key, set := range m {
			if s.ks.DBs[id].Raw(key) == nil {
				continue
			}
			for c := range set {
				c.flags |= flagDirtyCAS
			}
		}
	}
}
