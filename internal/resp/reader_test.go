package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// oneByteReader hands out one byte per Read, the worst case for a parser
// that must resume in the middle of every token.
type oneByteReader struct{ data []byte }

func (o *oneByteReader) Read(p []byte) (int, error) {
	if len(o.data) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = o.data[0]
	o.data = o.data[1:]
	return 1, nil
}

// chunkReader hands out data in fixed-size pieces.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[n:]
	return n, nil
}

type cmd struct {
	args   []string
	inline bool
}

func (c cmd) String() string { return fmt.Sprintf("%q inline=%v", c.args, c.inline) }

// readAll drains r, copying every command out of the reader's buffer.
func readAll(r *Reader) ([]cmd, error) {
	var out []cmd
	var dst []Command
	for {
		var err error
		dst, err = r.ReadCommands(dst)
		for _, c := range dst {
			var args []string
			for _, a := range c.Args {
				args = append(args, string(a))
			}
			out = append(out, cmd{args, c.Inline})
		}
		if err != nil {
			return out, err
		}
		if len(dst) == 0 {
			return out, errors.New("ReadCommands returned nothing and no error")
		}
	}
}

func ib(args ...string) cmd { return cmd{args, true} }
func mb(args ...string) cmd { return cmd{args, false} }

func sameErr(got, want error) bool {
	if want == nil || got == nil {
		return got == want
	}
	var pg, pw *ProtocolError
	if errors.As(want, &pw) {
		return errors.As(got, &pg) && pg.Msg == pw.Msg
	}
	return errors.Is(got, want)
}

func perr(msg string) error { return &ProtocolError{Msg: msg} }

type readCase struct {
	name string
	in   string
	want []cmd
	err  error
}

