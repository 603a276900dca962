package core

import (
	"strconv"
	"strings"
)

// InfoReplica is one "slaveN:" line of a master's INFO replication section.
type InfoReplica struct {
	Addr   Addr
	State  string
	Offset int64
}

// Info holds the INFO fields Sentinel uses.
type Info struct {
	RunID               string
	Role                Kind // KindMaster or KindReplica; KindSentinel if no role line
	HasRole             bool
	MasterHost          string
	MasterPort          int
	MasterLinkUp        bool
	MasterLinkDownSince int64 // seconds; -1 if the field is absent
	SlaveReplOffset     int64
	SlavePriority       int
	HasSlavePriority    bool
	ReplicaAnnounced    bool
	MasterReplOffset    int64
	MasterReplID        string // master_replid: the history this node is in
	MasterReplID2       string // master_replid2: the history it continues (PSYNC2), "" if none
	Replicas            []InfoReplica
	VigilMinAck         int // vigil safe mode: vigil_min_ack_replicas (0 if absent)
}

// ParseInfo parses the text of an INFO reply (any sections; CRLF or LF).
// Unknown fields are ignored. Old-style "slaveN:ip,port,state" lines are
// understood too.
func ParseInfo(text string) Info {
	inf := Info{MasterLinkDownSince: -1, SlavePriority: DefaultSlavePriority, ReplicaAnnounced: true}
	for len(text) > 0 {
		var line string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, ""
		}
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		c := strings.IndexByte(line, ':')
		if c < 0 {
			continue
		}
		k, v := line[:c], line[c+1:]
		switch k {
		case "run_id":
			if len(v) == RunIDSize {
				inf.RunID = v
			}
		case "role":
			inf.HasRole = true
			switch v {
			case "master":
				inf.Role = KindMaster
			case "slave":
				inf.Role = KindReplica
			default:
				inf.HasRole = false
			}
		case "master_host":
			inf.MasterHost = v
		case "master_port":
			inf.MasterPort = atoi(v)
		case "master_link_status":
			inf.MasterLinkUp = strings.EqualFold(v, "up")
		case "master_link_down_since_seconds":
			inf.MasterLinkDownSince, _ = strconv.ParseInt(v, 10, 64)
		case "slave_repl_offset":
			inf.SlaveReplOffset, _ = strconv.ParseInt(v, 10, 64)
		case "slave_priority", "replica_priority":
			inf.SlavePriority = atoi(v)
			inf.HasSlavePriority = true
		case "replica_announced":
			inf.ReplicaAnnounced = atoi(v) != 0
		case "master_repl_offset":
			inf.MasterReplOffset, _ = strconv.ParseInt(v, 10, 64)
		case "master_replid":
			inf.MasterReplID = replID(v)
		case "master_replid2":
			inf.MasterReplID2 = replID(v)
		case "vigil_min_ack_replicas":
			inf.VigilMinAck = atoi(v)
		default:
			if len(k) > 5 && strings.HasPrefix(k, "slave") && k[5] >= '0' && k[5] <= '9' {
				if r, ok := parseSlaveLine(v); ok {
					inf.Replicas = append(inf.Replicas, r)
				}
			}
		}
	}
	return inf
}

// replID returns v if it is a replication ID ("" for the all-zero ID that
// means none).
func replID(v string) string {
	if len(v) != RunIDSize || strings.Trim(v, "0") == "" {
		return ""
	}
	return v
}

func parseSlaveLine(v string) (InfoReplica, bool) {
	var r InfoReplica
	if strings.Contains(v, "=") {
		for _, kv := range strings.Split(v, ",") {
			e := strings.IndexByte(kv, '=')
			if e < 0 {
				continue
			}
			switch kv[:e] {
			case "ip":
				r.Addr.IP = kv[e+1:]
			case "port":
				r.Addr.Port = atoi(kv[e+1:])
			case "state":
				r.State = kv[e+1:]
			case "offset":
				r.Offset, _ = strconv.ParseInt(kv[e+1:], 10, 64)
			}
		}
	} else { // pre-2.8: ip,port,state
		f := strings.Split(v, ",")
		if len(f) < 2 {
			return r, false
		}
		r.Addr = Addr{f[0], atoi(f[1])}
		if len(f) > 2 {
			r.State = f[2]
		}
	}
	return r, r.Addr.IP != "" && validPort(r.Addr.Port)
}
