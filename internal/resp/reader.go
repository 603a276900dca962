package resp

import (
	"bytes"
	"errors"
	"io"
	"math"
)

const (
	// DefaultMaxBulk is Redis's default proto-max-bulk-len.
	DefaultMaxBulk = 512 << 20
	// DefaultMaxQuery is Redis's default client-query-buffer-limit.
	DefaultMaxQuery = 1 << 30
	// InlineMaxSize is PROTO_INLINE_MAX_SIZE: how far Redis looks for the end
	// of an inline request or of a "*<n>" / "$<n>" header line before it gives
	// up on the client.
	InlineMaxSize = 64 * 1024
	// MaxMultibulkLen is the largest accepted "*<n>" count. The real Redis
	// 7.0 server accepts anything up to INT_MAX (the 1024*1024 limit is from
	// Redis 6), and "*1048577" is a valid, if unusual, request there.
	MaxMultibulkLen = math.MaxInt32

	// While a connection has not authenticated, Redis refuses to let it
	// announce large requests, so an anonymous peer cannot make the server
	// reserve memory. These are the limits from networking.c.
	unauthMaxMultibulk = 10
	unauthMaxBulk      = 16384

	// ioBufSize is PROTO_IOBUF_LEN, the size of a normal read and the size
	// the buffer shrinks back to after a large request.
	ioBufSize = 16 * 1024
	// minRead keeps reads from degenerating into tiny ones when a partial
	// command almost fills the buffer.
	minRead = 2 * 1024
	// shrinkAbove: buffers larger than this exist only because a large
	// command passed through; once it is consumed they are given back.
	shrinkAbove = 4 * ioBufSize
	// exactGrowAbove: above this a known bulk length is allocated exactly
	// instead of by doubling, so a 400MB value does not cost 800MB.
	exactGrowAbove = 1 << 20
	// maxEmptyReads mirrors bufio: a reader that keeps returning (0, nil) is
	// broken, and spinning on it forever would hang the connection goroutine.
	maxEmptyReads = 100
)

// Command is one parsed client command. Args alias the Reader's internal buffer and are
// valid only until the next call to ReadCommands.
type Command struct {
	Args   [][]byte
	Inline bool // came as an inline (telnet-style) command
}

// ProtocolError is returned for malformed input; Msg is Redis's exact text without the
// "-ERR " prefix, e.g. "Protocol error: invalid multibulk length". After a ProtocolError
// the server replies "-ERR "+Msg and closes the connection.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return e.Msg }

// ErrQueryBufferLimit means the peer sent a single request larger than the
// client-query-buffer-limit. Redis drops such clients without a reply (it
// only logs), so this is deliberately not a ProtocolError.
var ErrQueryBufferLimit = errors.New("resp: client reached max query buffer length")

// Protocol errors with fixed text are allocated once: a flood of bad
// clients should not also be a flood of garbage.
var (
	errTooBigInline        = &ProtocolError{"Protocol error: too big inline request"}
	errUnbalancedQuotes    = &ProtocolError{"Protocol error: unbalanced quotes in request"}
	errTooBigMbulkCount    = &ProtocolError{"Protocol error: too big mbulk count string"}
	errInvalidMbulkLen     = &ProtocolError{"Protocol error: invalid multibulk length"}
	errUnauthMbulkLen      = &ProtocolError{"Protocol error: unauthenticated multibulk length"}
	errTooBigBulkCount     = &ProtocolError{"Protocol error: too big bulk count string"}
	errInvalidBulkLen      = &ProtocolError{"Protocol error: invalid bulk length"}
	errUnauthBulkLen       = &ProtocolError{"Protocol error: unauthenticated bulk length"}
	errExpectedDollarCache = func() (t [256]*ProtocolError) {
		for c := range t {
			shown := byte(c)
			// Redis sanitizes CR/LF in error replies to spaces; doing it
			// here keeps Msg safe to splice into "-ERR "+Msg verbatim.
			if shown == '\r' || shown == '\n' {
				shown = ' '
			}
			t[c] = &ProtocolError{"Protocol error: expected '$', got '" + string([]byte{shown}) + "'"}
		}
		return t
	}()
)