var readCases = []readCase{
	{"inline", "PING\r\n", []cmd{ib("PING")}, io.EOF},
	{"inline lf only", "PING\nECHO hi\n", []cmd{ib("PING"), ib("ECHO", "hi")}, io.EOF},
	{"multibulk", "*1\r\n$4\r\nPING\r\n", []cmd{mb("PING")}, io.EOF},
	{"pipelined mix",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nGET k\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n  set  a   b \r\n",
		[]cmd{mb("SET", "k", "v"), ib("GET", "k"), mb("GET", "k"), ib("set", "a", "b")}, io.EOF},
	{"empty inline lines skipped", "\r\n\n   \r\n\t\nPING\n", []cmd{ib("PING")}, io.EOF},
	{"non-positive multibulk skipped", "*0\r\n*-1\r\n*-5\r\nPING\r\n*1\r\n$1\r\nx\r\n", []cmd{ib("PING"), mb("x")}, io.EOF},
	{"binary bulk with CRLF inside", "*3\r\n$4\r\na\r\nb\r\n$0\r\n\r\n$3\r\n\x00\xff\n\r\n", []cmd{mb("a\r\nb", "", "\x00\xff\n")}, io.EOF},
	{"trailing bytes after bulk not checked", "*1\r\n$4\r\nPINGxx", []cmd{mb("PING")}, io.EOF},
	{"byte after CR not checked", "*1\rX$4\r\nPING\r\n", []cmd{mb("PING")}, io.EOF},
	{"dollar line after command is inline", "*1\r\n$4\r\nping\r\n$1\r\n", []cmd{mb("ping"), ib("$1")}, io.EOF},
	{"quoted empty args", "echo \"\" ''\r\n", []cmd{ib("echo", "", "")}, io.EOF},
	{"double quote escapes", `set "a\x41\x4g\n\r\t\b\a\\\"\q" x` + "\r\n", []cmd{ib("set", "aAx4g\n\r\t\b\a\\\"q", "x")}, io.EOF},
	{"single quote escapes", `echo 'it\'s \n' "x y"` + "\n", []cmd{ib("echo", `it's \n`, "x y")}, io.EOF},
	{"quote inside bare token", "echo a\"b c\"\r\n", []cmd{ib("echo", "ab c")}, io.EOF},
	{"vertical tab inside token", "echo \v\fx\vy\r\n", []cmd{ib("echo", "x\vy")}, io.EOF},
	{"quote followed by vtab", "echo \"a\"\vb\r\n", []cmd{ib("echo", "a", "b")}, io.EOF},
	{"high bytes inline", "echo \xff\xfe\r\n", []cmd{ib("echo", "\xff\xfe")}, io.EOF},
	{"clean eof", "", nil, io.EOF},
	{"eof mid multibulk", "*2\r\n$3\r\nGET\r\n", nil, io.ErrUnexpectedEOF},
	{"eof mid inline", "PING", nil, io.ErrUnexpectedEOF},
	{"eof after CR", "*1\r", nil, io.ErrUnexpectedEOF},
	{"NUL stalls inline", "echo a\x00b\r\nPING\r\n", nil, io.ErrUnexpectedEOF},

	{"expected dollar got CR", "*1\r\n\r\n", nil, perr("Protocol error: expected '$', got ' '")},
	{"expected dollar", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", nil, perr("Protocol error: expected '$', got 'f'")},
	{"not followed by bulk", "*1\r\nfoo\r\n", nil, perr("Protocol error: expected '$', got 'f'")},
	{"negative bulk", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n", nil, perr("Protocol error: invalid bulk length")},
	{"null bulk in request", "*1\r\n$-1\r\n", nil, perr("Protocol error: invalid bulk length")},
	{"bulk -0", "*1\r\n$-0\r\n", nil, perr("Protocol error: invalid bulk length")},
	{"bulk leading zero", "*1\r\n$01\r\n", nil, perr("Protocol error: invalid bulk length")},
	{"bulk plus", "*1\r\n$+1\r\n", nil, perr("Protocol error: invalid bulk length")},
	{"bulk empty", "*1\r\n$\r\n", nil, perr("Protocol error: invalid bulk length")},
	{"bulk over max", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", nil, perr("Protocol error: invalid bulk length")},
	{"bulk overflow", "*1\r\n$99999999999999999999\r\n", nil, perr("Protocol error: invalid bulk length")},
	{"bulk non number", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n", nil, perr("Protocol error: invalid bulk length")},
	{"multibulk too large", "*3000000000\r\n", nil, perr("Protocol error: invalid multibulk length")},
	{"multibulk leading zero", "*01\r\n", nil, perr("Protocol error: invalid multibulk length")},
	{"multibulk plus", "*+1\r\n", nil, perr("Protocol error: invalid multibulk length")},
	{"multibulk -0", "*-0\r\n", nil, perr("Protocol error: invalid multibulk length")},
	{"multibulk empty", "*\r\n", nil, perr("Protocol error: invalid multibulk length")},
	{"multibulk junk", "*1x\r\n", nil, perr("Protocol error: invalid multibulk length")},
	{"multibulk 21 digits", "*100000000000000000000\r\n", nil, perr("Protocol error: invalid multibulk length")},
	{"unbalanced triple quotes", "set \"\"\"test-key\"\"\" test-value\r\nping\r\n", nil, perr("Protocol error: unbalanced quotes in request")},
	{"unterminated double quote", "echo \"abc\r\n", nil, perr("Protocol error: unbalanced quotes in request")},
	{"unterminated single quote", "echo 'abc\r\n", nil, perr("Protocol error: unbalanced quotes in request")},
	{"text after double quote", "echo \"a\"b\r\n", nil, perr("Protocol error: unbalanced quotes in request")},
	{"text after single quote", "echo 'a'b\r\n", nil, perr("Protocol error: unbalanced quotes in request")},
	{"trailing backslash in quotes", "echo \"a\\\r\n", nil, perr("Protocol error: unbalanced quotes in request")},
	{"commands before error", "PING\r\n*1\r\n$4\r\nECHO\r\n*x\r\n", []cmd{ib("PING"), mb("ECHO")}, perr("Protocol error: invalid multibulk length")},

	{"too big inline", strings.Repeat("x", 70000), nil, perr("Protocol error: too big inline request")},
	{"inline at limit", strings.Repeat("x", InlineMaxSize) + "\n", []cmd{ib(strings.Repeat("x", InlineMaxSize))}, io.EOF},
	{"inline over limit", strings.Repeat("x", InlineMaxSize+1) + "\n", nil, perr("Protocol error: too big inline request")},
	{"too big mbulk count", "*" + strings.Repeat("1", 70000), nil, perr("Protocol error: too big mbulk count string")},
	{"too big bulk count", "*1\r\n$" + strings.Repeat("1", 70000), nil, perr("Protocol error: too big bulk count string")},
	{"NUL desync inline", "\x00" + strings.Repeat("A\n", 40000), nil, perr("Protocol error: too big inline request")},
	{"NUL desync multibulk", "*\x00\r\n" + strings.Repeat("A\r\n", 30000), nil, perr("Protocol error: too big mbulk count string")},
	{"NUL desync bulk", "*1\r\n$\x00\r\n" + strings.Repeat("A\r\n", 30000), nil, perr("Protocol error: too big bulk count string")},
}

func TestReadCommands(t *testing.T) {
	readers := map[string]func([]byte) io.Reader{
		"whole":   func(b []byte) io.Reader { return bytes.NewReader(b) },
		"onebyte": func(b []byte) io.Reader { return &oneByteReader{b} },
		"chunk7":  func(b []byte) io.Reader { return &chunkReader{b, 7} },
	}
	for _, tc := range readCases {
		for rname, mk := range readers {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				if rname == "onebyte" && len(tc.in) > 20000 && testing.Short() {
					t.Skip("slow in -short")
				}
				got, err := readAll(NewReader(mk([]byte(tc.in)), 0, 0))
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("commands:\n got %v\nwant %v", got, tc.want)
				}
				if !sameErr(err, tc.err) {
					t.Errorf("err = %v, want %v", err, tc.err)
				}
			})
		}
	}
}

func TestWholeBatchInOneCall(t *testing.T) {
	var in []byte
	for i := range 100 {
		in = AppendCommand(in, "SET", fmt.Sprint("k", i), "v")
		in = append(in, "GET k\r\n"...)
	}
	r := NewReader(bytes.NewReader(in), 0, 0)
	cmds, err := r.ReadCommands(nil)
	if err != nil || len(cmds) != 200 {
		t.Fatalf("got %d commands, err %v; want 200 in one batch", len(cmds), err)
	}
	if r.Buffered() != 0 {
		t.Fatalf("Buffered = %d, want 0", r.Buffered())
	}
	if _, err := r.ReadCommands(cmds); err != io.EOF {
		t.Fatalf("err = %v, want EOF", err)
	}
}

func TestErrorReturnedWithCommandsAndSticky(t *testing.T) {
	r := NewReader(strings.NewReader("PING\r\nPING\r\n*x\r\nPING\r\n"), 0, 0)
	cmds, err := r.ReadCommands(nil)
	if len(cmds) != 2 || !sameErr(err, perr("Protocol error: invalid multibulk length")) {
		t.Fatalf("got %d commands, %v", len(cmds), err)
	}
	cmds, err2 := r.ReadCommands(cmds)
	if len(cmds) != 0 || err2 != err {
		t.Fatalf("second call: %d commands, %v; want the same error again", len(cmds), err2)
	}
	if got := "-ERR " + err.Error(); got != "-ERR Protocol error: invalid multibulk length" {
		t.Fatal(got)
	}
}

func TestPartialThenComplete(t *testing.T) {
	pr, pw := io.Pipe()
	r := NewReader(pr, 0, 0)
	go func() {
		pw.Write([]byte("*2\r\n$3\r\nGET\r\n$3\r\nfo"))
		pw.Write([]byte("o\r\n*1\r\n$4\r\nPI"))
		pw.Write([]byte("NG\r\n"))
		pw.Close()
	}()
	got, err := readAll(r)
	if fmt.Sprint(got) != fmt.Sprint([]cmd{mb("GET", "foo"), mb("PING")}) || err != io.EOF {
		t.Fatalf("got %v %v", got, err)
	}
}

func TestArgsCapacityClipped(t *testing.T) {
	r := NewReader(strings.NewReader("*2\r\n$1\r\na\r\n$1\r\nb\r\nx y\r\n"), 0, 0)
	cmds, _ := r.ReadCommands(nil)
	_ = append(cmds[0].Args[0], 'Z')
	_ = append(cmds[0].Args, []byte("extra"))
	if string(cmds[0].Args[1]) != "b" || string(cmds[1].Args[0]) != "x" {
		t.Fatalf("append through an argument clobbered its neighbour: %q %q", cmds[0].Args, cmds[1].Args)
	}
}

func TestAuthRequired(t *testing.T) {
	for _, tc := range []struct {
		in  string
		err string
	}{
		{"*11\r\n", "Protocol error: unauthenticated multibulk length"},
		{"*10\r\n$16385\r\n", "Protocol error: unauthenticated bulk length"},
	} {
		r := NewReader(strings.NewReader(tc.in), 0, 0)
		r.SetAuthRequired(true)
		if _, err := readAll(r); !sameErr(err, perr(tc.err)) {
			t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
		}
	}
	// Limits apply at the boundary values Redis uses.
	in := AppendCommand(nil, "SET", "k", strings.Repeat("v", 16384))
	r := NewReader(bytes.NewReader(in), 0, 0)
	r.SetAuthRequired(true)
	if _, err := readAll(r); err != io.EOF {
		t.Fatalf("16384-byte bulk while unauthenticated: %v", err)
	}

	// A pipelined AUTH must take effect before the next header is judged.
	in = AppendCommand(nil, "AUTH", "pw")
	in = AppendCommand(in, "MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
	r = NewReader(bytes.NewReader(in), 0, 0)
	r.SetAuthRequired(true)
	cmds, err := r.ReadCommands(nil)
	if err != nil || len(cmds) != 1 || string(cmds[0].Args[0]) != "AUTH" {
		t.Fatalf("got %d commands, %v; want only AUTH", len(cmds), err)
	}
	r.SetAuthRequired(false)
	cmds, err = r.ReadCommands(cmds)
	if err != nil || len(cmds) != 1 || len(cmds[0].Args) != 11 {
		t.Fatalf("after auth: %d commands, %v", len(cmds), err)
	}
}

func TestSetLimits(t *testing.T) {
	in := AppendCommand(nil, "SET", "k", "0123456789A")
	r := NewReader(bytes.NewReader(in), 10, 0)
	if _, err := readAll(r); !sameErr(err, perr("Protocol error: invalid bulk length")) {
		t.Fatalf("err %v", err)
	}
	r = NewReader(bytes.NewReader(in), 10, 0)
	r.SetLimits(11, 0)
	if got, err := readAll(r); err != io.EOF || len(got) != 1 {
		t.Fatalf("after SetLimits: %v %v", got, err)
	}
}

func TestQueryBufferLimit(t *testing.T) {
	// A single bulk larger than the query buffer limit is refused as soon
	// as its header is seen, without allocating for it.
	r := NewReader(strings.NewReader("*1\r\n$2000000\r\n"), 4<<20, 1<<20)
	if _, err := readAll(r); err != ErrQueryBufferLimit {
		t.Fatalf("err %v, want ErrQueryBufferLimit", err)
	}
	// Many small arguments add up too.
	args := make([]string, 20000)
	for i := range args {
		args[i] = "0123456789"
	}
	r = NewReader(bytes.NewReader(AppendCommand(nil, args...)), 0, 64<<10)
	if _, err := readAll(r); err != ErrQueryBufferLimit {
		t.Fatalf("err %v, want ErrQueryBufferLimit", err)
	}
	var pe *ProtocolError
	if errors.As(ErrQueryBufferLimit, &pe) {
		t.Fatal("ErrQueryBufferLimit must not be a ProtocolError: Redis closes without replying")
	}
}

// streamReader produces a huge request without holding it in memory.
type streamReader struct {
	parts []io.Reader
}

func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.parts) > 0 {
		n, err := s.parts[0].Read(p)
		if err == io.EOF {
			s.parts = s.parts[1:]
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.EOF
}

type patternReader struct{ off, n int }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	m := min(len(b), p.n-p.off)
	for i := range m {
		b[i] = byte((p.off + i) % 251)
	}
	p.off += m
	return m, nil
}

func TestHugeBulk(t *testing.T) {
	size := 300 << 20
	if testing.Short() {
		size = 3 << 20
	}
	src := &streamReader{parts: []io.Reader{
		strings.NewReader(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n", size)),
		&patternReader{n: size},
		strings.NewReader("\r\nPING\r\n"),
	}}
	r := NewReader(src, 0, 0)
	cmds, err := r.ReadCommands(nil)
	if err != nil || len(cmds) == 0 || len(cmds[0].Args) != 3 {
		t.Fatalf("%d commands, %v", len(cmds), err)
	}
	pingSeen := len(cmds) == 2 // the trailing PING may share the batch
	v := cmds[0].Args[2]
	if len(v) != size {
		t.Fatalf("len %d, want %d", len(v), size)
	}
	for _, i := range []int{0, 1, 250, 251, size / 2, size - 1} {
		if v[i] != byte(i%251) {
			t.Fatalf("byte %d = %d, want %d", i, v[i], byte(i%251))
		}
	}
	if len(r.buf) > size+size/2+ioBufSize {
		t.Errorf("buffer %d bytes for a %d byte value: over-allocated", len(r.buf), size)
	}
	if !pingSeen {
		cmds, err = r.ReadCommands(cmds)
		if err != nil || len(cmds) != 1 || string(cmds[0].Args[0]) != "PING" {
			t.Fatalf("after big value: %v %v", cmds, err)
		}
	}
	if _, err := r.ReadCommands(cmds); err != io.EOF {
		t.Fatalf("err %v, want EOF", err)
	}
	if len(r.buf) != ioBufSize {
		t.Errorf("buffer not shrunk after the large command drained: %d bytes", len(r.buf))
	}
}

func TestManyArgsOneByOne(t *testing.T) {
	// A command with many arguments arriving in small pieces must parse in
	// linear time (resumable state), which the race-free 1-byte path shows.
	args := make([]string, 50000)
	for i := range args {
		args[i] = fmt.Sprint(i)
	}
	in := AppendCommand(nil, args...)
	got, err := readAll(NewReader(&chunkReader{in, 3}, 0, 0))
	if err != io.EOF || len(got) != 1 || len(got[0].args) != len(args) || got[0].args[49999] != "49999" {
		t.Fatalf("err %v, %d commands", err, len(got))
	}
}

type errAfterReader struct {
	data []byte
	err  error
}

func (e *errAfterReader) Read(p []byte) (int, error) {
	n := copy(p, e.data)
	e.data = e.data[n:]
	if len(e.data) == 0 {
		return n, e.err
	}
	return n, nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { return 0, nil }

func TestReadErrors(t *testing.T) {
	boom := errors.New("boom")
	// Data that arrives together with an error is still parsed first.
	got, err := readAll(NewReader(&errAfterReader{[]byte("PING\r\nPING\r\n"), boom}, 0, 0))
	if len(got) != 2 || err != boom {
		t.Fatalf("got %v %v", got, err)
	}
	got, err = readAll(NewReader(&errAfterReader{[]byte("PING\r\n"), io.EOF}, 0, 0))
	if len(got) != 1 || err != io.EOF {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := NewReader(zeroReader{}, 0, 0).ReadCommands(nil); err != io.ErrNoProgress {
		t.Fatalf("err %v, want io.ErrNoProgress", err)
	}
}

func TestReset(t *testing.T) {
	r := NewReader(strings.NewReader("*x\r\n"), 0, 0)
	if _, err := r.ReadCommands(nil); err == nil {
		t.Fatal("want error")
	}
	r.Reset(strings.NewReader("PING\r\n"))
	if got, err := readAll(r); len(got) != 1 || err != io.EOF {
		t.Fatalf("after Reset: %v %v", got, err)
	}
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in string
		n  int64
		ok bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"-1", -1, true}, {"1234", 1234, true},
		{"9223372036854775807", 1<<63 - 1, true}, {"-9223372036854775808", -1 << 63, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false},
		{"", 0, false}, {"-", 0, false}, {"-0", 0, false}, {"00", 0, false}, {"01", 0, false},
		{"+1", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1a", 0, false},
		{"18446744073709551616", 0, false}, {"100000000000000000000", 0, false},
	} {
		n, ok := parseInt([]byte(tc.in))
		if n != tc.n || ok != tc.ok {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.ok)
		}
	}
}

// replayReader returns the same batch on every Read, like a client that
// keeps sending the same pipeline.
type replayReader struct{ batch []byte }

func (rr *replayReader) Read(p []byte) (int, error) { return copy(p, rr.batch), nil }

func getSetBatch() []byte {
	var b []byte
	for i := range 50 {
		b = AppendCommand(b, "SET", fmt.Sprintf("key:%06d", i), "value-value-value")
		b = AppendCommand(b, "GET", fmt.Sprintf("key:%06d", i))
	}
	b = append(b, "GET key:000001\r\n"...)
	return b
}

func TestReadCommandsZeroAlloc(t *testing.T) {
	batch := getSetBatch()
	r := NewReader(&replayReader{batch}, 0, 0)
	var cmds []Command
	var err error
	for range 3 { // warm up the buffer, args and dst
		cmds, err = r.ReadCommands(cmds)
	}
	if err != nil || len(cmds) != 101 {
		t.Fatalf("%d commands, %v", len(cmds), err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		cmds, err = r.ReadCommands(cmds)
		if err != nil || len(cmds) != 101 {
			t.Fatalf("%d commands, %v", len(cmds), err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per pipelined batch, want 0", allocs)
	}
}
