package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/lowprio"
	"github.com/vigil-kv/vigil/internal/resp"
)

// Client flags.
const (
	flagMulti = 1 << iota
	flagDirtyCAS
	flagDirtyExec
	flagMonitor
	flagReplica
	flagMaster
	flagCloseAfterReply
	flagNoEvict
	flagPubSub
	flagBlocked
	flagUnix
	flagReadOnly
)

// Client is one connection.
type Client struct {
	srv             *Server
	id              int64
	conn            net.Conn
	cr              *connReader
	rd              *resp.Reader
	addr            string
	laddr           string
	name            string
	db              int
	proto           int
	authed          bool
	user            string
	flags           int
	created         time.Time
	lastInteraction time.Time
	lastCmd         string

	ctx commands.Ctx
	w   resp.Writer // replies of the current batch (under srv.mu)

	// out holds bytes for the socket; everything destined to this client is
	// appended here in order (own replies and pushes from other clients).
	outMu         sync.Mutex
	out           []byte
	wmu           sync.Mutex // one socket writer at a time
	flushing      bool
	closed        bool
	obufSoftSince time.Time

	multiQueue  []queuedCmd
	watchedKeys []watchedKey

	channels map[string]struct{}
	patterns map[string]struct{}
	shard    map[string]struct{}

	replyMode int // 0 on, 1 off, 2 skip next
	skipNext  bool

	// blocking
	block *blockedState
	wake  chan struct{}

	killed bool
	inExec bool
	fake   bool // internal client (Lua, AOF loading, master link)
	// Repl holds the replication package's per-replica state.
	Repl any
	// WOff is the replication offset just after this client's last write
	// (WAIT waits for replicas to reach it, as Redis's c->woff).
	WOff         int64
	reprocessing bool
	// rejectingExec is set while the dispatcher checks an EXEC, so a
	// rejection answers EXECABORT as Redis does.
	rejectingExec bool
	argvMem       int
	qbufPeak      int
	gate          *ackGate // safe mode (fence.go)
	dur           durGate  // appendfsync always (durable.go)
}

type queuedCmd struct {
	cmd  *commands.Command
	args [][]byte
}

type watchedKey struct {
	db      int
	key     string
	expired bool // already logically expired when WATCHed
}

// connReader lets a blocked client keep watching its socket for a close
// without losing pipelined bytes: bytes read while blocked are stashed and
// served first afterwards.
type connReader struct {
	conn  net.Conn
	stash []byte
}

func (r *connReader) Read(p []byte) (int, error) {
	if len(r.stash) > 0 {
		n := copy(p, r.stash)
		r.stash = r.stash[n:]
		return n, nil
	}
	n, err := r.conn.Read(p)
	if n > 0 {
		lowprio.NoteRequests() // paced background work then gives way
	}
	return n, err
}

