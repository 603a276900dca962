package server

import (
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
)

// CLIENT PAUSE enforcement. A paused command waits before it runs (with the
// lock released), so the commands pipelined before it still run and their
// replies go out in order. Replicas, the master link and internal clients
// are never paused; CLIENT commands stay available so an operator can
// UNPAUSE. In WRITE mode only commands that may change data or propagate
// are held (writes, PUBLISH, EVAL/EVALSHA, EXEC of a transaction with
// writes), as in Redis 6.2+.

func (s *Server) pausedFor(c *Client, args [][]byte) bool {
	if s.pauseUntil.IsZero() {
		return false
	}
	if !time.Now().Before(s.pauseUntil) {
		s.pauseUntil = time.Time{}
		return false
	}
	if c.fake || c.flags&(flagReplica|flagMaster) != 0 {
		return false
	}
	cmd := commands.Lookup(args[0])
	if cmd == nil {
		return false
	}
	if cmd.Name == "client" {
		return false
	}
	if !s.pauseWrites {
		return true
	}
	if cmd.Name == "exec" {
		for _, q := range c.multiQueue {
			if q.cmd.Flags&(commands.Write|commands.MayReplicate) != 0 {
				return true
			}
		}
		return false
	}
	if c.flags&flagMulti != 0 {
		// Queued, not executed: EXEC is what waits.
		return false
	}
	return cmd.Flags&(commands.Write|commands.MayReplicate) != 0
}

// waitPause blocks (lock NOT held) until the pause ends or c goes away.
func (s *Server) waitPause(c *Client) {
	for {
		s.mu.Lock()
		until := s.pauseUntil
		s.mu.Unlock()
		if until.IsZero() || !time.Now().Before(until) || c.killed {
			return
		}
		d := time.Until(until)
		if d > 10*time.Millisecond {
			d = 10 * time.Millisecond
		}
		time.Sleep(d)
	}
}

// PauseState reports the current pause (for INFO / FAILOVER).
func (s *Server) PauseState() (until time.Time, writeOnly bool) { return s.pauseUntil, s.pauseWrites }

// Pause starts a pause from internal code (FAILOVER, safe mode), lock held.
func (s *Server) Pause(d time.Duration, writeOnly bool) { s.pause(d, writeOnly) }

// Unpause ends a pause, lock held.
func (s *Server) Unpause() { s.unpause() }
