package server

import (
	"net"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/resp"
)

// Internal clients: AOF loading, the replica's link to its master and
// scripts run commands through the same dispatcher as network clients, on
// a client with no connection.

// KillMasterLink closes a replica's connection to its master (CLIENT KILL
// TYPE master), returning how many links it closed; set by replication.
var KillMasterLink func(s *Server) int

// NewFakeClient returns a connection-less client (not listed by CLIENT LIST).
// The caller must hold the lock when calling Exec.
func (s *Server) NewFakeClient() *Client {
	c := s.newClient(nil, false)
	c.fake = true
	c.authed = true
	s.clientsMu.Lock()
	delete(s.clients, c.id)
	s.clientsMu.Unlock()
	return c
}

// SetMaster marks a fake client as the replication link: its writes are
// applied even on a read-only replica and it never gets replies back.
func (c *Client) SetMaster(on bool) {
	if on {
		c.flags |= flagMaster
	} else {
		c.flags &^= flagMaster
	}
}

// IsMaster reports whether c is the master link client.
func (c *Client) IsMaster() bool { return c.flags&flagMaster != 0 }

// IsReplicaClient reports whether c is a connected replica.
func (c *Client) IsReplicaClient() bool { return c.flags&flagReplica != 0 }

// DB returns the client's current database id.
func (c *Client) DB() int { return c.db }

// Exec runs one command (lock held) and returns the reply bytes, which the
// caller may discard. Blocking commands never block here.
func (c *Client) Exec(args [][]byte) []byte {
	c.inExec = true
	c.execute(args)
	c.inExec = false
	// The reply aliases the client's buffer: valid until the next Exec.
	out := c.w.Buf
	c.w.Buf = c.w.Buf[:0]
	return out
}

// ServerOf returns the server a command context belongs to.
func ServerOf(ctx *commands.Ctx) *Server { return ctx.Client.(*Client).srv }

// ClientOf returns the server client of a command context.
func ClientOf(ctx *commands.Ctx) *Client { return ctx.Client.(*Client) }

// CronHooks run on every server tick with the lock held.
var CronHooks []func(s *Server)

// Now returns the server's cached clock (ms), lock held.
func (s *Server) NowMs() int64 { return s.nowMs }

// Exported helpers for the replication package, which drives replica
// connections (its own goroutines write the RDB and the stream).

// Push queues bytes for the client from any goroutine (output limits apply).
func (c *Client) Push(p []byte) { c.push(p) }

// LockWriter takes the client's socket-writer lock (the RDB transfer holds
// it so nothing else interleaves), UnlockWriter releases it.
func (c *Client) LockWriter()   { c.wmu.Lock() }
func (c *Client) UnlockWriter() { c.wmu.Unlock() }

// Conn is the client's connection (nil for fake clients).
func (c *Client) Conn() net.Conn { return c.conn }

// MarkReplica flags c as a replica connection.
func (c *Client) MarkReplica() { c.flags |= flagReplica }

// Addr is the peer address.
func (c *Client) Addr() string { return c.addr }

// Kill closes the client.
func (c *Client) Kill() { c.kill() }

// Server returns the client's server.
func (c *Client) Server() *Server { return c.srv }

// UnblockWith ends c's block (WAIT and other keyless blocks) writing the
// reply with fn (lock held).
func (s *Server) UnblockWith(c *Client, fn func(w *resp.Writer)) {
	if c.block == nil {
		return
	}
	s.blocking.remove(c)
	c.block = nil
	fn(&c.w)
	c.wakeUp()
}

// Blocked reports whether c is parked.
func (c *Client) Blocked() bool { return c.block != nil }

// ForEachClient calls fn for every network client (clientsMu held; fn must
// not call back into client listing).
func (s *Server) ForEachClient(fn func(c *Client)) {
	s.clientsMu.Lock()
	list := make([]*Client, 0, len(s.clients))
	for _, c := range s.clients {
		list = append(list, c)
	}
	s.clientsMu.Unlock()
	for _, c := range list {
		fn(c)
	}
}

// IsFlaggedMaster reports whether c is the master link (for DenyWrite).
func (c *Client) IsFlaggedMaster() bool { return c.flags&flagMaster != 0 }

// Current is the client whose command is executing (lock held), or nil.
func (s *Server) Current() *Client { return s.current }
