package resp

import (
	"math"
	"strconv"
)

// Shared pre-encoded replies. Handlers append these with Writer.Raw; they
// must be treated as read-only.
var (
	OK         = []byte("+OK\r\n")
	PONG       = []byte("+PONG\r\n")
	QUEUED     = []byte("+QUEUED\r\n")
	EmptyArray = []byte("*0\r\n")
	EmptyBulk  = []byte("$0\r\n\r\n")
	NullBulk   = []byte("$-1\r\n")
	NullArray  = []byte("*-1\r\n")
	Null3      = []byte("_\r\n")
	Zero       = []byte(":0\r\n")
	One        = []byte(":1\r\n")
	MinusOne   = []byte(":-1\r\n")
	MinusTwo   = []byte(":-2\r\n")
	CRLF       = []byte("\r\n")
)

// appendPrefixed appends <c><n>\r\n, the header shared by every length- or
// integer-carrying RESP element.
func appendPrefixed(b []byte, c byte, n int64) []byte {
	b = append(b, c)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '\r', '\n')
}

// appendLine appends <c><s>\r\n, replacing CR and LF with spaces: a simple
// string or error cannot contain them, and a stray newline from an error
// message built out of user input would desynchronize the client.
func appendLine(b []byte, c byte, s string) []byte {
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

// AppendSimple appends +s\r\n.
func AppendSimple(b []byte, s string) []byte { return appendLine(b, '+', s) }

// AppendError appends -msg\r\n. msg includes the error code ("ERR foo",
// "WRONGTYPE ..."); a leading '-' is tolerated so messages copied from a
// wire reply do not get a doubled dash.
func AppendError(b []byte, msg string) []byte {
	if len(msg) > 0 && msg[0] == '-' {
		msg = msg[1:]
	}
	return appendLine(b, '-', msg)
}

// AppendInt appends :n\r\n.
func AppendInt(b []byte, n int64) []byte { return appendPrefixed(b, ':', n) }

// AppendBulk appends $len\r\n p \r\n.
func AppendBulk(b []byte, p []byte) []byte {
	b = appendPrefixed(b, '$', int64(len(p)))
	b = append(b, p...)
	return append(b, '\r', '\n')
}

// AppendBulkString is AppendBulk for a string, without converting it.
func AppendBulkString(b []byte, s string) []byte {
	b = appendPrefixed(b, '$', int64(len(s)))
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendArrayLen appends *n\r\n.
func AppendArrayLen(b []byte, n int) []byte { return appendPrefixed(b, '*', int64(n)) }

// AppendNullBulk appends the RESP2 null bulk string $-1\r\n.
func AppendNullBulk(b []byte) []byte { return append(b, "$-1\r\n"...) }

// AppendNullArray appends the RESP2 null array *-1\r\n.
func AppendNullArray(b []byte) []byte { return append(b, "*-1\r\n"...) }

// AppendNull3 appends the RESP3 null _\r\n.
func AppendNull3(b []byte) []byte { return append(b, "_\r\n"...) }

// AppendMapLen appends the RESP3 map header %n\r\n (n key/value pairs).
func AppendMapLen(b []byte, n int) []byte { return appendPrefixed(b, '%', int64(n)) }

// AppendSetLen appends the RESP3 set header ~n\r\n.
func AppendSetLen(b []byte, n int) []byte { return appendPrefixed(b, '~', int64(n)) }

// AppendPushLen appends the RESP3 push header >n\r\n.
func AppendPushLen(b []byte, n int) []byte { return appendPrefixed(b, '>', int64(n)) }

// AppendAttrLen appends the RESP3 attribute header |n\r\n (n pairs).
func AppendAttrLen(b []byte, n int) []byte { return appendPrefixed(b, '|', int64(n)) }

// AppendDouble appends a RESP3 double the way Redis 7.0's addReplyDouble
// does: printf "%.17g", with infinities spelled inf/-inf.
func AppendDouble(b []byte, f float64) []byte {
	b = append(b, ',')
	b = AppendFloatText(b, f)
	return append(b, '\r', '\n')
}

// AppendFloatText appends f as Redis 7.0 prints doubles in replies
// ("%.17g", so 1.1 is "1.1000000000000001"; "inf", "-inf", and glibc's
// "nan"/"-nan"). Redis 7.2 switched to shortest round-trip output; 7.0
// clients and tests expect this form.
func AppendFloatText(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	case math.IsNaN(f):
		if math.Signbit(f) {
			return append(b, "-nan"...)
		}
		return append(b, "nan"...)
	}
	// Go's 'g' with an explicit precision matches C's %g: same switch to
	// exponent form, trailing zeros removed, two-digit minimum exponent.
	return strconv.AppendFloat(b, f, 'g', 17, 64)
}

// AppendBool appends the RESP3 boolean #t\r\n or #f\r\n.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "#t\r\n"...)
	}
	return append(b, "#f\r\n"...)
}

