package core

import (
	"reflect"
	"strings"
	"testing"
)

func lines(ss ...string) [][]string {
	var out [][]string
	for _, s := range ss {
		out = append(out, strings.Fields(s))
	}
	return out
}

var idA = strings.Repeat("1", 40)
var idE = strings.Repeat("e", 40)

func TestConfigLinesAsRedisWritesThem(t *testing.T) {
	in := lines(
		"sentinel myid "+idA,
		"sentinel monitor mymaster 10.0.0.1 6379 2",
		"sentinel down-after-milliseconds mymaster 5000",
		"sentinel failover-timeout mymaster 60000",
		"sentinel parallel-syncs mymaster 2",
		"sentinel auth-pass mymaster secret",
		"sentinel auth-user mymaster bob",
		"sentinel master-reboot-down-after-period mymaster 1000",
		"sentinel config-epoch mymaster 3",
		"sentinel leader-epoch mymaster 4",
		"sentinel known-slave mymaster 10.0.0.2 6379",
		"sentinel known-sentinel mymaster 10.0.1.2 26379 "+idE,
		"sentinel monitor other 10.0.5.1 6380 1",
		"sentinel current-epoch 4",
		"sentinel announce-ip 1.2.3.4",
	)
	st, err := ParseConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	want := lines(
		"sentinel myid "+idA,
		"sentinel monitor mymaster 10.0.0.1 6379 2",
		"sentinel down-after-milliseconds mymaster 5000",
		"sentinel failover-timeout mymaster 60000",
		"sentinel parallel-syncs mymaster 2",
		"sentinel auth-pass mymaster secret",
		"sentinel auth-user mymaster bob",
		"sentinel master-reboot-down-after-period mymaster 1000",
		"sentinel config-epoch mymaster 3",
		"sentinel leader-epoch mymaster 4",
		"sentinel known-replica mymaster 10.0.0.2 6379",
		"sentinel known-sentinel mymaster 10.0.1.2 26379 "+idE,
		"sentinel monitor other 10.0.5.1 6380 1",
		"sentinel config-epoch other 0",
		"sentinel leader-epoch other 0",
		"sentinel current-epoch 4",
		"sentinel announce-ip 1.2.3.4",
	)
	got := st.ConfigLines()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ConfigLines:\n%s\nwant\n%s", join(got), join(want))
	}
	// Round trip.
	st2, err := ParseConfig(got)
	if err != nil || !reflect.DeepEqual(st2.ConfigLines(), want) {
		t.Fatalf("round trip: %v\n%s", err, join(st2.ConfigLines()))
	}
}

func join(ls [][]string) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(strings.Join(l, " ") + "\n")
	}
	return b.String()
}

func TestParseConfigErrorsUseRedisTexts(t *testing.T) {
	base := "sentinel monitor m 10.0.0.1 6379 2"
	cases := []struct{ line, want string }{
		{"sentinel monitor x 10.0.0.1 6379 0", "Quorum must be 1 or greater."},
		{base, "Duplicate master name."},
		{"sentinel monitor y 10.0.0.1 0 2", "Invalid port number."},
		{"sentinel down-after-milliseconds nope 10", "No such master with specified name."},
		{"sentinel down-after-milliseconds m 0", "negative or zero time parameter."},
		{"sentinel failover-timeout m -5", "negative or zero time parameter."},
		{"sentinel master-reboot-down-after-period m -1", "negative time parameter."},
		{"sentinel myid abc", "Malformed Sentinel id in myid option."},
		{"sentinel deny-scripts-reconfig maybe", "Please specify yes or no for the deny-scripts-reconfig options."},
		{"sentinel resolve-hostnames maybe", "Please specify yes or no for the resolve-hostnames option."},
		{"sentinel known-replica m 10.0.0.9 6379", ""},
		{"sentinel monitor m 10.0.0.1", "Unrecognized sentinel configuration statement."},
		{"sentinel bogus", "Unrecognized sentinel configuration statement."},
	}
	for _, c := range cases {
		_, err := ParseConfig(lines(base, c.line))
		got := ""
		if err != nil {
			got = err.Error()
			if ce, ok := err.(*ConfigError); !ok || ce.Line != 1 {
				t.Fatalf("%q: want *ConfigError at line 1, got %#v", c.line, err)
			}
		}
		if got != c.want {
			t.Errorf("%q: got %q want %q", c.line, got, c.want)
		}
	}
	_, err := ParseConfig(lines(base, "sentinel known-replica m 10.0.0.9 6379", "sentinel known-replica m 10.0.0.9 6379"))
	if err == nil || err.Error() != "Duplicate hostname and port for replica." {
		t.Errorf("dup replica: %v", err)
	}
	_, err = ParseConfig(lines(base, "sentinel known-sentinel m 10.0.1.1 26379 "+idE, "sentinel known-sentinel m 10.0.1.2 26379 "+idE))
	if err == nil || err.Error() != "Duplicate runid for sentinel." {
		t.Errorf("dup sentinel: %v", err)
	}
	// config-epoch raises current-epoch.
	st, _ := ParseConfig(lines(base, "sentinel config-epoch m 9", "sentinel current-epoch 2"))
	if st.CurrentEpoch != 9 {
		t.Errorf("current epoch %d", st.CurrentEpoch)
	}
}