// errExpectedDollar is built up front for every byte so connections on
// different goroutines share the values without synchronization.
func errExpectedDollar(c byte) *ProtocolError { return errExpectedDollarCache[c] }

// span is an argument's position relative to the start of its command.
// Relative offsets survive moving the partial command inside the buffer.
type span struct{ from, to int }

// Reader parses client requests the way Redis 7.0's processInputBuffer
// does. See NewReader and ReadCommands.
type Reader struct {
	rd  io.Reader
	buf []byte // data lives in buf[start:end]

	start int // first byte of the command being parsed (everything before is consumed)
	pos   int // parse cursor, >= start
	end   int // end of valid data

	// Resumable state of a multibulk request that has not fully arrived, so
	// that a command trickling in over many reads is parsed in linear time.
	multiLeft int    // elements still expected; 0 = not inside a multibulk
	bulkLen   int    // length of the pending bulk, -1 = its header is not read yet
	spans     []span // elements of the current multibulk read so far
	need      int    // bytes (from start) needed before the pending bulk is complete; 0 if unknown

	// Resumable terminator search for the line starting at pos.
	scanned int  // bytes after pos known to contain no terminator
	blocked bool // a NUL precedes any terminator: Redis's strchr never finds it

	args [][]byte // backing store for the Args of the current batch

	maxBulk      int64
	maxQuery     int64
	authRequired bool

	rerr error // read error, reported once the buffered data is exhausted
	err  error // sticky terminal error
}

// NewReader: maxBulk is proto-max-bulk-len (default 512MB), maxQuery the client-query-buffer-limit
// (default 1GB). Values <= 0 select the defaults.
func NewReader(rd io.Reader, maxBulk int64, maxQuery int64) *Reader {
	r := &Reader{rd: rd, bulkLen: -1}
	r.SetLimits(maxBulk, maxQuery)
	return r
}

// SetLimits changes the limits (CONFIG SET at runtime). Values <= 0 select
// the defaults.
func (r *Reader) SetLimits(maxBulk, maxQuery int64) {
	if maxBulk <= 0 {
		maxBulk = DefaultMaxBulk
	}
	if maxQuery <= 0 {
		maxQuery = DefaultMaxQuery
	}
	r.maxBulk, r.maxQuery = maxBulk, maxQuery
}

// SetAuthRequired tells the reader whether the connection still has to
// authenticate. While it does, Redis rejects multibulk counts above 10 and
// bulk lengths above 16384, and ReadCommands returns one command per call:
// an AUTH earlier in a pipeline must take effect before the next command's
// header is judged, exactly as Redis judges it.
func (r *Reader) SetAuthRequired(v bool) { r.authRequired = v }

// Reset discards all state and reads from rd, keeping the buffer so pooled
// readers do not reallocate.
func (r *Reader) Reset(rd io.Reader) {
	buf, spans, args := r.buf, r.spans[:0], r.args[:0]
	clear(args[:cap(args)])
	maxBulk, maxQuery := r.maxBulk, r.maxQuery
	*r = Reader{rd: rd, buf: buf, spans: spans, args: args, bulkLen: -1, maxBulk: maxBulk, maxQuery: maxQuery}
}

// Buffered returns the number of unread bytes held.
func (r *Reader) Buffered() int { return r.end - r.start }

// ReadCommands blocks until at least one complete command is buffered, then returns every
// complete command in the buffer. dst is reused (append to dst[:0]). If a protocol error
// follows some valid commands, those commands are returned together with the error. The
// error is sticky. io.EOF means the peer closed cleanly between commands;
// io.ErrUnexpectedEOF that it closed in the middle of one.
func (r *Reader) ReadCommands(dst []Command) ([]Command, error) {
	dst = dst[:0]
	// The previous batch is dead now, so its argument slots can be reused
	// and the buffer may move.
	r.args = r.args[:0]
	if r.err != nil {
		return dst, r.err
	}
	r.maybeShrink()
	for {
		var err error
		dst, err = r.parse(dst)
		if err != nil {
			r.err = err
			return dst, err
		}
		if len(dst) > 0 {
			return dst, nil
		}
		// Reading only when nothing is complete keeps already returned
		// arguments stable: fill may move or replace the buffer.
		if err := r.fill(); err != nil {
			r.err = err
			return dst, err
		}
	}
}

