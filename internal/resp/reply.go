package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// Value is one decoded reply. Aggregates hold their elements in Elems; a
// map's keys and values alternate (k1, v1, k2, v2, ...) so the order the
// server chose survives.
type Value struct {
	Type   byte   // '+', '-', ':', '$', '*', '_', ',', '#', '%', '~', '>', '=', '('
	Str    []byte // simple/error/bulk/verbatim/bignum/double text
	Int    int64  // integer; 1 or 0 for a boolean
	Null   bool   // $-1, *-1 and _
	Elems  []Value
	Format string // verbatim string format ("txt", "mkd"); Str holds the text after "fmt:"
}

// Err returns the reply as an error if it is an error reply, else nil.
func (v Value) Err() error {
	if v.Type == '-' {
		return errors.New(string(v.Str))
	}
	return nil
}

// Float parses a double reply, or a bulk string holding one (RESP2
// servers send scores that way).
func (v Value) Float() (float64, error) {
	switch string(v.Str) {
	case "inf", "+inf":
		return strconv.ParseFloat("+Inf", 64)
	case "-inf":
		return strconv.ParseFloat("-Inf", 64)
	case "nan", "-nan":
		return strconv.ParseFloat("NaN", 64)
	}
	return strconv.ParseFloat(string(v.Str), 64)
}

// DefaultReplyMaxBulk bounds bulk strings and aggregate sizes a
// ReplyReader accepts unless told otherwise.
const DefaultReplyMaxBulk = DefaultMaxBulk

// maxReplyDepth bounds nesting. Real replies are a few levels deep; the
// limit only exists so hostile input cannot make the parser recurse without
// end.
const maxReplyDepth = 512

// ReplyReader reads replies from a Redis-compatible server.
type ReplyReader struct {
	br *bufio.Reader
	// MaxBulk is the largest bulk string or aggregate element count
	// accepted (default 512MB). Memory for a large bulk is grown as data
	// arrives, so a lying length prefix cannot trigger a huge allocation.
	MaxBulk int64
	line    []byte
}

// NewReplyReader returns a ReplyReader reading from r.
func NewReplyReader(r *bufio.Reader) *ReplyReader {
	return &ReplyReader{br: r, MaxBulk: DefaultReplyMaxBulk}
}

func replyErr(msg string) error { return &ProtocolError{"Protocol error: " + msg} }

// Read reads one full reply (any type, nested). RESP3 attributes are read
// and discarded, since no caller of this package acts on them. io.EOF is
// returned only if the stream ends cleanly before a reply starts.
func (rr *ReplyReader) Read() (Value, error) {
	v, err := rr.read(0)
	if err == io.EOF {
		return v, err
	}
	return v, unexpected(err)
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readLine returns the next line without its CRLF. The slice is only valid
// until the next read.
func (rr *ReplyReader) readLine() ([]byte, error) {
	line, err := rr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		rr.line = append(rr.line[:0], line...)
		for err == bufio.ErrBufferFull {
			if int64(len(rr.line)) > rr.MaxBulk {
				return nil, replyErr("too long line")
			}
			line, err = rr.br.ReadSlice('\n')
			rr.line = append(rr.line, line...)
		}
		line = rr.line
	}
	if err != nil {
		if len(line) > 0 {
			return nil, unexpected(err)
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, replyErr("line not terminated by CRLF")
	}
	line = line[:len(line)-2]
	// A bare CR inside a line is not something any server sends; refusing
	// it keeps every accepted Value re-encodable byte for byte.
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, replyErr("CR inside line")
	}
	if len(line) == 0 {
		return nil, replyErr("empty line")
	}
	return line, nil
}

