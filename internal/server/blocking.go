package server

import (
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/resp"
)

// Blocking commands (Redis's blocked.c). A handler that finds nothing to
// serve sets Ctx.Block; the client is then parked on its keys in FIFO order.
// When a write signals a key ready, the parked commands are re-run, oldest
// first, right after the write and under the same lock, so the replication
// stream sees the pop directly after the push that fed it.

type blockKey struct {
	db  int
	key string
}

type blockedState struct {
	keys      []string
	db        int
	timeout   time.Duration
	deadline  time.Time
	args      [][]byte
	cmd       *commands.Command
	onTimeout func(w *resp.Writer)
}

type blockingState struct {
	byKey    map[blockKey][]*Client
	ready    []blockKey
	readySet map[blockKey]struct{}
	count    int
	serving  bool
	// servingKey is the ready key a parked command is being re-run for.
	servingKey *blockKey
}

func (b *blockingState) init() {
	b.byKey = map[blockKey][]*Client{}
	b.readySet = map[blockKey]struct{}{}
}

// blockClient parks c according to its context's BlockRequest.
func (s *Server) blockClient(c *Client, cmd *commands.Command, args [][]byte, req *commands.BlockRequest) {
	st := &blockedState{db: c.db, timeout: req.Timeout, cmd: cmd, onTimeout: req.OnTimeout}
	if req.Timeout > 0 {
		st.deadline = time.Now().Add(req.Timeout)
	}
	st.args = make([][]byte, len(args))
	for i, a := range args {
		st.args[i] = append([]byte(nil), a...)
	}
	for _, k := range req.Keys {
		key := string(k)
		st.keys = append(st.keys, key)
		bk := blockKey{c.db, key}
		s.blocking.byKey[bk] = append(s.blocking.byKey[bk], c)
	}
	c.block = st
	c.flags |= flagBlocked
	s.blocking.count++
	// Drop a stale wake-up left by an earlier block (a timeout fired by the
	// client's own timer also signals wake), or waitUnblocked would return
	// at once with the client still parked.
	select {
	case <-c.wake:
	default:
	}
}

// BlockedReadyKey implements the optional interface blocking commands use
// to learn, when re-run for a key signalled ready, which key it was: Redis
// 7.0 serves a parked client only from that key, and only when it holds
// the type the command waits for (otherwise the client stays blocked).
func (c *Client) BlockedReadyKey() ([]byte, bool) {
	bk := c.srv.blocking.servingKey
	if !c.reprocessing || bk == nil {
		return nil, false
	}
	return []byte(bk.key), true
}

// remove drops c from every wait list.
func (b *blockingState) remove(c *Client) {
	st := c.block
	if st == nil {
		return
	}
	for _, k := range st.keys {
		bk := blockKey{st.db, k}
		l := b.byKey[bk]
		for i, x := range l {
			if x == c {
				l = append(l[:i:i], l[i+1:]...)
				break
			}
		}
		if len(l) == 0 {
			delete(b.byKey, bk)
		} else {
			b.byKey[bk] = l
		}
	}
	b.count--
	c.flags &^= flagBlocked
}

func (c *Client) wakeUp() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// unblockTimeout ends c's block with its timeout reply (mu held).
func (s *Server) unblockTimeout(c *Client) {
	st := c.block
	s.blocking.remove(c)
	c.block = nil
	if st.onTimeout != nil {
		st.onTimeout(&c.w)
	} else {
		c.w.NullArray()
	}
	c.wakeUp()
}

// unblockError ends c's block with an error (CLIENT UNBLOCK ... ERROR).
func (s *Server) unblockError(c *Client, msg string) {
	s.blocking.remove(c)
	c.block = nil
	c.w.Error(msg)
	c.wakeUp()
}

// expireTimeouts is a safety net for timeouts (the client goroutine's own
// timer normally fires first).
func (b *blockingState) expireTimeouts(s *Server) {
	if b.count == 0 {
		return
	}
	now := time.Now()
	var late []*Client
	for _, l := range b.byKey {
		for _, c := range l {
			if c.block != nil && c.block.timeout > 0 && now.After(c.block.deadline.Add(50*time.Millisecond)) {
				late = append(late, c)
			}
		}
	}
	for _, c := range late {
		if c.block != nil {
			s.unblockTimeout(c)
		}
	}
}

// SignalKeyReady implements commands.Server.
func (s *Server) SignalKeyReady(db int, key []byte) {
	if s.blocking.count == 0 {
		return
	}
	bk := blockKey{db, string(key)}
	if _, ok := s.blocking.byKey[bk]; !ok {
		return
	}
	if _, ok := s.blocking.readySet[bk]; ok {
		return
	}
	s.blocking.readySet[bk] = struct{}{}
	s.blocking.ready = append(s.blocking.ready, bk)
}

// handleReadyKeys serves clients blocked on keys signalled ready, in FIFO
// order per key, repeating while serving makes more keys ready (BLMOVE).
func (s *Server) handleReadyKeys() {
	if s.blocking.serving {
		return
	}
	s.blocking.serving = true
	defer func() { s.blocking.serving = false }()
	for len(s.blocking.ready) > 0 {
		ready := s.blocking.ready
		s.blocking.ready = nil
		for _, bk := range ready {
			delete(s.blocking.readySet, bk)
		}
		for _, bk := range ready {
			waiting := append([]*Client(nil), s.blocking.byKey[bk]...)
			for _, c := range waiting {
				if c.block == nil {
					continue
				}
				e := s.ks.DBs[bk.db].Peek(bk.key)
				if e == nil {
					break
				}
				s.blocking.servingKey = &bk
				s.serveBlocked(c)
				s.blocking.servingKey = nil
			}
		}
	}
}

// serveBlocked re-runs c's blocked command; if it can be served now, c is
// unblocked and woken.
func (s *Server) serveBlocked(c *Client) {
	st := c.block
	prevCurrent := s.current
	prevDB := c.db
	c.db = st.db
	mark := len(c.w.Buf)
	c.reprocessing = true
	c.block = nil
	c.call(st.cmd, st.args)
	c.reprocessing = false
	if c.ctx.Block != nil {
		// Still nothing for it (e.g. the key became another type and the
		// command only waits): stay blocked where it was in the queue.
		c.w.Buf = c.w.Buf[:mark]
		c.block = st
		c.ctx.Block = nil
	} else {
		c.block = st
		s.blocking.remove(c)
		c.block = nil
		c.wakeUp()
	}
	c.db = prevDB
	s.current = prevCurrent
}
