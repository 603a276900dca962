package resp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"testing"
)

var readerSeeds = []string{
	"PING\r\n",
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nGET k\r\n",
	"*2\r\n$4\r\na\r\nb\r\n$0\r\n\r\n",
	"echo \"a\\x41\\n\" 'b\\'c'\r\n\n\r\n",
	"set \"\"\"a\"\"\" b\r\n",
	"*0\r\n*-1\r\n*1\r\n$-1\r\n",
	"*1\r\n\r\n",
	"*1\rX$4\r\nPINGxx",
	"echo a\x00b\r\n",
	"*01\r\n",
	"*1\r\n$4\r\nping\r\n$1\r\n",
}

// FuzzReader checks that the request parser never panics, that its result
// does not depend on how the input is split into reads, and that every
// parsed command survives re-encoding as a multibulk request.
func FuzzReader(f *testing.F) {
	for _, s := range readerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxBulk = 1 << 20
		whole, werr := readAll(NewReader(bytes.NewReader(data), maxBulk, 0))
		split, serr := readAll(NewReader(&oneByteReader{data}, maxBulk, 0))
		if fmt.Sprint(whole) != fmt.Sprint(split) || !sameErr(serr, werr) {
			t.Fatalf("read splitting changed the result:\nwhole %v %v\n split %v %v", whole, werr, split, serr)
		}
		if pe, ok := werr.(*ProtocolError); ok && bytes.ContainsAny([]byte(pe.Msg), "\r\n") {
			t.Fatalf("error text %q would break the reply framing", pe.Msg)
		}
		for _, c := range whole {
			if len(c.args) == 0 {
				t.Fatal("command without arguments returned")
			}
			args := make([][]byte, len(c.args))
			for i, a := range c.args {
				args[i] = []byte(a)
			}
			enc := AppendCommandBytes(nil, args)
			again, err := readAll(NewReader(bytes.NewReader(enc), maxBulk, 0))
			if err != io.EOF || len(again) != 1 || fmt.Sprint(again[0].args) != fmt.Sprint(c.args) || again[0].inline {
				t.Fatalf("re-encoded %v parsed as %v, %v", c, again, err)
			}
		}
	})
}

var replySeeds = []string{
	"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*-1\r\n",
	"*2\r\n$1\r\na\r\n*1\r\n:2\r\n", "%1\r\n+k\r\n,1.5\r\n", "~1\r\n#t\r\n",
	">2\r\n+message\r\n_\r\n", "=8\r\ntxt:abcd\r\n", "(123\r\n", "|1\r\n+a\r\n+b\r\n:1\r\n",
	"!3\r\na\nb\r\n",
}

// FuzzReplyReader checks that the reply parser never panics and that every
// value it accepts re-encodes to bytes that parse back to the same value.
func FuzzReplyReader(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rr := NewReplyReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			v, err := rr.Read()
			if err != nil {
				return
			}
			enc := AppendValue(nil, v)
			v2, err := NewReplyReader(bufio.NewReader(bytes.NewReader(enc))).Read()
			if err != nil {
				t.Fatalf("re-encoded %q does not parse: %v", enc, err)
			}
			if enc2 := AppendValue(nil, v2); !bytes.Equal(enc, enc2) || v.String() != v2.String() {
				t.Fatalf("round trip changed the value:\n%q\n%q", enc, enc2)
			}
		}
	})
}
