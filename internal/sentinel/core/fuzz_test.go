package core

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Hello messages and INFO replies come from the network: whatever a peer
// or a monitored instance sends, the core must not panic, and the state it
// persists must still parse.
func FuzzHelloAndInfo(f *testing.F) {
	f.Add("127.0.0.1,26380,0123456789012345678901234567890123456789,3,mymaster,127.0.0.1,6379,2", "role:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=10,lag=0\r\n")
	f.Add("a,b,c,d,e,f,g,h", "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:x\r\nslave_priority:-1\r\n")
	f.Add(",,,,,,,", "run_id:\r\nslave0:ip=,port=,state=\r\n")
	f.Add("127.0.0.1,99999999999,zz,18446744073709551615,mymaster,::1,-5,18446744073709551616", strings.Repeat("x:y\r\n", 50))
	f.Fuzz(func(t *testing.T, hello, info string) {
		_ = ParseInfo(info)
		st, err := ParseConfig([][]string{{"sentinel", "monitor", "mymaster", "127.0.0.1", "6379", "2"}})
		if err != nil {
			t.Fatal(err)
		}
		n := NewNode(st, Options{MyAddr: Addr{"127.0.0.1", 26379}, Rand: rand.New(rand.NewPCG(1, 2))}, 1000)
		n.Step(Tick{Now: 1100})
		n.Ready()
		n.Step(Message{Link: 0, Channel: "__sentinel__:hello", Payload: hello})
		n.Step(Tick{Now: 1200})
		n.Ready()
		if _, err := ParseConfig(n.State().ConfigLines()); err != nil {
			t.Fatalf("persisted state doesn't parse after hello %q: %v", hello, err)
		}
	})
}
