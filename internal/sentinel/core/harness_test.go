package core

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// harness drives a single Node by hand (transcript-style tests).
type harness struct {
	t    *testing.T
	n    *Node
	now  int64
	acts []Action // everything emitted so far
}

func newHarness(t *testing.T, lines ...string) *harness {
	t.Helper()
	var cfg [][]string
	for _, l := range lines {
		cfg = append(cfg, strings.Fields(l))
	}
	st, err := ParseConfig(cfg)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	h := &harness{t: t}
	h.n = NewNode(st, Options{MyAddr: Addr{"10.0.1.1", 26379}, Rand: rand.New(rand.NewPCG(1, 2)), DisableElectionDelay: true}, 0)
	h.collect()
	return h
}

func (h *harness) collect() []Action {
	a := h.n.Ready().Actions
	h.acts = append(h.acts, a...)
	return a
}

func (h *harness) step(in Input) []Action {
	h.n.Step(in)
	return h.collect()
}

// tickTo ticks every 100 ms up to t, returning the actions emitted.
func (h *harness) tickTo(t int64) []Action {
	var out []Action
	for h.now+100 <= t {
		h.now += 100
		out = append(out, h.step(Tick{Now: h.now})...)
	}
	return out
}

func (h *harness) m() *Master { return h.n.State().Masters()[0] }

func pubs(acts []Action, typ string) []Publish {
	var out []Publish
	for _, a := range acts {
		if p, ok := a.(Publish); ok && p.Type == typ {
			out = append(out, p)
		}
	}
	return out
}

func sends(acts []Action, p Purpose) []SendCommand {
	var out []SendCommand
	for _, a := range acts {
		if c, ok := a.(SendCommand); ok && c.Purpose == p {
			out = append(out, c)
		}
	}
	return out
}

// upAll answers every pending Connect in acts with LinkUp.
func (h *harness) upAll(acts []Action) []Action {
	var out []Action
	for _, a := range acts {
		if c, ok := a.(Connect); ok {
			out = append(out, h.step(LinkUp{Link: c.Link})...)
		}
	}
	return out
}

const masterInfo = "# Server\r\nrun_id:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:100\r\n"