func isLocalAddr(a net.Addr) bool {
	switch v := a.(type) {
	case *net.TCPAddr:
		return v.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

const protectedModeMsg = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

func (s *Server) handleConn(conn net.Conn, unix bool) {
	// Read without the keyspace lock: a long script or DEBUG SLEEP holds
	// it, and new connections must still be accepted (and told -BUSY).
	cs := s.connSettings.Load()
	protected, pass, maxc := cs.protected, cs.requirePass, cs.maxClients
	if protected && pass == "" && !isLocalAddr(conn.RemoteAddr()) {
		conn.Write([]byte(protectedModeMsg))
		s.stats.rejectedConns.Add(1)
		conn.Close()
		return
	}
	s.clientsMu.Lock()
	n := int64(len(s.clients))
	s.clientsMu.Unlock()
	if n >= maxc {
		conn.Write([]byte("-ERR max number of clients reached\r\n"))
		s.stats.rejectedConns.Add(1)
		conn.Close()
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		if ka := s.Cfg.Int("tcp-keepalive"); ka > 0 {
			tc.SetKeepAlive(true)
			tc.SetKeepAlivePeriod(time.Duration(ka) * time.Second)
		}
	}
	c := s.newClient(conn, unix)
	defer s.freeClient(c)
	c.serve()
}

func (s *Server) newClient(conn net.Conn, unix bool) *Client {
	c := &Client{
		srv:     s,
		id:      s.nextID.Add(1),
		conn:    conn,
		proto:   2,
		user:    "default",
		created: time.Now(),
		wake:    make(chan struct{}, 1),
	}
	c.lastInteraction = c.created
	if conn != nil {
		c.cr = &connReader{conn: conn}
		c.rd = resp.NewReader(c.cr, s.protoMaxBulk, s.queryBufLimit)
		if unix {
			c.flags |= flagUnix
			c.addr = s.Cfg.String("unixsocket") + ":0"
			c.laddr = c.addr
		} else {
			c.addr = conn.RemoteAddr().String()
			c.laddr = conn.LocalAddr().String()
		}
	}
	c.w.Proto = 2
	c.ctx.Client = c
	c.ctx.Srv = s
	c.ctx.KS = s.ks
	c.authed = s.connSettings.Load().requirePass == ""
	c.ctx.DB = s.ks.DBs[0]
	s.clientsMu.Lock()
	s.clients[c.id] = c
	s.clientsMu.Unlock()
	return c
}

func (s *Server) freeClient(c *Client) {
	s.mu.Lock()
	s.unwatchAll(c)
	s.pubsubUnsubscribeAll(c, false)
	s.blocking.remove(c)
	delete(s.monitors, c)
	s.mu.Unlock()
	s.clientsMu.Lock()
	delete(s.clients, c.id)
	s.clientsMu.Unlock()
	c.outMu.Lock()
	c.closed = true
	c.outMu.Unlock()
	if c.conn != nil {
		c.conn.Close()
	}
	if c.flags&flagReplica != 0 || c.flags&flagMaster != 0 {
		for _, h := range ClientCloseHooks {
			h(s, c)
		}
	}
}

// ClientCloseHooks run when a replica/master link client goes away.
var ClientCloseHooks []func(s *Server, c *Client)

// ID implements commands.Client.
func (c *Client) ID() int64 { return c.id }

// NoBlock implements commands.Client: inside MULTI or scripts nothing blocks.
func (c *Client) NoBlock() bool { return c.flags&flagMulti != 0 || c.inExec }

// SelectDB implements commands.Client.
func (c *Client) SelectDB(id int) error {
	if id < 0 || id >= len(c.srv.ks.DBs) {
		return errors.New(commands.ErrDBIndex)
	}
	c.db = id
	c.ctx.DB = c.srv.ks.DBs[id]
	return nil
}

// serve is the connection loop: read a batch, run it under the lock, write.
func (c *Client) serve() {
	s := c.srv
	var cmds []resp.Command
	for {
		var err error
		cmds, err = c.rd.ReadCommands(cmds[:0])
		if len(cmds) > 0 && scriptsRunning.Load() != 0 {
			cmds = c.busyGate(cmds) // scripting.go: -BUSY / SCRIPT KILL
		}
		if len(cmds) > 0 {
			c.lastInteraction = time.Now()
			s.mu.Lock()
			s.updateClock()
			gate := c.gateBegin()
			c.durBegin()
			for i := 0; i < len(cmds); i++ {
				if c.killed {
					break
				}
				if len(cmds[i].Args) > 0 && s.pausedFor(c, cmds[i].Args) {
					// CLIENT PAUSE: release what ran so far, wait unlocked.
					c.releaseBatch(gate)
					c.moveRepliesToOut()
					s.mu.Unlock()
					c.flush()
					s.waitPause(c)
					s.mu.Lock()
					s.updateClock()
				}
				if gate != nil {
					gate.before(c)
				}
				c.execute(cmds[i].Args)
				if gate != nil {
					gate.after(c, cmds[i].Args)
				}
				c.durAfter()
				if c.block != nil {
					// The rest of the pipeline waits until this client is
					// served, times out or is unblocked, as in Redis.
					c.releaseBatch(gate)
					c.moveRepliesToOut()
					s.mu.Unlock()
					c.flush()
					if !c.waitUnblocked() {
						return
					}
					s.mu.Lock()
					s.updateClock()
				}
			}
			c.releaseBatch(gate)
			c.moveRepliesToOut()
			// Read under the lock: other goroutines (CLIENT KILL,
			// replication dropping a replica) set these holding it.
			closing := c.killed || c.flags&flagCloseAfterReply != 0
			s.mu.Unlock()
			c.flush()
			if closing {
				return
			}
		}
		if err != nil {
			var pe *resp.ProtocolError
			if errors.As(err, &pe) {
				c.appendOut([]byte("-ERR " + pe.Msg + "\r\n"))
				c.flush()
				s.Log.Log(nil, -2, fmt.Sprintf("Protocol error (%s) from client: %s", pe.Msg, c.infoLine()))
			}
			return
		}
	}
}

// moveRepliesToOut transfers the batch's replies into the ordered output.
// Called with srv.mu held so pushes from other clients keep their order.
func (c *Client) moveRepliesToOut() {
	if len(c.w.Buf) == 0 {
		return
	}
	c.outMu.Lock()
	c.out = append(c.out, c.w.Buf...)
	c.outMu.Unlock()
	c.w.Buf = c.w.Buf[:0]
	if cap(c.w.Buf) > 64*1024 {
		c.w.Buf = nil
	}
}

// appendOut queues bytes for this client (any goroutine).
func (c *Client) appendOut(p []byte) {
	c.outMu.Lock()
	c.out = append(c.out, p...)
	c.outMu.Unlock()
}

// flush writes everything queued. Only one writer at a time.
func (c *Client) flush() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		c.outMu.Lock()
		if len(c.out) == 0 || c.closed {
			c.outMu.Unlock()
			return
		}
		buf := c.out
		c.out = nil
		c.outMu.Unlock()
		n, err := c.conn.Write(buf)
		c.srv.stats.netOut.Add(int64(n))
		if err != nil {
			c.conn.Close()
			return
		}
		// Reuse the buffer when it's the only one.
		c.outMu.Lock()
		if c.out == nil && cap(buf) <= 64*1024 {
			c.out = buf[:0]
		}
		c.outMu.Unlock()
	}
}

