package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func readReply(in string) (Value, error) {
	return NewReplyReader(bufio.NewReader(strings.NewReader(in))).Read()
}

func TestReplyReaderString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+OK\r\n", "OK"},
		{"-ERR unknown command\r\n", "(error) ERR unknown command"},
		{"!22\r\nSYNTAX invalid\r\nsyntax\r\n", "(error) SYNTAX invalid\r\nsyntax"},
		{":-12\r\n", "(integer) -12"},
		{"$5\r\nhe\"l\n\r\n", `"he\"l\n"`},
		{"$4\r\n\x00\xff\t\\\r\n", `"\x00\xff\t\\"`},
		{"$0\r\n\r\n", `""`},
		{"$-1\r\n", "(nil)"},
		{"*-1\r\n", "(nil)"},
		{"_\r\n", "(nil)"},
		{"*0\r\n", "(empty array)"},
		{"%0\r\n", "(empty hash)"},
		{"~0\r\n", "(empty set)"},
		{",1.5\r\n", "(double) 1.5"},
		{",inf\r\n", "(double) inf"},
		{"#t\r\n", "(true)"},
		{"#f\r\n", "(false)"},
		{"(12345678901234567890\r\n", "(big number) 12345678901234567890"},
		{"=15\r\ntxt:Some string\r\n", "Some string"},
		{"*2\r\n$1\r\na\r\n:1\r\n", "1) \"a\"\n2) (integer) 1"},
		{"*2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "1) 1) \"a\"\n   2) \"b\"\n2) \"c\""},
		{"%2\r\n$1\r\nk\r\n:1\r\n$2\r\nk2\r\n*1\r\n+x\r\n", "1# \"k\" => (integer) 1\n2# \"k2\" => 1) x"},
		{"~2\r\n+a\r\n+b\r\n", "1~ a\n2~ b"},
		{">2\r\n+message\r\n+x\r\n", "1) message\n2) x"},
		{"|1\r\n+ttl\r\n:3600\r\n$3\r\nval\r\n", `"val"`},
		{"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", "1) (integer) 1\n2) (integer) 2"},
		{"*10\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n:7\r\n:8\r\n:9\r\n*1\r\n:10\r\n",
			" 1) (integer) 1\n 2) (integer) 2\n 3) (integer) 3\n 4) (integer) 4\n 5) (integer) 5\n 6) (integer) 6\n 7) (integer) 7\n 8) (integer) 8\n 9) (integer) 9\n10) 1) (integer) 10"},
	} {
		v, err := readReply(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := v.String(); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.in, got, tc.want)
		}
		// Re-encoding must parse back to the same rendering.
		v2, err := readReply(string(AppendValue(nil, v)))
		if err != nil || v2.String() != v.String() {
			t.Errorf("%q: round trip gave %q, %v", tc.in, v2.String(), err)
		}
	}
}

func TestReplyReaderFields(t *testing.T) {
	v, err := readReply("=8\r\nmkd:# hi\r\n")
	if err != nil || v.Type != '=' || v.Format != "mkd" || string(v.Str) != "# hi" {
		t.Fatalf("%+v %v", v, err)
	}
	if string(AppendValue(nil, v)) != "=8\r\nmkd:# hi\r\n" {
		t.Fatalf("re-encoded %q", AppendValue(nil, v))
	}
	v, _ = readReply("-WRONGTYPE x\r\n")
	if v.Err() == nil || v.Err().Error() != "WRONGTYPE x" {
		t.Fatalf("Err() = %v", v.Err())
	}
	if (Value{Type: '+'}).Err() != nil {
		t.Fatal("Err() on a status reply")
	}
	v, _ = readReply("$18\r\n1.1000000000000001\r\n")
	if f, err := v.Float(); err != nil || f != 1.1 {
		t.Fatalf("Float() = %v %v", f, err)
	}
	v, _ = readReply(",-inf\r\n")
	if f, err := v.Float(); err != nil || f > -1e308 {
		t.Fatalf("Float() = %v %v", f, err)
	}
	v, _ = readReply("#t\r\n")
	if v.Int != 1 {
		t.Fatal("true is not Int 1")
	}
}

func TestReplyReaderSequence(t *testing.T) {
	rr := NewReplyReader(bufio.NewReader(strings.NewReader("+OK\r\n:1\r\n")))
	for _, want := range []string{"OK", "(integer) 1"} {
		v, err := rr.Read()
		if err != nil || v.String() != want {
			t.Fatalf("got %v %v, want %s", v, err, want)
		}
	}
	if _, err := rr.Read(); err != io.EOF {
		t.Fatalf("err %v, want EOF", err)
	}
}

func TestReplyReaderErrors(t *testing.T) {
	for _, tc := range []struct {
		in  string
		eof bool // want io.ErrUnexpectedEOF rather than a ProtocolError
	}{
		{"?x\r\n", false},
		{"+OK\n", false},
		{"+O\rK\r\n", false},
		{"\r\n", false},
		{":abc\r\n", false},
		{"$-2\r\n", false},
		{"$3\r\nabcd\r\n", false},
		{"*-2\r\n", false},
		{"%-1\r\n", false},
		{"#x\r\n", false},
		{"_x\r\n", false},
		{"=2\r\nab\r\n", false},
		{"$5\r\nab", true},
		{"*2\r\n:1\r\n", true},
		{"+OK", true},
		{strings.Repeat("*1\r\n", maxReplyDepth+1) + ":1\r\n", false},
	} {
		_, err := readReply(tc.in)
		var pe *ProtocolError
		if tc.eof && err != io.ErrUnexpectedEOF || !tc.eof && !errors.As(err, &pe) {
			t.Errorf("%q: err %v", tc.in, err)
		}
	}
	// The bulk length is not trusted: memory follows the data that arrives.
	rr := NewReplyReader(bufio.NewReader(strings.NewReader("$400000000\r\nabc")))
	if _, err := rr.Read(); err != io.ErrUnexpectedEOF {
		t.Fatalf("err %v", err)
	}
	rr = NewReplyReader(bufio.NewReader(strings.NewReader("$11\r\nhello world\r\n")))
	rr.MaxBulk = 10
	if _, err := rr.Read(); err == nil {
		t.Fatal("bulk over MaxBulk accepted")
	}
}

func TestReplyReaderLargeValues(t *testing.T) {
	big := bytes.Repeat([]byte("x\r\n"), 1<<20)
	in := AppendBulk(nil, big)
	in = AppendSimple(in, strings.Repeat("s", 10000)) // longer than bufio's buffer
	rr := NewReplyReader(bufio.NewReaderSize(bytes.NewReader(in), 16))
	v, err := rr.Read()
	if err != nil || !bytes.Equal(v.Str, big) {
		t.Fatalf("big bulk: len %d, %v", len(v.Str), err)
	}
	v, err = rr.Read()
	if err != nil || len(v.Str) != 10000 {
		t.Fatalf("long line: len %d, %v", len(v.Str), err)
	}
}