func (r *Reader) resetScan() {
	r.scanned = 0
	r.blocked = false
}

// parse consumes every complete command in buf[pos:end], resuming a partial
// multibulk where the previous call stopped.
func (r *Reader) parse(dst []Command) ([]Command, error) {
	for {
		if r.multiLeft == 0 {
			if len(dst) > 0 && r.authRequired {
				return dst, nil
			}
			if r.pos >= r.end {
				return dst, nil
			}
			var ok bool
			var err error
			if r.buf[r.pos] == '*' {
				ok, err = r.parseMultibulkLen()
			} else {
				dst, ok, err = r.parseInline(dst)
			}
			if err != nil || !ok {
				return dst, err
			}
			continue
		}

		if r.bulkLen < 0 {
			ok, err := r.parseBulkLen()
			if err != nil || !ok {
				return dst, err
			}
		}
		// Like Redis, the two bytes after the payload are skipped without
		// being checked: "$4\r\nPINGxx" is a valid PING.
		if r.end-r.pos < r.bulkLen+2 {
			r.need = r.pos + r.bulkLen + 2 - r.start
			return dst, nil
		}
		r.need = 0
		from := r.pos - r.start
		r.spans = append(r.spans, span{from, from + r.bulkLen})
		r.pos += r.bulkLen + 2
		r.bulkLen = -1
		r.multiLeft--
		if r.multiLeft > 0 {
			continue
		}
		first := len(r.args)
		for _, sp := range r.spans {
			a, b := r.start+sp.from, r.start+sp.to
			// Capacity is clipped so a handler appending to an argument
			// cannot overwrite the next one.
			r.args = append(r.args, r.buf[a:b:b])
		}
		n := len(r.args)
		dst = append(dst, Command{Args: r.args[first:n:n]})
		r.spans = r.spans[:0]
		r.start = r.pos
	}
}

// findTerm looks for c in the line starting at pos with Redis's strchr
// semantics: a NUL byte ends the search for good. It only looks
// InlineMaxSize+1 bytes ahead, which is where Redis, fed one byte at a time,
// would already have rejected the line; this makes the outcome independent
// of how the input was split into reads.
func (r *Reader) findTerm(c byte) int {
	if r.blocked {
		return -1
	}
	limit := min(r.end, r.pos+InlineMaxSize+1)
	from := r.pos + r.scanned
	if from >= limit {
		return -1
	}
	seg := r.buf[from:limit]
	i := bytes.IndexByte(seg, c)
	before := seg
	if i >= 0 {
		before = seg[:i]
	}
	if bytes.IndexByte(before, 0) >= 0 {
		r.blocked = true
		return -1
	}
	if i < 0 {
		r.scanned = limit - r.pos
		return -1
	}
	return from + i
}

// parseInline is processInlineBuffer.
func (r *Reader) parseInline(dst []Command) ([]Command, bool, error) {
	nl := r.findTerm('\n')
	if nl < 0 {
		if r.end-r.pos > InlineMaxSize {
			return dst, false, errTooBigInline
		}
		return dst, false, nil
	}
	lineEnd := nl
	if lineEnd > r.pos && r.buf[lineEnd-1] == '\r' {
		lineEnd--
	}
	first := len(r.args)
	var ok bool
	r.args, ok = splitArgs(r.buf[r.pos:lineEnd], r.args)
	if !ok {
		return dst, false, errUnbalancedQuotes
	}
	r.pos = nl + 1
	r.start = r.pos
	r.resetScan()
	// An empty line yields no command at all, which is how Redis treats it.
	if n := len(r.args); n > first {
		dst = append(dst, Command{Args: r.args[first:n:n], Inline: true})
	}
	return dst, true, nil
}

// headerLine finds the "\r" ending a "*<n>" or "$<n>" line. Like Redis it
// requires one more byte after the CR but does not check that it is LF.
func (r *Reader) headerLine(tooBig error) (int, bool, error) {
	cr := r.findTerm('\r')
	if cr < 0 {
		if r.end-r.pos > InlineMaxSize {
			return 0, false, tooBig
		}
		return 0, false, nil
	}
	if cr > r.end-2 {
		return 0, false, nil
	}
	return cr, true, nil
}

