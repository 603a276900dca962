// Package logging writes vigil's logs in Redis's line format, through
// log/slog, so tools that tail redis-server logs (and humans used to them)
// read vigil's unchanged:
//
//	12345:M 26 Nov 2026 05:02:28.123 * Ready to accept connections tcp
//
// The role character is M (master), S (replica), X (sentinel) or C (child /
// before the role is known). Levels map to Redis's: debug '.', verbose '-',
// notice '*', warning '#'.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Redis's levels as slog levels.
const (
	LevelDebug   = slog.LevelDebug // '.'
	LevelVerbose = slog.Level(-2)  // '-'
	LevelNotice  = slog.LevelInfo  // '*'
	LevelWarning = slog.LevelWarn  // '#'
)

// ParseLevel maps a loglevel directive value to a slog level.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return LevelDebug
	case "verbose":
		return LevelVerbose
	case "warning":
		return LevelWarning
	case "nothing":
		return slog.Level(100)
	}
	return LevelNotice
}

// Handler is a slog.Handler writing Redis-format lines.
type Handler struct {
	mu    *sync.Mutex
	out   *io.Writer
	level *slog.LevelVar
	role  *atomic.Value
	pid   int
	attrs string
}

// New returns a handler writing to w at the given level.
func New(w io.Writer, level slog.Level) *Handler {
	lv := &slog.LevelVar{}
	lv.Set(level)
	role := &atomic.Value{}
	role.Store(byte('C'))
	return &Handler{mu: &sync.Mutex{}, out: &w, level: lv, role: role, pid: os.Getpid()}
}

// SetRole changes the role character (M, S, X, C).
func (h *Handler) SetRole(r byte) { h.role.Store(r) }

// SetLevel changes the level at runtime (CONFIG SET loglevel).
func (h *Handler) SetLevel(l slog.Level) { h.level.Set(l) }

// SetOutput redirects the log (logfile changes, daemonize).
func (h *Handler) SetOutput(w io.Writer) {
	h.mu.Lock()
	*h.out = w
	h.mu.Unlock()
}

func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var mark byte = '*'
	switch {
	case r.Level < LevelVerbose:
		mark = '.'
	case r.Level < LevelNotice:
		mark = '-'
	case r.Level >= LevelWarning:
		mark = '#'
	}
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d:%c %s %s %s", h.pid, h.role.Load().(byte), t.Format("02 Jan 2006 15:04:05.000"), string(mark), r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	_, err := io.WriteString(*h.out, b.String())
	h.mu.Unlock()
	return err
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	n.attrs = b.String()
	return &n
}

func (h *Handler) WithGroup(string) slog.Handler { return h }