func (rr *ReplyReader) read(depth int) (Value, error) {
	for {
		line, err := rr.readLine()
		if err != nil {
			return Value{}, err
		}
		t, body := line[0], line[1:]
		switch t {
		case '+', '-', '(', ',':
			return Value{Type: t, Str: bytes.Clone(body)}, nil
		case ':':
			n, ok := parseInt(body)
			if !ok {
				return Value{}, replyErr("invalid integer")
			}
			return Value{Type: t, Int: n}, nil
		case '_':
			if len(body) != 0 {
				return Value{}, replyErr("invalid null")
			}
			return Value{Type: t, Null: true}, nil
		case '#':
			if len(body) != 1 || (body[0] != 't' && body[0] != 'f') {
				return Value{}, replyErr("invalid boolean")
			}
			v := Value{Type: t}
			if body[0] == 't' {
				v.Int = 1
			}
			return v, nil
		case '$', '=', '!':
			n, ok := parseInt(body)
			if ok && n == -1 && t == '$' {
				return Value{Type: t, Null: true}, nil
			}
			if !ok || n < 0 || n > rr.MaxBulk {
				return Value{}, replyErr("invalid bulk length")
			}
			p, err := rr.readBulk(int(n))
			if err != nil {
				return Value{}, unexpected(err)
			}
			switch t {
			case '!':
				// Blob errors are still errors; callers check Type == '-'.
				return Value{Type: '-', Str: p}, nil
			case '=':
				if len(p) < 4 || p[3] != ':' {
					return Value{}, replyErr("invalid verbatim string")
				}
				return Value{Type: t, Format: string(p[:3]), Str: p[4:]}, nil
			}
			return Value{Type: t, Str: p}, nil
		case '*', '%', '~', '>', '|':
			n, ok := parseInt(body)
			if ok && n == -1 && t == '*' {
				return Value{Type: t, Null: true}, nil
			}
			if !ok || n < 0 || n > rr.MaxBulk {
				return Value{}, replyErr("invalid multibulk length")
			}
			if depth >= maxReplyDepth {
				return Value{}, replyErr("reply nested too deeply")
			}
			if t == '%' || t == '|' {
				n *= 2
			}
			// The count is only a claim; capacity follows actual elements.
			elems := make([]Value, 0, min(n, 1024))
			for range n {
				e, err := rr.read(depth + 1)
				if err != nil {
					return Value{}, unexpected(err)
				}
				elems = append(elems, e)
			}
			if t == '|' {
				continue // attributes annotate the value that follows
			}
			return Value{Type: t, Elems: elems}, nil
		default:
			return Value{}, replyErr("invalid reply type " + strconv.QuoteRuneToASCII(rune(t)))
		}
	}
}

// readBulk reads n bytes plus the CRLF, growing the destination as data
// arrives rather than trusting n up front.
func (rr *ReplyReader) readBulk(n int) ([]byte, error) {
	const chunk = 1 << 20
	p := make([]byte, 0, min(n+2, chunk))
	for len(p) < n+2 {
		if len(p) == cap(p) {
			p = append(p, make([]byte, min(n+2-len(p), max(len(p), chunk)))...)[:len(p)]
		}
		m, err := io.ReadFull(rr.br, p[len(p):min(cap(p), n+2)])
		p = p[:len(p)+m]
		if err != nil {
			return nil, err
		}
	}
	if p[n] != '\r' || p[n+1] != '\n' {
		return nil, replyErr("bulk string not terminated by CRLF")
	}
	return p[:n:n], nil
}

// String renders v the way redis-cli does on a terminal, so test failures
// read like a redis-cli session.
func (v Value) String() string {
	b := formatValue(nil, v, "")
	return string(bytes.TrimSuffix(b, []byte{'\n'}))
}

func formatValue(b []byte, v Value, prefix string) []byte {
	switch {
	case v.Null || v.Type == '_':
		return append(b, "(nil)\n"...)
	}
	switch v.Type {
	case '+', '=':
		b = append(b, v.Str...)
	case '-':
		b = append(b, "(error) "...)
		b = append(b, v.Str...)
	case ':':
		b = append(b, "(integer) "...)
		b = strconv.AppendInt(b, v.Int, 10)
	case ',':
		b = append(b, "(double) "...)
		b = append(b, v.Str...)
	case '(':
		b = append(b, "(big number) "...)
		b = append(b, v.Str...)
	case '#':
		if v.Int != 0 {
			b = append(b, "(true)"...)
		} else {
			b = append(b, "(false)"...)
		}
	case '$':
		b = appendRepr(b, v.Str)
	case '*', '%', '~', '>':
		return formatAggregate(b, v, prefix)
	default:
		b = append(b, "(unknown type "...)
		b = strconv.AppendQuoteRuneToASCII(b, rune(v.Type))
		b = append(b, ')')
	}
	return append(b, '\n')
}

