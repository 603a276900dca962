package core

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// vigil safe mode, Sentinel side (docs/reliability.md).
//
// A master in safe mode acknowledges a write only once N of its replicas
// have it. Of R replicas, any R-N+1 therefore include at least one that
// holds every acknowledged write, and among replicas of one master the one
// with the highest replication offset holds everything the others hold. So
// with "sentinel vigil-safe-mode <master> yes [N]" the leader:
//
//   - counts the reachable replicas: not SDOWN, command link up and answering,
//     reporting role:slave, and an INFO received after the master was judged
//     down (their offsets no longer move: the master is fenced before
//     down-after expires, or, when it still hears the Sentinels, unconfirmed
//     by the epoch rule below before the promotion);
//   - never promotes while the master is not (subjectively) down, e.g. a
//     failover resumed after TILT next to a master that answers again;
//   - refuses to promote (-failover-abort-no-good-slave) when fewer than
//     R-N+1 are reachable, R being every replica it knows for the master;
//   - promotes a replica with the highest offset among the reachable ones,
//     never one behind it (priority only breaks ties between equal offsets;
//     priority 0 replicas count as reachable but are never promoted).
//
// And it tells the master at once when it starts a failover or votes in a
// new epoch (safeAnnounceEpoch), since a master that Sentinels can't hear
// (a one-way failure) is not fenced by the time they promote.
//
// N is the directive's, else the master's INFO vigil_min_ack_replicas, else 1.
// The directive is vigil's own: it is persisted in this sentinel's config
// file and never sent to other sentinels.

func (s *State) applySafeMode(argv []string) string {
	m := s.Master(argv[1])
	if m == nil {
		return "No such master with specified name."
	}
	v := yesno(argv[2])
	if v == -1 {
		return "Please specify yes or no for the vigil-safe-mode option."
	}
	m.SafeMode = v == 1
	m.SafeMinAck = 0
	if len(argv) == 4 {
		k := atoi(argv[3])
		if k < 0 {
			return "Invalid number of replicas for vigil-safe-mode."
		}
		m.SafeMinAck = k
	}
	return ""
}

// safeMinAck is N for m.
func (m *Master) safeMinAck() int {
	if m.SafeMinAck > 0 {
		return m.SafeMinAck
	}
	if m.vigilMinAck > 0 {
		return m.vigilMinAck
	}
	return 1
}

// safeSelect implements the rule above; usable are the replicas that pass
// Redis's own checks.
func (n *Node) safeSelect(m *Master, usable []*Instance) *Instance {
	if !m.sdown && !m.forceFailover {
		// The master is answering again (e.g. this Sentinel resumes a
		// failover after TILT): its replicas' offsets may still move, so
		// no offset seen now is final. Wait (up to failover-timeout) rather
		// than promote next to a live master.
		if n.now-m.safeRefusedAt >= 1000 {
			m.safeRefusedAt = n.now
			n.eventAt(LevelWarning, "-vigil-safe-mode-refuse", &m.Instance, " master is not down", m.failoverEpoch)
		}
		return nil
	}
	hist := m.historyIDs()
	total := 0
	var reach, promoted []*Instance
	for _, r := range m.replicas {
		if r.gone {
			continue
		}
		total++
		if r.sdown || !r.cmd.connected || n.now-r.cmd.lastAvail > PingPeriod*5 {
			continue
		}
		if m.sdown && r.infoRefresh <= m.sdownT {
			continue // offset not known to be final
		}
		if r.roleReported != KindReplica {
			if !continuesHistory(r, hist) {
				// It answers INFO as a master (e.g. an old master that
				// came back before being converted): its replication
				// offset is not in the failed master's history, so it
				// can't vouch for anything.
				continue
			}
			// Promoted by an earlier leader that died before announcing
			// it: that leader checked it held every acknowledged write,
			// and it may have acknowledged writes since.
			promoted = append(promoted, r)
		}
		reach = append(reach, r)
	}
	need := total - m.safeMinAck() + 1
	if need < 1 {
		need = 1
	}
	if len(reach) < need {
		if n.now-m.safeRefusedAt < 1000 {
			return nil
		}
		m.safeRefusedAt = n.now
		n.eventAt(LevelWarning, "-vigil-safe-mode-refuse", &m.Instance, " reachable replicas "+strconv.Itoa(len(reach))+" < "+strconv.Itoa(need), m.failoverEpoch)
		return nil
	}
	// A replica promoted since the master went down is selected again
	// (SLAVEOF NO ONE is idempotent): demoting it could drop writes it
	// acknowledged as the new master, which replicas still following the
	// old history can't have.
	var c []*Instance
	for _, r := range promoted {
		if slices.Contains(usable, r) {
			c = append(c, r)
		}
	}
	if len(c) > 0 {
		sort.SliceStable(c, func(a, b int) bool { return c[a].masterOffset > c[b].masterOffset })
		return c[0]
	}
	var best int64 = -1
	for _, r := range reach {
		if o := r.safeOffset(); o > best {
			best = o
		}
	}
	for _, r := range usable {
		if r.roleReported != KindReplica || r.replOffset < best {
			continue
		}
		if m.sdown && r.infoRefresh <= m.sdownT {
			continue
		}
		c = append(c, r)
	}
	if len(c) == 0 {
		if n.now-m.safeRefusedAt < 1000 {
			return nil
		}
		m.safeRefusedAt = n.now
		n.eventAt(LevelWarning, "-vigil-safe-mode-refuse", &m.Instance, " no promotable replica at offset "+strconv.FormatInt(best, 10), m.failoverEpoch)
		return nil
	}
	sort.SliceStable(c, func(a, b int) bool {
		x, y := c[a], c[b]
		if x.slavePriority != y.slavePriority {
			return x.slavePriority < y.slavePriority
		}
		if x.runid == "" || y.runid == "" {
			return x.runid != "" && y.runid == ""
		}
		return strings.ToLower(x.runid) < strings.ToLower(y.runid)
	})
	return c[0]
}

