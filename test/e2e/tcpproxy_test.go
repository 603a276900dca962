package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpProxy forwards 127.0.0.1:<port> to a target and lets a test break the
// path in the ways networks do: Cut closes every open connection (a reset
// link), Pause stalls forwarding in both directions without closing
// anything (a black-holed link), Resume lets held bytes through again,
// SetRate throttles forwarding (a slow link).
type tcpProxy struct {
	ln     net.Listener
	target string
	Addr   string
	Port   int

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	gate   chan struct{} // closed while forwarding is allowed
	closed bool
	nconn  int
	rate   int // bytes per second and direction; 0 = unlimited
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port,
		conns: map[net.Conn]struct{}{}, gate: make(chan struct{})}
	close(p.gate)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *tcpProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			u.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.conns[u] = struct{}{}
		p.nconn++
		p.mu.Unlock()
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

// pipe copies src to dst, waiting at the gate before each write.
func (p *tcpProxy) pipe(src, dst net.Conn) {
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32*1024)
	for {
		p.mu.Lock()
		rate := p.rate
		p.mu.Unlock()
		chunk := buf
		if rate > 0 {
			// Small reads keep a throttled link smooth (about 20 a second).
			chunk = buf[:max(512, min(len(buf), rate/20))]
		}
		n, err := src.Read(chunk)
		if n > 0 {
			p.mu.Lock()
			g := p.gate
			rate = p.rate
			p.mu.Unlock()
			<-g
			if rate > 0 {
				time.Sleep(time.Duration(n) * time.Second / time.Duration(rate))
			}
			if _, werr := dst.Write(chunk[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

// Connections returns how many client connections were accepted so far.
func (p *tcpProxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nconn
}

// Cut closes every open connection; new ones are still accepted.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// SetRate limits forwarding to bytesPerSec in each direction (0: no limit).
func (p *tcpProxy) SetRate(bytesPerSec int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = bytesPerSec
}

// Pause stalls forwarding (bytes already read are held, not dropped).
func (p *tcpProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default:
	}
}

// Resume releases a Pause.
func (p *tcpProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Close stops the proxy and its connections.
func (p *tcpProxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Resume()
	p.Cut()
}
