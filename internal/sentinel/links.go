package sentinel

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/vigil-kv/vigil/internal/resp"
	"github.com/vigil-kv/vigil/internal/sentinel/core"
)

// Link I/O: one TCP connection per core.Connect action. The driver goroutine
// creates links and writes on them; each link has a dialer/reader goroutine
// and a writer goroutine. Everything they learn goes back to the driver as
// core inputs through Sentinel.events, never while holding link.mu.

const (
	dialTimeout    = 2 * time.Second
	writeTimeout   = 5 * time.Second
	pendingTimeout = 30 * time.Second // oldest unanswered command: the link is dead
	writeQueueLen  = 1024
)

type pendingReq struct {
	id      uint64 // 0: handshake reply to discard
	left    int    // replies still expected for this request
	purpose core.Purpose
	addr    core.Addr
	sent    time.Time
}

type link struct {
	s    *Sentinel
	id   core.LinkID
	kind core.LinkKind
	addr core.Addr

	mu      sync.Mutex
	conn    net.Conn
	closed  bool
	pending []pendingReq
	wq      chan []byte
	done    chan struct{}
}

func newLink(s *Sentinel, c core.Connect) *link {
	return &link{s: s, id: c.Link, kind: c.Kind, addr: c.Addr, wq: make(chan []byte, writeQueueLen), done: make(chan struct{})}
}

// dial runs in its own goroutine: connect, authenticate, name the client,
// report LinkUp (or LinkDown), then read replies until the link dies.
func (l *link) dial(c core.Connect) {
	conn, err := net.DialTimeout("tcp", c.Addr.String(), dialTimeout)
	if err != nil {
		l.fail(err.Error())
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(15 * time.Second)
		tc.SetNoDelay(true)
	}
	var hs []byte
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		conn.Close()
		return
	}
	now := time.Now()
	if c.AuthPass != "" {
		if c.AuthUser != "" {
			hs = resp.AppendCommand(hs, "AUTH", c.AuthUser, c.AuthPass)
		} else {
			hs = resp.AppendCommand(hs, "AUTH", c.AuthPass)
		}
		l.pending = append(l.pending, pendingReq{left: 1, sent: now})
	}
	if c.ClientName != "" {
		hs = resp.AppendCommand(hs, "CLIENT", "SETNAME", c.ClientName)
		l.pending = append(l.pending, pendingReq{left: 1, sent: now})
	}
	l.conn = conn
	if len(hs) > 0 {
		l.wq <- hs
	}
	l.mu.Unlock()
	go l.writer(conn)
	l.s.input(core.LinkUp{Link: l.id})
	l.reader(conn)
}

func (l *link) writer(conn net.Conn) {
	for {
		select {
		case <-l.done:
			return
		case b := <-l.wq:
			conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := conn.Write(b); err != nil {
				l.fail(err.Error())
				return
			}
		}
	}
}

func (l *link) reader(conn net.Conn) {
	rr := resp.NewReplyReader(bufio.NewReaderSize(conn, 16*1024))
	for {
		v, err := rr.Read()
		if err != nil {
			l.fail(err.Error())
			return
		}
		if l.kind == core.LinkPubSub && isPushMessage(v) {
			ch, payload := string(v.Elems[len(v.Elems)-2].Str), string(v.Elems[len(v.Elems)-1].Str)
			l.s.input(core.Message{Link: l.id, Channel: ch, Payload: payload})
			continue
		}
		l.mu.Lock()
		if len(l.pending) == 0 {
			l.mu.Unlock()
			continue // unsolicited (e.g. a late push); ignore
		}
		p := &l.pending[0]
		p.left--
		if p.left > 0 {
			l.mu.Unlock()
			continue
		}
		done := *p
		l.pending = l.pending[1:]
		l.mu.Unlock()
		if done.id == 0 {
			continue
		}
		cv := toCore(v)
		if done.purpose == core.PurposeInfo && (cv.Kind == core.RespBulk || cv.Kind == core.RespStatus) {
			l.s.cacheInfo(done.addr, cv.Str)
		}
		l.s.input(core.Reply{Link: l.id, ID: done.id, Value: cv})
	}
}

func isPushMessage(v resp.Value) bool {
	if (v.Type != '*' && v.Type != '>') || len(v.Elems) < 3 {
		return false
	}
	k := strings.ToLower(string(v.Elems[0].Str))
	return (k == "message" && len(v.Elems) == 3) || (k == "pmessage" && len(v.Elems) == 4)
}

// send writes a pipelined batch; the reply to the last command is reported.
func (l *link) send(a core.SendCommand) {
	var b []byte
	for _, c := range a.Cmds {
		b = resp.AppendCommand(b, c...)
	}
	l.mu.Lock()
	if l.closed || l.conn == nil {
		l.mu.Unlock()
		return // a LinkDown is (or will be) reported
	}
	l.pending = append(l.pending, pendingReq{id: a.ID, left: len(a.Cmds), purpose: a.Purpose, addr: a.Addr, sent: time.Now()})
	select {
	case l.wq <- b:
		l.mu.Unlock()
	default:
		l.mu.Unlock()
		l.fail("write queue full")
	}
}

// stale reports whether the oldest command waits for longer than pendingTimeout.
func (l *link) stale(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) > 0 && now.Sub(l.pending[0].sent) > pendingTimeout
}

// fail closes the link and reports LinkDown once (unless Disconnect came first).
func (l *link) fail(reason string) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	if l.conn != nil {
		l.conn.Close()
	}
	close(l.done)
	l.mu.Unlock()
	l.s.input(core.LinkDown{Link: l.id, Reason: reason})
}

// close is Disconnect: nothing is reported.
func (l *link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	if l.conn != nil {
		l.conn.Close()
	}
	close(l.done)
}

// toCore converts a decoded reply into the core's value type.
func toCore(v resp.Value) core.Resp {
	switch v.Type {
	case '+':
		return core.Status(string(v.Str))
	case '-':
		return core.ErrorReply(string(v.Str))
	case ':':
		return core.Int(v.Int)
	case '$', '=', '(', ',':
		if v.Null {
			return core.Resp{Kind: core.RespNil}
		}
		return core.Bulk(string(v.Str))
	case '*', '>', '~', '%':
		if v.Null {
			return core.Resp{Kind: core.RespNil}
		}
		el := make([]core.Resp, len(v.Elems))
		for i, e := range v.Elems {
			el[i] = toCore(e)
		}
		return core.Array(el...)
	case '#':
		return core.Int(v.Int)
	}
	return core.Resp{Kind: core.RespNil}
}