// safeOffset is how far r is in the failed master's history: its
// slave_repl_offset, or for a replica promoted since (continuesHistory) its
// master_repl_offset, which continues the same offsets.
func (r *Instance) safeOffset() int64 {
	if r.roleReported == KindMaster {
		return r.masterOffset
	}
	return r.replOffset
}

// historyIDs returns the replication IDs of m's history: the last ones the
// master itself reported (it may since have restarted empty, with a new
// one) and those its replicas, still following its address, report.
func (m *Master) historyIDs() map[string]bool {
	h := map[string]bool{}
	for _, id := range m.replIDs {
		h[id] = true
	}
	for _, r := range m.replicas {
		if !r.gone && r.roleReported == KindReplica && r.replID != "" &&
			r.slaveMasterHost == m.addr.IP && r.slaveMasterPort == m.addr.Port {
			h[r.replID] = true
		}
	}
	return h
}

// continuesHistory reports whether replica r reports role:master with the
// failed master's history as its previous one (master_replid2, PSYNC2):
// it was promoted out of that history, by a failover leader (which in safe
// mode checked it held every acknowledged write) or an operator. An old
// master that came back reports no previous history or an older one.
func continuesHistory(r *Instance, hist map[string]bool) bool {
	return r.roleReported == KindMaster && r.replID2 != "" && hist[r.replID2]
}

// noteReplID records a master_replid reported by master i.
func (i *Instance) noteReplID(id string) {
	if n := len(i.replIDs); n > 0 && i.replIDs[n-1] == id {
		return
	}
	i.replIDs = append(i.replIDs, id)
	if len(i.replIDs) > 4 {
		i.replIDs = i.replIDs[1:]
	}
}

// safeAnnounceEpoch: in safe mode, a Sentinel that starts a failover of m or
// votes in a new epoch sends m's master a hello right away (instead of at
// the next 2 s hello), carrying its new current epoch. A vigil master in
// safe mode that sees a Sentinel's current epoch rise above the config
// epoch naming it becomes unconfirmed (refuses writes and voids pending
// acknowledgements) until vigil-confirm-timeout: an election for it may be
// under way. That matters when the Sentinels can't hear the master but it
// hears them (a one-way failure): it is then not fenced (a Sentinel majority
// still talks to it, its replicas still ACK) while they fail it over, and a
// replica not yet re-pointed would acknowledge writes the re-point discards
// (found by the safe-mode simulation with one-way failures, sim_safe_test.go).
// The leader needs a majority of votes and the master a majority of
// Sentinels talking to it, so at least one voter's hello reaches it; the
// hello leaves before the vote's reply, one round trip ahead of the
// promotion.
func (n *Node) safeAnnounceEpoch(m *Master) {
	if m.SafeMode {
		n.sendHello(&m.Instance)
	}
}
