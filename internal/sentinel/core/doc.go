// Package core is vigil's pure Redis Sentinel decision core: an event-driven
// state machine implementing Redis 7.0 Sentinel's algorithm (failure
// detection, leader election, failover, configuration propagation) and its
// wire protocol, with no I/O of its own.
//
// # Driving the core
//
// The style follows etcd's raft package. The shell (sockets, timers, config
// file, scripts) owns one *Node per sentinel process and serialises every
// call to it:
//
//	st, err := core.ParseConfig(sentinelLines) // "sentinel ..." directives
//	n := core.NewNode(st, core.Options{MyAddr: announced, Rand: rand.New(src)}, monotonicMS())
//	for {
//	    select {
//	    case <-ticker.C:           n.Step(core.Tick{Now: monotonicMS()})   // every ~100 ms
//	    case ev := <-linkEvents:   n.Step(ev)   // LinkUp / LinkDown / Reply / Message
//	    case req := <-isDownReqs:  // SENTINEL is-master-down-by-addr from a peer
//	        down, leader, epoch, _ := n.HandleIsMasterDownByAddr(ip, port, reqEpoch, runid)
//	        apply(n.Ready())        // includes the PersistState of the vote
//	        req.reply(down, leader, epoch) // only after apply() returned
//	    }
//	    apply(n.Ready())
//	}
//
// apply executes Ready.Actions in order:
//
//   - PersistState{Lines}: rewrite the sentinel section of the config file
//     with Lines (and fsync). When present it is always Actions[0] and MUST
//     complete before any other action of the batch and before any reply
//     that depends on it (a vote is durable before is-master-down-by-addr is
//     answered; a new epoch is durable before it is used to ask for votes).
//   - Connect{Link, Kind, Addr, Auth*, ClientName}: open a connection; report
//     exactly one of LinkUp{Link} / LinkDown{Link} later. For LinkPubSub the
//     core then sends SUBSCRIBE __sentinel__:hello on it and expects
//     Message{Link, Channel, Payload} events for incoming messages.
//   - Disconnect{Link}: close it; nothing is reported back.
//   - SendCommand{Link, ID, Cmds, Purpose, Epoch}: write all Cmds
//     (pipelined; MULTI ... EXEC batches are one action) and report the reply
//     to the LAST command as Reply{Link, ID, Value}; on timeout or write error
//     report Reply{ID, Err} or LinkDown. Lost replies are tolerated.
//   - Publish{Type, Msg, Level}: publish Msg on the pub/sub channel Type of
//     this sentinel's own server and log "Type Msg" at Level (Redis also
//     publishes everything above debug).
//   - RunScript{Kind, Path, Args}: queue a notification-script (args: event
//     type, message) or client-reconfig-script (args: <master-name> <role>
//     <state> <from-ip> <from-port> <to-ip> <to-port>, role "leader" or
//     "observer", state "start" as redis-sentinel passes).
//
// Hello messages PUBLISHed to this sentinel's own server (by peers) are fed as
// Message{Link: 0, Channel: "__sentinel__:hello"}.
//
// The core never reads a clock, sleeps, starts goroutines or locks; time only
// moves with Tick (monotonic milliseconds, any origin), and the only
// randomness comes from Options.Rand. The same inputs give the same outputs.
//
// Queries and commands for the SENTINEL command family are methods on Node
// returning data (Fields = ordered key/value pairs printed verbatim) or
// CmdError with Redis's texts: Masters, Master, Replicas, Sentinels,
// GetMasterAddrByName, CkQuorum, HandleIsMasterDownByAddr, Failover, Reset,
// Monitor, Remove, Set. State.ConfigLines renders the persistent state exactly
// as Redis 7.0 rewrites sentinel.conf (myid, monitor, down-after-milliseconds,
// failover-timeout, parallel-syncs, scripts, auth-pass/user,
// master-reboot-down-after-period, config-epoch, leader-epoch,
// known-replica, known-sentinel, rename-command, current-epoch, announce-*).
//
// # Per-instance monitoring (every master, replica, other sentinel)
//
//   - PING every min(1 s, down-after) (valid replies: +PONG, -LOADING,
//     -MASTERDOWN); INFO every 10 s (1 s for replicas of an ODOWN /
//     failing-over master, or whose master link is down); hello PUBLISH every
//     2 s on every instance including peer sentinels:
//     "ip,port,runid,current_epoch,master_name,master_ip,master_port,master_config_epoch".
//   - SDOWN: a PING outstanding (or the link down) for more than
//     down-after-milliseconds; or a master reporting role:slave for more than
//     down-after + 2*10 s; or a master that rebooted (new run_id) and did not
//     answer +PONG within master-reboot-down-after-period.
//   - ODOWN (masters): SDOWN here and quorum-1 peers reported down_state 1
//     in the last 5 s of is-master-down-by-addr replies (asked every 1 s while
//     SDOWN).
//   - Discovery: replicas from the master's INFO (+slave), sentinels from
//     hellos (+sentinel, -dup-sentinel on a runid/address clash), +reboot on a
//     run_id change; +role-change/-role-change from INFO.
//   - TILT: a Tick more than 2 s after the previous one, or before it, enters
//     TILT for 30 s (+tilt/-tilt): links, PING/INFO/hello continue, but no
//     SDOWN/ODOWN transitions, no failover, no reconfiguration, and
//     is-master-down-by-addr answers 0.
//
// # Failover state machine (per master)
//
//	┌──────────────────────────► none ◄─────────────────────────────────┐
//	│                               │ ODOWN, no failover in progress,     │ aborts (state back to none,
//	│                               │ 2*FT since the last attempt         │ next attempt after 2*FT):
//	│                               │ (or vigil takeover):                │
//	│                               │ +new-epoch +try-failover,           │
//	│                               │ vote for self, ask for votes        │
//	│                               ▼                                     │
//	│                          wait_start ── not elected within ─────────►│ -failover-abort-not-elected
//	│                               │        min(10 s, FT)                │
//	│                               │ majority of (known sentinels + 1)   │
//	│                               │ and >= quorum votes in the failover │
//	│                               │ epoch: +elected-leader              │
//	│                               ▼                                     │
//	│                         select_slave ── no usable replica ─────────►│ -failover-abort-no-good-slave
//	│                               │ +selected-slave                     │
//	│                               ▼                                     │
//	│                     send_slaveof_noone ── replica link down > FT ──►│ -failover-abort-slave-timeout
//	│                               │ MULTI / SLAVEOF NO ONE /            │
//	│                               │ CONFIG REWRITE / CLIENT KILL TYPE   │
//	│                               │ normal|pubsub / EXEC sent,          │
//	│                               │ +failover-state-wait-promotion      │
//	│                               ▼                                     │
//	│                        wait_promotion ── no role:master in INFO ───►┘ -failover-abort-slave-timeout
//	│                               │          within FT
//	│                               │ promoted replica's INFO says role:master:
//	│                               │ +promoted-slave, config-epoch := failover epoch (persisted,
//	│                               │ advertised in hellos), +failover-state-reconf-slaves,
//	│                               │ client-reconfig-script (leader)
//	│                               ▼
//	│                        reconf_slaves   SLAVEOF <promoted> to at most parallel-syncs
//	│                               │        replicas at a time: +slave-reconf-sent,
//	│                               │        +slave-reconf-inprog, +slave-reconf-done (from INFO)
//	│                               │ every replica done (+failover-end) or FT elapsed
//	│                               │ (+failover-end-for-timeout)
//	│                               ▼
//	└──────────────────────── update_config   +switch-master <name> <old> <new>; the master is
//	                                          reset at the new address, replicas := old replicas
//	                                          + old master
//
// FT is the master's failover-timeout.
//
// Observers (every other sentinel) never run this machine for an epoch they
// did not win: they learn the outcome from a hello whose master_config_epoch
// is greater than theirs (+config-update-from, +switch-master, adopt epoch)
// and afterwards fix the topology: an instance listed as a replica that
// reports role:master for more than 8 s while the master looks sane gets
// SLAVEOF master (+convert-to-slave); a replica replicating from the wrong
// master for more than failover-timeout gets SLAVEOF master
// (+fix-slave-config).
//
// Voting (sentinel side of SENTINEL is-master-down-by-addr ip port epoch
// runid): if epoch > current-epoch, adopt it (+new-epoch); if the master's
// leader-epoch < epoch and current-epoch <= epoch, vote for runid in epoch
// (+vote-for-leader), persist, and (if the candidate is not us) postpone our
// own attempts by 2*failover-timeout + rand(1 s). Reply (down_state,
// leader_runid|"*", leader_epoch). One vote per epoch per master, durable
// across restarts.
//
// # vigil deviations (wire compatible with redis-sentinel peers)
//
// Epoch-exact vote counting. A candidate asks for votes with its failover
// epoch (Redis sends its current epoch) and counts only votes cast in that
// epoch (Redis counts votes whose epoch equals its current epoch, which can
// have moved past the failover epoch when a newer epoch is seen in a hello).
// Without this, a candidate could be "elected" for failover epoch E with
// votes cast in E+1, and two leaders could publish different configurations
// with the same config-epoch; the simulation found this schedule.
// redis-sentinel voters are unaffected: they see an ordinary request.
//
// Election delay. Before starting an election the node waits a random
// 0-1000 ms (Options.DisableElectionDelay turns it off), re-checking ODOWN,
// which reduces split votes when several sentinels reach ODOWN together.
//
// Leader death takeover. Redis makes every sentinel that voted for a leader
// wait 2*failover-timeout before trying itself, so a leader dying right after
// its election stalls the failover for minutes (6 min with defaults). In
// vigil a follower F that voted for leader L in epoch E may start its own
// election (in a new epoch > E, bypassing the 2*failover-timeout wait) as soon
// as all of these hold (+vigil-takeover is published):
//
//  1. the master is ODOWN for F and F has no failover in progress;
//  2. more than down-after has passed since F voted;
//  3. L's configuration did not reach F: F's config-epoch for the master is
//     still < E (no hello from L's new configuration). A replica reporting
//     role:master (L promoted it, then died before its first hello) does
//     not block the takeover; the new leader selects that replica again;
//  4. L looks dead: L is SDOWN as a sentinel in F's view (no valid PING
//     reply for down-after) and no hello from L arrived for
//     max(down-after, 2 publish periods = 4 s) (or L is unknown to F).
//
// Safety argument. The rule only changes when F asks for votes; it never
// changes how votes are cast or counted. (a) At most one leader per epoch:
// the election F starts is an ordinary one in a fresh epoch E' > E, and every
// voter (vigil or redis-sentinel) still grants at most one durable vote per
// epoch, while a leader needs a majority of voters; two majorities intersect.
// (b) At most one promotion per epoch: only the leader of an epoch sends
// SLAVEOF NO ONE tagged with it, so (a) implies (b). (c) A late promotion by
// L in epoch E (L was only partitioned or paused) cannot win: L's
// configuration carries config-epoch E < E', hellos only move sentinels to a
// greater config-epoch, so every sentinel that saw E' ignores E, and L itself
// switches on the first E' hello (resetting its failover); the replica it
// promoted is then listed as a replica reporting role:master and gets
// +convert-to-slave. (d) Liveness is no worse than Redis: if L is alive and
// making progress, conditions 3 or 4 fail and Redis's timing applies.
// (e) No acknowledged write is dropped by the takeover itself: replica
// selection puts a replica that reported role:master since the master went
// SDOWN (the one L promoted, which clients asking L may already use) before
// replication offsets, so the new leader re-promotes it (SLAVEOF NO ONE is
// idempotent) instead of demoting it.
//
// Faster failover steps. Redis advances the failover state machine by one
// state per timer tick (100 ms) and notices the promotion at the promoted
// replica's next INFO (every 1 s during a failover). vigil runs
// +elected-leader, +selected-slave and the SLAVEOF NO ONE batch in one tick
// and pipelines an INFO right behind that batch, so +promoted-slave (and
// the forced hello that tells the other sentinels) follow one round trip
// later. The states, events and their order are Redis's.
//
// The simulation in sim_test.go checks these properties on tens of thousands
// of random schedules with crashes, pauses, partitions and message loss.
package core
