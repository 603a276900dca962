package replication

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/server"
)

// FAILOVER (Redis 6.2): a coordinated switch of a master with one of its
// replicas. The master pauses writes (CLIENT PAUSE WRITE semantics: writers
// wait, readers go on), waits until the target replica acknowledged the
// whole stream ("waiting-for-sync"), then turns itself into a replica of the
// target and sends it PSYNC <replid> <offset> FAILOVER ("failover-in-progress"):
// the target, seeing its own replid, promotes itself (keeping the old id as
// replid2) and answers +CONTINUE, and the paused writers get -READONLY.
// TIMEOUT bounds the wait for sync (with FORCE the switch happens anyway);
// ABORT, a timeout without FORCE, or a target refusing the PSYNC bring the
// master back.

const (
	foNone       = "no-failover"
	foWaitSync   = "waiting-for-sync"
	foInProgress = "failover-in-progress"
)

type failover struct {
	host    string // target; "" = the first replica that catches up
	port    int
	force   bool
	end     time.Time // zero: no timeout
	started time.Time // of failover-in-progress
}

func init() {
	commands.Register(&commands.Command{Name: "failover", Arity: -1, Flags: commands.Admin | commands.NoScript | commands.Stale,
		Proc: failoverCommand, Group: "server", Since: "6.2.0", Categories: "@admin @slow @dangerous"})
}

func failoverCommand(ctx *commands.Ctx) {
	s := server.ServerOf(ctx)
	st := Of(s)
	var host string
	var port, timeout int64
	var force, abort bool
	args := ctx.Args
	for j := 1; j < len(args); j++ {
		a := strings.ToLower(string(args[j]))
		more := len(args) - j - 1
		switch {
		case a == "to" && more >= 2 && host == "":
			p, ok := commands.ParseInt(args[j+2])
			if !ok || p < 0 || p > 65535 {
				ctx.W.Error("ERR value is not an integer or out of range")
				return
			}
			host, port = string(args[j+1]), p
			j += 2
		case a == "force" && host != "" && !force:
			force = true
		case a == "timeout" && more >= 1 && timeout == 0:
			n, ok := commands.ParseInt(args[j+1])
			if !ok {
				ctx.W.Error("ERR value is not an integer or out of range")
				return
			}
			if n <= 0 {
				ctx.W.Error("ERR FAILOVER timeout must be greater than 0")
				return
			}
			timeout = n
			j++
		case a == "abort" && !abort:
			abort = true
		default:
			ctx.W.Error(commands.ErrSyntax)
			return
		}
	}
	if abort {
		if host != "" || force || timeout != 0 {
			ctx.W.Error(commands.ErrSyntax)
			return
		}
		if st.failoverState == foNone {
			ctx.W.Error("ERR No failover in progress.")
			return
		}
		st.abortFailover("Failover manually aborted")
		ctx.W.OK()
		return
	}
	if st.masterHost != "" {
		ctx.W.Error("ERR FAILOVER is not valid when server is a replica.")
		return
	}
	if len(st.replicas) == 0 {
		ctx.W.Error("ERR FAILOVER requires connected replicas.")
		return
	}
	if force && (timeout == 0 || host == "") {
		ctx.W.Error("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
		return
	}
	if st.failoverState != foNone {
		ctx.W.Error("ERR FAILOVER already in progress.")
		return
	}
	fo := &failover{host: host, port: int(port), force: force}
	if host != "" {
		r := st.findReplica(host, int(port))
		if r == nil {
			ctx.W.Error("ERR FAILOVER target HOST and PORT is not a replica.")
			return
		}
		if r.state != stateOnline {
			ctx.W.Error("ERR FAILOVER target replica is not online.")
			return
		}
		s.Log.Info(fmt.Sprintf("FAILOVER requested to %s:%d.", host, port))
	} else {
		s.Log.Info("FAILOVER requested to any replica.")
	}
	if timeout > 0 {
		fo.end = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	st.fo = fo
	st.failoverState = foWaitSync
	// CLIENT PAUSE WRITE until the failover ends (server/pause.go holds
	// writes, PUBLISH, scripts and EXEC of writes; reads go on).
	s.Pause(failoverPauseFor, true)
	// Ask for fresh ACKs rather than waiting for the replicas' 1 s tick.
	st.writeStream([]byte("*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"))
	ctx.W.OK()
}

// findReplica finds a replica by its announced address.
func (st *State) findReplica(host string, port int) *replicaConn {
	for _, r := range st.replicas {
		if r.port == port && strings.EqualFold(r.ip, host) {
			return r
		}
	}
	return nil
}

// updateFailover advances waiting-for-sync (cron and every ACK; lock held).
func (st *State) updateFailover() {
	fo := st.fo
	if fo == nil {
		return
	}
	s := st.srv
	now := time.Now()
	if st.failoverState == foInProgress {
		// The target never answered our PSYNC: go back to being a master.
		if limit := time.Duration(s.Cfg.Int("repl-timeout")) * time.Second; now.Sub(fo.started) > limit {
			st.abortFailover("Failover target did not respond in time")
		}
		return
	}
	if st.failoverState != foWaitSync {
		return
	}
	if !fo.end.IsZero() && !now.Before(fo.end) {
		if fo.force {
			s.Log.Info(fmt.Sprintf("FAILOVER to %s:%d time out exceeded, failing over.", fo.host, fo.port))
			st.startFailover()
		} else {
			st.abortFailover("Replica never caught up before timeout")
		}
		return
	}
	var r *replicaConn
	if fo.host != "" {
		r = st.findReplica(fo.host, fo.port)
	} else {
		for _, x := range st.replicas {
			if x.state == stateOnline && x.ackOff == st.offset {
				r = x
				break
			}
		}
	}
	if r != nil && r.state == stateOnline && r.ackOff == st.offset {
		fo.host, fo.port = r.ip, r.port
		s.Log.Info(fmt.Sprintf("Failover target %s:%d is synced, failing over.", fo.host, fo.port))
		st.startFailover()
	}
}

// startFailover makes us a replica of the target; the link sends PSYNC
// with FAILOVER (lock held).
func (st *State) startFailover() {
	st.failoverState = foInProgress
	st.fo.started = time.Now()
	st.haveCached = true
	st.SetMaster(st.fo.host, st.fo.port)
	setReplicaofConfig(st.srv, st.fo.host+" "+strconv.Itoa(st.fo.port))
}

// clearFailover ends a failover and releases paused writers (lock held).
func (st *State) clearFailover() {
	if st.fo != nil {
		st.fo = nil
		st.srv.Unpause()
	}
	st.failoverState = foNone
}

// failoverPauseFor: the pause lasts until the failover ends (Redis pauses
// "forever" and unpauses when it clears the failover state).
const failoverPauseFor = 365 * 24 * time.Hour

func (st *State) abortFailover(why string) {
	fo := st.fo
	if fo == nil || st.failoverState == foNone {
		return
	}
	if fo.host != "" {
		st.srv.Log.Info(fmt.Sprintf("FAILOVER to %s:%d aborted: %s", fo.host, fo.port, why))
	} else {
		st.srv.Log.Info("FAILOVER to any replica aborted: " + why)
	}
	if st.failoverState == foInProgress {
		st.SetNoMaster()
		setReplicaofConfig(st.srv, "")
	}
	st.clearFailover()
}
