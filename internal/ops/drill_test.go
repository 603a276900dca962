package ops

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDrillWindow(t *testing.T) {
	f := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return f.Add(time.Duration(ms) * time.Millisecond) }
	acks := []drillAck{{1, at(-20), ""}, {2, at(-5), ""}, {3, at(2100), ""}, {4, at(2105), ""}, {5, at(2500), ""}}
	w := window(acks, f)
	if w == nil || w.MS != 2105 || w.StartMS != -5 || w.EndMS != 2100 {
		t.Fatalf("window = %+v", w)
	}
	if w := window(acks[:2], f); w != nil {
		t.Fatalf("no ack after the fault: %+v", w)
	}
	// No ack before the fault: the gap starts at the fault.
	if w := window(acks[2:], f); w == nil || w.MS != 2100 || w.StartMS != 0 {
		t.Fatalf("window = %+v", w)
	}
}

func TestDrillEventRows(t *testing.T) {
	evs := []DrillEvent{
		{AfterMS: 1600, Sentinel: "s2", Event: "+odown", Message: "master mymaster 127.0.0.1 7000 #quorum 2/2"},
		{AfterMS: 1500, Sentinel: "s1", Event: "+sdown", Message: "master mymaster 127.0.0.1 7000"},
		{AfterMS: 1510, Sentinel: "s2", Event: "+sdown", Message: "master mymaster 127.0.0.1 7000"},
		{AfterMS: 1700, Sentinel: "s1", Event: "+sdown", Message: "sentinel abc 127.0.0.1 27002 27002 @ mymaster 127.0.0.1 7000"},
		{AfterMS: 1800, Sentinel: "s1", Event: "+new-epoch", Message: "1"},
	}
	rows := eventRows(evs)
	var got []string
	for _, r := range rows {
		got = append(got, r.name)
	}
	want := "+sdown master,+odown master,+sdown sentinel,+new-epoch"
	if strings.Join(got, ",") != want {
		t.Fatalf("rows %v, want %s", got, want)
	}
	if rows[0].first != 1500 || len(rows[0].sentinels) != 2 || rows[0].sentinel != "s1" {
		t.Fatalf("row 0 = %+v", rows[0])
	}
}

func TestDrillRender(t *testing.T) {
	fo := int64(2088)
	r := &DrillReport{Scenario: "kill", MasterName: "mymaster", OldMaster: "127.0.0.1:7000", NewMaster: "127.0.0.1:7001", Promoted: true,
		Run: "abc", Fault: "SIGKILL pid 1 (master 127.0.0.1:7000, redis-1)", FailoverMS: &fo,
		Window: &DrillWindow{MS: 2079, StartMS: -5, EndMS: 2074},
		Events: []DrillEvent{{AfterMS: 1566, Sentinel: "sentinel-1", Event: "+odown", Message: "master mymaster 127.0.0.1 7000"}},
		Writes: DrillWrites{Rate: 200, Wait: true, Attempted: 10, Acknowledged: 9, Failed: 1, Checked: true},
		Rejoin: DrillRejoin{Rejoined: true, Restarted: true, AfterMS: 12433, Follows: "127.0.0.1:7001"}, OK: true}
	var b bytes.Buffer
	renderDrill(&b, r)
	out := b.String()
	for _, want := range []string{"+odown master", "1.566s", "promoted      127.0.0.1:7001", "write window  2.079s", "from -0.005s to +2.074s",
		"lost          0 of 9 acknowledged writes", "rejoined as a replica of 127.0.0.1:7001, 12.433s", "Result: OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	j, _ := json.Marshal(r)
	for _, want := range []string{`"window":{"ms":2079`, `"lost":0`, `"old_master_rejoin":{"rejoined":true`} {
		if !strings.Contains(string(j), want) {
			t.Errorf("json lacks %s: %s", want, j)
		}
	}
}

func TestDrillUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	oldOut, oldErr := Stdout, Stderr
	Stdout, Stderr = &out, &errb
	defer func() { Stdout, Stderr = oldOut, oldErr }()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--scenario", "flood"}, 2, `vigil drill: --scenario "flood"`},
		{[]string{"--rate", "0"}, 2, "vigil drill: --rate must be"},
		{[]string{"--dir", t.TempDir()}, 1, "is not a 'vigil up' directory"},
		{[]string{"--sentinel", "nonsense"}, 2, `--sentinel "nonsense"`},
	} {
		errb.Reset()
		if code := Drill(tc.args); code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("Drill(%v) = %d, stderr %q", tc.args, code, errb.String())
		}
	}
	errb.Reset()
	if code := Switchover([]string{"--to", "x"}); code != 2 || !strings.Contains(errb.String(), `--to "x"`) {
		t.Errorf("Switchover --to x = %d, %q", code, errb.String())
	}
	out.Reset()
	if code := Switchover([]string{"--help"}); code != 0 || !strings.Contains(out.String(), "Example:") {
		t.Errorf("--help: %d %s", code, out.String())
	}
}

func TestSameAddr(t *testing.T) {
	if !sameAddr("127.0.0.1:7000", "localhost:7000") || sameAddr("127.0.0.1:7000", "127.0.0.1:7001") {
		t.Fatal("sameAddr")
	}
	if !containsFlag("slave,s_down", "s_down") || containsFlag("slave", "s_down") || containsFlag("master,failover_in_progress", "failover") {
		t.Fatal("containsFlag")
	}
}
