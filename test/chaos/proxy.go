// Package chaos breaks real vigil / Redis topologies on purpose and checks
// what clients were promised: see docs/reliability.md.
package chaos

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a fault-injecting TCP proxy in front of one node. Faults:
// Cut (close every connection, refuse new ones), Stall per direction (hold
// bytes, connections stay open), Delay (every chunk forwarded d later, in
// order), Reset (drop the current connections once, as a flapping link does).
// "up" is client→node, "down" is node→client.
type Proxy struct {
	ln     net.Listener
	target atomic.Pointer[string]

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	cut       atomic.Bool
	stallUp   atomic.Bool
	stallDown atomic.Bool
	delay     atomic.Int64 // ns
	closed    atomic.Bool
}

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, conns: map[net.Conn]struct{}{}}
	p.SetTarget(target)
	go p.accept()
	return p, nil
}

// SetTarget changes where new connections go (the node's port may only be
// known once it started).
func (p *Proxy) SetTarget(target string) { p.target.Store(&target) }

// Addr is the proxy's listening address; Port its port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }
func (p *Proxy) Port() int    { return p.ln.Addr().(*net.TCPAddr).Port }

// Cut closes every connection and refuses new ones until Heal.
func (p *Proxy) Cut() {
	p.cut.Store(true)
	p.Reset()
}

// Reset closes the current connections (new ones are accepted).
func (p *Proxy) Reset() {
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// Stall holds the bytes of the given directions.
func (p *Proxy) Stall(up, down bool) { p.stallUp.Store(up); p.stallDown.Store(down) }

// Delay forwards every chunk d after it was read.
func (p *Proxy) Delay(d time.Duration) { p.delay.Store(int64(d)) }

// Heal clears every fault.
func (p *Proxy) Heal() {
	p.cut.Store(false)
	p.Stall(false, false)
	p.Delay(0)
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.closed.Store(true)
	p.ln.Close()
	p.Reset()
}

// track adds or removes a connection; adding fails once the proxy is
// closed (checked under the lock Close's Reset takes, so no connection
// escapes Close).
func (p *Proxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		if p.closed.Load() {
			return false
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.closed.Load() {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if p.cut.Load() {
			c.Close()
			continue
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	s, err := net.DialTimeout("tcp", *p.target.Load(), time.Second)
	if err != nil || p.cut.Load() || p.closed.Load() {
		c.Close()
		if s != nil {
			s.Close()
		}
		return
	}
	if !p.track(c, true) || !p.track(s, true) {
		c.Close()
		s.Close()
		p.track(c, false)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(s, c, &p.stallUp) }()
	go func() { defer wg.Done(); p.pipe(c, s, &p.stallDown) }()
	wg.Wait()
	p.track(c, false)
	p.track(s, false)
}

type chunk struct {
	b  []byte
	at time.Time
}

// pipe copies src to dst honouring stall and delay; closing either side
// closes both.
func (p *Proxy) pipe(dst, src net.Conn, stalled *atomic.Bool) {
	q := make(chan chunk, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range q {
			if d := time.Duration(p.delay.Load()); d > 0 {
				if w := time.Until(ch.at.Add(d)); w > 0 {
					time.Sleep(w)
				}
			}
			for stalled.Load() && !p.cut.Load() && !p.closed.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			if _, err := dst.Write(ch.b); err != nil {
				src.Close()
				for range q {
				}
				return
			}
		}
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			q <- chunk{append([]byte(nil), buf[:n]...), time.Now()}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
	dst.Close()
	src.Close()
}

var _ = io.EOF