// AppendVerbatim appends a RESP3 verbatim string =len\r\nfmt:s\r\n. The
// format is always three bytes on the wire; other lengths are padded with
// spaces or truncated so the frame stays well-formed.
func AppendVerbatim(b []byte, format string, s []byte) []byte {
	b = appendPrefixed(b, '=', int64(len(s)+4))
	for i := range 3 {
		if i < len(format) {
			b = append(b, format[i])
		} else {
			b = append(b, ' ')
		}
	}
	b = append(b, ':')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendBigNumber appends the RESP3 big number (s\r\n.
func AppendBigNumber(b []byte, s string) []byte { return appendLine(b, '(', s) }

// AppendCommand appends args as a multibulk request, the form clients send.
func AppendCommand(b []byte, args ...string) []byte {
	b = AppendArrayLen(b, len(args))
	for _, a := range args {
		b = AppendBulkString(b, a)
	}
	return b
}

// AppendCommandBytes is AppendCommand for byte-slice arguments.
func AppendCommandBytes(b []byte, args [][]byte) []byte {
	b = AppendArrayLen(b, len(args))
	for _, a := range args {
		b = AppendBulk(b, a)
	}
	return b
}

// Writer wraps an append buffer with a protocol version so handlers don't care about
// RESP2/3: each method emits the RESP3 type when Proto is 3 and the
// conventional RESP2 fallback (the one Redis itself uses) otherwise.
type Writer struct {
	Buf   []byte
	Proto int // 2 or 3
}

func (w *Writer) resp3() bool { return w.Proto >= 3 }

// Simple appends a simple string.
func (w *Writer) Simple(s string) { w.Buf = AppendSimple(w.Buf, s) }

// Error appends an error; msg includes the code ("ERR ...").
func (w *Writer) Error(msg string) { w.Buf = AppendError(w.Buf, msg) }

// Int appends an integer.
func (w *Writer) Int(n int64) { w.Buf = AppendInt(w.Buf, n) }

// Bulk appends a bulk string.
func (w *Writer) Bulk(p []byte) { w.Buf = AppendBulk(w.Buf, p) }

// BulkString appends a bulk string.
func (w *Writer) BulkString(s string) { w.Buf = AppendBulkString(w.Buf, s) }

// ArrayLen appends an array header.
func (w *Writer) ArrayLen(n int) { w.Buf = AppendArrayLen(w.Buf, n) }

// Null appends "no value": $-1 in RESP2, _ in RESP3.
func (w *Writer) Null() {
	if w.resp3() {
		w.Buf = AppendNull3(w.Buf)
	} else {
		w.Buf = AppendNullBulk(w.Buf)
	}
}

// NullArray appends a missing aggregate: *-1 in RESP2, _ in RESP3.
func (w *Writer) NullArray() {
	if w.resp3() {
		w.Buf = AppendNull3(w.Buf)
	} else {
		w.Buf = AppendNullArray(w.Buf)
	}
}

// MapLen appends a header for n key/value pairs: a flat array of 2n
// elements in RESP2.
func (w *Writer) MapLen(n int) {
	if w.resp3() {
		w.Buf = AppendMapLen(w.Buf, n)
	} else {
		w.Buf = AppendArrayLen(w.Buf, 2*n)
	}
}

// SetLen appends a set header (an array in RESP2).
func (w *Writer) SetLen(n int) {
	if w.resp3() {
		w.Buf = AppendSetLen(w.Buf, n)
	} else {
		w.Buf = AppendArrayLen(w.Buf, n)
	}
}

// PushLen appends an out-of-band push header (an array in RESP2, which is
// how Pub/Sub messages have always looked there).
func (w *Writer) PushLen(n int) {
	if w.resp3() {
		w.Buf = AppendPushLen(w.Buf, n)
	} else {
		w.Buf = AppendArrayLen(w.Buf, n)
	}
}

// Double appends a double: a RESP3 double, or in RESP2 a bulk string with
// the same text (Redis 7.0's "%.17g").
func (w *Writer) Double(f float64) {
	if w.resp3() {
		w.Buf = AppendDouble(w.Buf, f)
		return
	}
	var tmp [32]byte
	w.Buf = AppendBulk(w.Buf, AppendFloatText(tmp[:0], f))
}

// Bool appends a boolean (:1 / :0 in RESP2).
func (w *Writer) Bool(v bool) {
	switch {
	case w.resp3():
		w.Buf = AppendBool(w.Buf, v)
	case v:
		w.Buf = append(w.Buf, One...)
	default:
		w.Buf = append(w.Buf, Zero...)
	}
}

// Verbatim appends human-readable text (INFO, CLIENT LIST, ...): a "txt"
// verbatim string in RESP3, a bulk string in RESP2.
func (w *Writer) Verbatim(s []byte) {
	if w.resp3() {
		w.Buf = AppendVerbatim(w.Buf, "txt", s)
	} else {
		w.Buf = AppendBulk(w.Buf, s)
	}
}

// BigNumber appends a big number (a bulk string in RESP2).
func (w *Writer) BigNumber(s string) {
	if w.resp3() {
		w.Buf = AppendBigNumber(w.Buf, s)
	} else {
		w.Buf = AppendBulkString(w.Buf, s)
	}
}

// OK appends +OK.
func (w *Writer) OK() { w.Buf = append(w.Buf, OK...) }

// Raw appends already-encoded bytes.
func (w *Writer) Raw(p []byte) { w.Buf = append(w.Buf, p...) }

// Len returns the number of bytes buffered.
func (w *Writer) Len() int { return len(w.Buf) }

// Reset empties the buffer, keeping its capacity.
func (w *Writer) Reset() { w.Buf = w.Buf[:0] }
