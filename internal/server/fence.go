package server

import (
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
)

// Safe mode's hooks into the client loop (see docs/reliability.md). The
// policy lives in package replication (safemode.go); the server only knows
// how to hold a batch's replies until the replicas acknowledged the writes
// in it, and how to replace the replies of those writes by an error when
// they don't in time.

// SafeGate is installed by replication. All methods run with the keyspace
// lock held.
type SafeGate interface {
	// On reports whether safe mode is enabled (cheap; called per batch).
	On(s *Server) bool
	// Offset is the current replication stream offset; a command that
	// advanced it wrote something that must be acknowledged.
	Offset(s *Server) int64
	// Observe sees every command a network client ran (Sentinel tracking).
	Observe(s *Server, c *Client, args [][]byte)
	// Await returns nil when target is already acknowledged by enough
	// replicas (or no ack is required, e.g. we're a replica); otherwise a
	// channel closed once the wait's outcome is known (acknowledged, or
	// failed early because the master stopped being confirmed), and the
	// time to wait at most.
	Await(s *Server, c *Client, target int64) (<-chan struct{}, time.Duration)
	// Finish forgets c's pending wait and returns its outcome: "" when the
	// writes were acknowledged, otherwise the error (without '-' and CRLF)
	// replacing the replies of the batch's writes (timed out, or failed).
	Finish(s *Server, c *Client) string
}

// Safe is nil unless replication installed safe mode support.
var Safe SafeGate

type gateSeg struct{ start, end int }

// ackGate tracks, for one batch, the replies of commands that wrote.
type ackGate struct {
	segs   []gateSeg
	target int64
	mark   int
	off    int64
}

// gateBegin starts a batch (lock held); nil when safe mode is off.
func (c *Client) gateBegin() *ackGate {
	if Safe == nil || c.fake || !Safe.On(c.srv) {
		return nil
	}
	if c.gate == nil {
		c.gate = &ackGate{}
	}
	g := c.gate
	g.segs = g.segs[:0]
	g.target = 0
	return g
}

func (g *ackGate) before(c *Client) {
	g.mark = len(c.w.Buf)
	g.off = Safe.Offset(c.srv)
}

func (g *ackGate) after(c *Client, args [][]byte) {
	Safe.Observe(c.srv, c, args)
	if off := Safe.Offset(c.srv); off > g.off {
		g.target = off
		if len(c.w.Buf) > g.mark {
			g.segs = append(g.segs, gateSeg{g.mark, len(c.w.Buf)})
		}
	}
}

// release waits (without the lock) until the batch's writes are
// acknowledged, or rewrites their replies to the timeout error. Called with
// the lock held, returns with it held.
func (g *ackGate) release(c *Client) {
	if g == nil || g.target == 0 {
		return
	}
	s := c.srv
	target := g.target
	g.target = 0
	ch, timeout := Safe.Await(s, c, target)
	if ch == nil {
		g.segs = g.segs[:0]
		return
	}
	s.mu.Unlock()
	t := time.NewTimer(timeout)
	select {
	case <-ch:
	case <-t.C:
	case <-c.wake: // killed
	}
	t.Stop()
	s.mu.Lock()
	s.updateClock()
	// The outcome is decided under the lock: an ack that arrived while we
	// took the lock back still counts.
	if e := Safe.Finish(s, c); e != "" && len(g.segs) > 0 {
		msg := "-" + e + "\r\n"
		old := c.w.Buf
		var nb []byte
		prev := 0
		for _, sg := range g.segs {
			if sg.start < prev || sg.end > len(old) {
				continue
			}
			nb = append(nb, old[prev:sg.start]...)
			nb = append(nb, msg...)
			s.countError(strings.TrimSuffix(msg[1:], "\r\n"))
			prev = sg.end
		}
		nb = append(nb, old[prev:]...)
		c.w.Buf = nb
	}
	g.segs = g.segs[:0]
}

// Name is the client's name (CLIENT SETNAME).
func (c *Client) Name() string { return c.name }

// LocalAddr is the local address of the client's connection.
func (c *Client) LocalAddr() string { return c.laddr }

// safePingDenied: only Sentinels' PINGs are refused (their connections are
// named sentinel-<id>-cmd), so they judge this master down and fail over,
// while REPLICAOF from them and every other client still work.
func (c *Client) safePingDenied(cmd *commands.Command) bool {
	return cmd.Name == "ping" && cmd.Parent == nil && strings.HasPrefix(c.name, "sentinel-")
}