// push queues an asynchronous message (pub/sub, MONITOR, unblock) from
// another goroutine and makes sure it gets written. It enforces the output
// buffer limits: a client that can't keep up is disconnected rather than
// let memory grow without bound.
func (c *Client) push(p []byte) {
	c.outMu.Lock()
	if c.closed {
		c.outMu.Unlock()
		return
	}
	c.out = append(c.out, p...)
	size := int64(len(c.out))
	start := !c.flushing
	c.flushing = true
	c.outMu.Unlock()
	if c.srv.overOutputLimit(c, size) {
		c.srv.Log.Warn(fmt.Sprintf("Client %s scheduled to be closed ASAP for overcoming of output buffer limits.", c.infoLine()))
		c.kill()
		return
	}
	if start {
		go func() {
			c.flush()
			c.outMu.Lock()
			c.flushing = false
			again := len(c.out) > 0 && !c.closed
			if again {
				c.flushing = true
			}
			c.outMu.Unlock()
			if again {
				c.flush()
				c.outMu.Lock()
				c.flushing = false
				c.outMu.Unlock()
			}
		}()
	}
}

func (c *Client) kill() {
	c.killed = true
	c.outMu.Lock()
	c.closed = true
	c.outMu.Unlock()
	if c.conn != nil {
		c.conn.Close()
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// overOutputLimit applies client-output-buffer-limit for the client's class.
func (s *Server) overOutputLimit(c *Client, size int64) bool {
	class := "normal"
	if c.flags&flagReplica != 0 {
		class = "replica"
	} else if len(c.channels)+len(c.patterns) > 0 {
		class = "pubsub"
	}
	hard, soft, secs := s.outputLimits(class)
	if hard > 0 && size >= hard {
		return true
	}
	if soft > 0 && size >= soft {
		c.outMu.Lock()
		defer c.outMu.Unlock()
		if c.obufSoftSince.IsZero() {
			c.obufSoftSince = time.Now()
			return false
		}
		return time.Since(c.obufSoftSince) > time.Duration(secs)*time.Second
	}
	c.outMu.Lock()
	c.obufSoftSince = time.Time{}
	c.outMu.Unlock()
	return false
}

// outputLimits is client-output-buffer-limit for class, as typed values
// from the config (no parsing on the push path).
func (s *Server) outputLimits(class string) (hard, soft, secs int64) {
	return s.Cfg.ClientOutputBufferLimit(class)
}

// waitUnblocked parks the goroutine of a blocked client until it is served,
// times out, is unblocked or killed, or its connection closes. It returns
// false if the client is gone.
func (c *Client) waitUnblocked() bool {
	closed := make(chan struct{})
	readDone := make(chan struct{})
	// Watch the socket: a read that returns data stashes it for later; an
	// error means the peer went away.
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		n, err := c.conn.Read(buf)
		if n > 0 {
			c.cr.stash = append(c.cr.stash, buf[:n]...)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			close(closed)
		}
	}()
	var timer <-chan time.Time
	c.srv.mu.Lock()
	b := c.block
	c.srv.mu.Unlock()
	if b != nil && b.timeout > 0 {
		t := time.NewTimer(time.Until(b.deadline))
		defer t.Stop()
		timer = t.C
	}
	alive := true
	for waiting := true; waiting; {
		select {
		case <-c.wake:
			waiting = false
		case <-timer:
			c.srv.mu.Lock()
			if c.block != nil {
				c.srv.unblockTimeout(c)
			}
			c.srv.mu.Unlock()
			waiting = false
		case <-closed:
			alive = false
			waiting = false
		case <-readDone:
			// Data arrived while blocked: keep waiting; Redis doesn't run
			// the next command until the block ends.
			readDone = nil
		}
	}
	// Stop the watcher and wait for it so it can't race the main reader.
	c.conn.SetReadDeadline(time.Unix(1, 0))
	if readDone != nil {
		<-readDone
	}
	c.conn.SetReadDeadline(time.Time{})
	select {
	case <-closed:
		alive = false
	default:
	}
	if !alive || c.killed {
		c.srv.mu.Lock()
		if c.block != nil {
			c.srv.blocking.remove(c)
			c.block = nil
		}
		c.srv.mu.Unlock()
		return false
	}
	c.srv.mu.Lock()
	c.durWaitWoken()
	c.moveRepliesToOut()
	c.srv.mu.Unlock()
	c.flush()
	return true
}

func (s *Server) closeIdleClients() {
	timeout := s.Cfg.Int("timeout")
	if timeout <= 0 {
		return
	}
	now := time.Now()
	s.clientsMu.Lock()
	var idle []*Client
	for _, c := range s.clients {
		if c.flags&(flagReplica|flagMaster|flagBlocked|flagPubSub) != 0 || len(c.channels)+len(c.patterns) > 0 {
			continue
		}
		if now.Sub(c.lastInteraction) > time.Duration(timeout)*time.Second {
			idle = append(idle, c)
		}
	}
	s.clientsMu.Unlock()
	for _, c := range idle {
		s.Log.Log(nil, -2, "Closing idle client")
		c.kill()
	}
}

func (c *Client) infoLine() string {
	return c.srv.clientInfo(c)
}

// flagsString renders CLIENT LIST's flags field.
func (c *Client) flagsString() string {
	var b strings.Builder
	if c.flags&flagReplica != 0 {
		b.WriteByte('S')
	}
	if c.flags&flagMaster != 0 {
		b.WriteByte('M')
	}
	if len(c.channels)+len(c.patterns) > 0 {
		b.WriteByte('P')
	}
	if c.flags&flagMulti != 0 {
		b.WriteByte('x')
	}
	if c.block != nil {
		b.WriteByte('b')
	}
	if c.flags&flagDirtyCAS != 0 {
		b.WriteByte('d')
	}
	if c.flags&flagCloseAfterReply != 0 {
		b.WriteByte('c')
	}
	if c.flags&flagUnix != 0 {
		b.WriteByte('U')
	}
	if c.flags&flagReadOnly != 0 {
		b.WriteByte('r')
	}
	if c.flags&flagNoEvict != 0 {
		b.WriteByte('e')
	}
	if c.flags&flagMonitor != 0 {
		b.WriteByte('O')
	}
	if b.Len() == 0 {
		b.WriteByte('N')
	}
	return b.String()
}

var _ = io.EOF
var _ = os.Getpid
