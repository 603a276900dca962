package server

import "github.com/vigil-kv/vigil/internal/commands"

// Holding replies until the disk has the writes (appendfsync always).
//
// A batch appends its writes to the AOF buffer under the lock; the AOF's
// writer goroutine (internal/persist/aof_writer.go) writes and fsyncs
// everything buffered so far, once for every client waiting (group commit),
// without the lock. The batch's replies wait for that fsync here, without
// the lock, so other clients (and the cron) keep running meanwhile.
//
// Which batches wait:
//   - a batch that appended to the AOF: until its own bytes are fsynced;
//   - a batch that ran a command reading or writing data (even one that
//     didn't append, like GET or a SET NX that failed): until everything
//     appended before it is fsynced, so no reply reveals a value that a
//     crash could still lose (in Redis the same holds because every reply
//     of an event-loop iteration goes out after that iteration's fsync);
//   - anything else (PING, INFO, CLIENT, CONFIG, ROLE, PUBLISH, SUBSCRIBE,
//     REPLCONF ...) is answered at once, even during a slow fsync, so
//     Sentinels keep seeing the master alive.
//
// The client's goroutine waits before reading its next batch, so a later
// reply never overtakes a held one. Replies of a blocking command served by
// another client's write (BLPOP woken by LPUSH) wait for the AOF's end
// offset at wake-up.

// Durability is the AOF as the client loop sees it; installed by package
// persist while appendonly is on.
type Durability interface {
	// End returns the offset just after the last byte appended to the AOF
	// buffer, and whether replies must wait for fsyncs at all (only under
	// appendfsync always). Called with the server lock held.
	End() (end int64, wait bool)
	// Wait returns nil when off is durable (or durability is no longer
	// required), otherwise a channel closed after the next fsync (or
	// policy change): check again. Called without the server lock.
	Wait(off int64) <-chan struct{}
}

// durGate tracks one batch for Durability (lives in Client.dur).
type durGate struct {
	d     Durability
	start int64
	reads bool
}

// durBegin starts tracking a batch (lock held).
func (c *Client) durBegin() {
	g := &c.dur
	g.d = nil
	d := c.srv.Durable
	if d == nil || c.fake {
		return
	}
	end, on := d.End()
	if !on {
		return
	}
	g.d, g.start, g.reads = d, end, false
}

// durAfter records a command the batch ran (lock held).
func (c *Client) durAfter() {
	g := &c.dur
	if g.d == nil || g.reads {
		return
	}
	if cmd := c.ctx.Cmd; cmd != nil && touchesData(cmd) {
		g.reads = true
	}
}

// touchesData: the command may read or write keys, so its reply may
// reveal a write that isn't durable yet.
func touchesData(cmd *commands.Command) bool {
	if cmd.Flags&(commands.Write|commands.ReadOnly) != 0 {
		return true
	}
	// Transactions and scripts run data commands inside them.
	return cmd.Name == "exec" || cmd.Group == "scripting"
}

// durWait holds the batch's replies until what they depend on is fsynced,
// then starts tracking the rest of the batch. Called with the lock held;
// releases it while waiting.
func (c *Client) durWait() {
	g := &c.dur
	d := g.d
	if d == nil {
		return
	}
	end, on := d.End()
	if on && (end > g.start || g.reads) {
		if ch := d.Wait(end); ch != nil {
			s := c.srv
			s.mu.Unlock()
			for ch != nil {
				<-ch
				ch = d.Wait(end)
			}
			s.mu.Lock()
			s.updateClock()
		}
	}
	c.durBegin()
}

// durWaitWoken is durWait for a blocked client that was served or timed
// out: its reply may carry another client's write (lock held).
func (c *Client) durWaitWoken() {
	c.durBegin()
	c.dur.reads = true
	c.durWait()
}

// releaseBatch runs the before-reply hooks and holds the batch's replies
// until its writes are durable (appendfsync always) and acknowledged by
// replicas (safe mode): replies go out when both are done. Lock held on
// entry and exit.
func (c *Client) releaseBatch(gate *ackGate) {
	for _, h := range c.srv.BeforeReply {
		h()
	}
	c.durWait()
	gate.release(c)
}