func TestParseInfo(t *testing.T) {
	txt := "# Server\r\nredis_version:7.0.0\r\nrun_id:" + idE + "\r\n\r\n# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:6379\r\n" +
		"master_link_status:down\r\nmaster_link_down_since_seconds:12\r\nslave_repl_offset:4242\r\nslave_priority:7\r\nreplica_announced:0\r\nmaster_repl_offset:4242\r\n" +
		"master_replid:" + idE + "\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nsecond_repl_offset:-1\r\n"
	inf := ParseInfo(txt)
	want := Info{RunID: idE, Role: KindReplica, HasRole: true, MasterHost: "10.0.0.1", MasterPort: 6379, MasterLinkUp: false,
		MasterLinkDownSince: 12, SlaveReplOffset: 4242, SlavePriority: 7, HasSlavePriority: true, ReplicaAnnounced: false, MasterReplOffset: 4242, MasterReplID: idE}
	if !reflect.DeepEqual(inf, want) {
		t.Fatalf("got %+v\nwant %+v", inf, want)
	}
	m := ParseInfo("role:master\nmaster_replid2:" + idE + "\nslave0:ip=10.0.0.2,port=6379,state=online,offset=10,lag=0\nslave1:10.0.0.3,6380,online\nslave2:ip=,port=1\n")
	if m.Role != KindMaster || len(m.Replicas) != 2 || m.Replicas[1].Addr != (Addr{"10.0.0.3", 6380}) || m.Replicas[0].Offset != 10 || m.MasterReplID2 != idE {
		t.Fatalf("master info: %+v", m)
	}
}