// parseMultibulkLen reads "*<n>\r\n". Counts <= 0 are consumed and produce
// no command, as in Redis.
func (r *Reader) parseMultibulkLen() (bool, error) {
	cr, ok, err := r.headerLine(errTooBigMbulkCount)
	if !ok {
		return false, err
	}
	ll, ok := parseInt(r.buf[r.pos+1 : cr])
	if !ok || ll > MaxMultibulkLen {
		return false, errInvalidMbulkLen
	}
	if ll > unauthMaxMultibulk && r.authRequired {
		return false, errUnauthMbulkLen
	}
	r.pos = cr + 2
	r.resetScan()
	if ll <= 0 {
		r.start = r.pos
		return true, nil
	}
	r.multiLeft = int(ll)
	r.bulkLen = -1
	r.spans = r.spans[:0]
	return true, nil
}

// parseBulkLen reads "$<n>\r\n" inside a multibulk.
func (r *Reader) parseBulkLen() (bool, error) {
	cr, ok, err := r.headerLine(errTooBigBulkCount)
	if !ok {
		return false, err
	}
	if c := r.buf[r.pos]; c != '$' {
		return false, errExpectedDollar(c)
	}
	ll, ok := parseInt(r.buf[r.pos+1 : cr])
	if !ok || ll < 0 || ll > r.maxBulk {
		return false, errInvalidBulkLen
	}
	if ll > unauthMaxBulk && r.authRequired {
		return false, errUnauthBulkLen
	}
	if ll > math.MaxInt-2 { // only reachable on 32-bit platforms
		return false, errInvalidBulkLen
	}
	r.pos = cr + 2
	r.resetScan()
	r.bulkLen = int(ll)
	return true, nil
}

// fill reads more data. It is only called when the current batch is empty,
// so it may move the partial command to the front or into a new buffer.
func (r *Reader) fill() error {
	if r.rerr != nil {
		return r.readErr()
	}
	pending := r.end - r.start
	want := pending + minRead
	if r.need > want {
		want = r.need
	}
	if int64(pending) > r.maxQuery || int64(r.need) > r.maxQuery {
		return ErrQueryBufferLimit
	}
	if want > len(r.buf) {
		size := max(2*len(r.buf), ioBufSize)
		if r.need > 0 && r.bulkLen > exactGrowAbove {
			// Growing by half rather than doubling still keeps a command
			// made of many big values linear, without doubling the
			// memory cost of one huge value.
			size = len(r.buf) + len(r.buf)/2
		}
		size = max(size, want)
		r.rebase(make([]byte, size))
	} else if r.start > 0 {
		r.rebase(r.buf)
	}
	for range maxEmptyReads {
		n, err := r.rd.Read(r.buf[r.end:])
		r.end += n
		if err != nil {
			r.rerr = err
			if n == 0 {
				return r.readErr()
			}
		}
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

func (r *Reader) readErr() error {
	if r.rerr == io.EOF && r.end > r.start {
		return io.ErrUnexpectedEOF
	}
	return r.rerr
}

// rebase moves the unconsumed bytes to the front of nb (which may be r.buf).
func (r *Reader) rebase(nb []byte) {
	if &nb[0] != &r.buf0()[0] {
		// Old argument slots may still point into the old buffer; dropping
		// them lets a large buffer be collected right away.
		clear(r.args[:cap(r.args)])
	}
	n := copy(nb, r.buf[r.start:r.end])
	r.pos -= r.start
	r.end = n
	r.start = 0
	r.buf = nb
}

// buf0 returns r.buf, or a dummy one-byte slice before the first read, so
// rebase can compare backing arrays without special cases.
func (r *Reader) buf0() []byte {
	if len(r.buf) == 0 {
		return []byte{0}
	}
	return r.buf
}

// maybeShrink gives back a buffer that grew for one large command once that
// command has been consumed, so an idle connection costs ~16KB again.
func (r *Reader) maybeShrink() {
	if len(r.buf) > shrinkAbove && r.end-r.start <= ioBufSize-minRead && r.need <= ioBufSize-minRead {
		r.rebase(make([]byte, ioBufSize))
	}
	if r.multiLeft == 0 && cap(r.spans) > 4096 {
		r.spans = nil
	}
	if cap(r.args) > 64*1024 {
		r.args = nil
	}
}