func formatAggregate(b []byte, v Value, prefix string) []byte {
	if len(v.Elems) == 0 {
		switch v.Type {
		case '%':
			return append(b, "(empty hash)\n"...)
		case '~':
			return append(b, "(empty set)\n"...)
		case '>':
			return append(b, "(empty push)\n"...)
		}
		return append(b, "(empty array)\n"...)
	}
	count := len(v.Elems)
	sep := byte(')')
	switch v.Type {
	case '%':
		count /= 2
		sep = '#'
	case '~':
		sep = '~'
	}
	width := len(strconv.Itoa(count))
	// Nested aggregates are indented past "<index><sep> ", as redis-cli does.
	inner := prefix + string(bytes.Repeat([]byte{' '}, width+2))
	for i := 0; i < len(v.Elems); i++ {
		idx := i + 1
		if v.Type == '%' {
			idx = i/2 + 1
		}
		if i > 0 {
			b = append(b, prefix...)
		}
		s := strconv.Itoa(idx)
		for range width - len(s) {
			b = append(b, ' ')
		}
		b = append(b, s...)
		b = append(b, sep, ' ')
		b = formatValue(b, v.Elems[i], inner)
		if v.Type == '%' && i+1 < len(v.Elems) {
			i++
			b = append(b[:len(b)-1], " => "...)
			b = formatValue(b, v.Elems[i], inner)
		}
	}
	return b
}

// appendRepr quotes p like Redis's sdscatrepr.
func appendRepr(b, p []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range p {
		switch c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if c >= 0x20 && c <= 0x7e {
				b = append(b, c)
			} else {
				b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			}
		}
	}
	return append(b, '"')
}

// AppendValue re-encodes v. Errors whose text contains CR or LF (which can
// only come from RESP3 blob errors) are written as blob errors so the text
// survives.
func AppendValue(b []byte, v Value) []byte {
	switch v.Type {
	case '+':
		return appendLineBytes(b, '+', v.Str)
	case '-':
		if bytes.ContainsAny(v.Str, "\r\n") {
			b = appendPrefixed(b, '!', int64(len(v.Str)))
			b = append(b, v.Str...)
			return append(b, '\r', '\n')
		}
		return appendLineBytes(b, '-', v.Str)
	case ':':
		return AppendInt(b, v.Int)
	case '$':
		if v.Null {
			return AppendNullBulk(b)
		}
		return AppendBulk(b, v.Str)
	case '_':
		return AppendNull3(b)
	case ',':
		return appendLineBytes(b, ',', v.Str)
	case '(':
		return appendLineBytes(b, '(', v.Str)
	case '#':
		return AppendBool(b, v.Int != 0)
	case '=':
		return AppendVerbatim(b, v.Format, v.Str)
	case '*', '~', '>', '%':
		if v.Null && v.Type == '*' {
			return AppendNullArray(b)
		}
		elems := v.Elems
		n := len(elems)
		if v.Type == '%' {
			n /= 2
			elems = elems[:2*n] // a dangling key has no pair to encode
		}
		b = appendPrefixed(b, v.Type, int64(n))
		for _, e := range elems {
			b = AppendValue(b, e)
		}
		return b
	}
	return b
}

func appendLineBytes(b []byte, c byte, s []byte) []byte {
	b = append(b, c)
	start := len(b)
	b = append(b, s...)
	for i := start; i < len(b); i++ {
		if b[i] == '\r' || b[i] == '\n' {
			b[i] = ' '
		}
	}
	return append(b, '\r', '\n')
}