func TestCommandAPI(t *testing.T) {
	h := newHarness(t, "sentinel myid "+idA, "sentinel monitor mymaster 10.0.0.1 6379 2",
		"sentinel known-replica mymaster 10.0.0.2 6379", "sentinel known-sentinel mymaster 10.0.1.2 26379 "+idE)
	n := h.n
	f, err := n.Master("mymaster")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range f {
		keys = append(keys, kv[0])
	}
	wantKeys := []string{"name", "ip", "port", "runid", "flags", "link-pending-commands", "link-refcount", "last-ping-sent",
		"last-ok-ping-reply", "last-ping-reply", "down-after-milliseconds", "info-refresh", "role-reported", "role-reported-time",
		"config-epoch", "num-slaves", "num-other-sentinels", "quorum", "failover-timeout", "parallel-syncs"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Fatalf("MASTER keys %v", keys)
	}
	if f.Get("flags") != "master,disconnected" || f.Get("num-slaves") != "1" || f.Get("num-other-sentinels") != "1" {
		t.Fatalf("fields %v", f)
	}
	reps, _ := n.Replicas("mymaster")
	if len(reps) != 1 || reps[0].Get("name") != "10.0.0.2:6379" || reps[0].Get("master-link-status") != "err" || reps[0].Get("slave-priority") != "100" {
		t.Fatalf("replicas %v", reps)
	}
	sen, _ := n.Sentinels("mymaster")
	if len(sen) != 1 || sen[0].Get("name") != idE || sen[0].Get("voted-leader") != "?" {
		t.Fatalf("sentinels %v", sen)
	}
	if _, err := n.Master("nope"); err == nil || err.Error() != "ERR No such master with that name" {
		t.Fatalf("unknown master: %v", err)
	}
	if a, ok := n.GetMasterAddrByName("mymaster"); !ok || a != (Addr{"10.0.0.1", 6379}) {
		t.Fatal("get-master-addr-by-name")
	}
	// The other sentinel is not connected: 1 usable of 2 voters, quorum 2.
	if _, err := n.CkQuorum("mymaster"); err == nil || err.Error() != "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master. Not enough available Sentinels to reach the majority and authorize a failover" {
		t.Fatalf("ckquorum: %v", err)
	}
	for _, s := range n.State().Master("mymaster").sentinels {
		s.cmd.connected = true
	}
	if ok, err := n.CkQuorum("mymaster"); err != nil || ok != "OK 2 usable Sentinels. Quorum and failover authorization can be reached" {
		t.Fatalf("ckquorum ok: %q %v", ok, err)
	}
	if err := n.Set("mymaster", "down-after-milliseconds", "abc"); err == nil || err.Error() != "ERR Invalid argument 'abc' for SENTINEL SET 'down-after-milliseconds'" {
		t.Fatalf("set: %v", err)
	}
	if err := n.Set("mymaster", "bogus", "1"); err == nil || err.Error() != "ERR Unknown option or number of arguments for SENTINEL SET 'bogus'" {
		t.Fatalf("set: %v", err)
	}
	if err := n.Set("mymaster", "notification-script", "/x"); err == nil || !strings.HasPrefix(err.Error(), "ERR Reconfiguration of scripts path is denied") {
		t.Fatalf("set script: %v", err)
	}
	h.collect()
	if err := n.Set("mymaster", "quorum", "3", "parallel-syncs", "4"); err != nil {
		t.Fatal(err)
	}
	acts := h.collect()
	if _, ok := acts[0].(PersistState); !ok || len(pubs(acts, EvSet)) != 2 || pubs(acts, EvSet)[0].Msg != "master mymaster 10.0.0.1 6379 quorum 3" {
		t.Fatalf("set events %+v", acts)
	}
	if err := n.Monitor("mymaster", "10.0.0.9", "6379", "2"); err == nil || err.Error() != "ERR Duplicate master name." {
		t.Fatalf("monitor dup: %v", err)
	}
	if err := n.Monitor("m2", "10.0.0.9", "6379", "0"); err == nil || err.Error() != "ERR Quorum must be 1 or greater." {
		t.Fatalf("monitor quorum: %v", err)
	}
	if err := n.Monitor("m2", "10.0.0.9", "6379", "2"); err != nil {
		t.Fatal(err)
	}
	if c := n.Reset("m*"); c != 2 {
		t.Fatalf("reset count %d", c)
	}
	if len(n.State().Master("mymaster").replicas) != 0 || len(n.State().Master("mymaster").sentinels) != 0 {
		t.Fatal("reset must forget replicas and sentinels")
	}
	if err := n.Failover("mymaster"); err == nil || err.Error() != "NOGOODSLAVE No suitable replica to promote" {
		t.Fatalf("failover: %v", err)
	}
	n.State().Master("m2").inFailover = true
	if err := n.Failover("m2"); err == nil || err.Error() != "INPROG Failover already in progress" {
		t.Fatalf("failover inprog: %v", err)
	}
	if err := n.Remove("m2"); err != nil || n.State().Master("m2") != nil {
		t.Fatalf("remove: %v", err)
	}
	if !globMatch("my*er", "mymaster", false) || globMatch("my?", "mymaster", false) || !globMatch("[lm]y*", "mymaster", false) {
		t.Fatal("glob")
	}
	if FailoverWaitPromotion.String() != "wait_promotion" || FailoverSendSlaveofNoOne.String() != "send_slaveof_noone" {
		t.Fatal("FailoverState names")
	}
}
