package resp

import (
	"math"
	"testing"
)

func TestAppendFuncs(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{string(AppendSimple(nil, "OK")), "+OK\r\n"},
		{string(AppendSimple(nil, "a\r\nb")), "+a  b\r\n"},
		{string(AppendError(nil, "ERR foo")), "-ERR foo\r\n"},
		{string(AppendError(nil, "WRONGTYPE bad\nthing\r")), "-WRONGTYPE bad thing \r\n"},
		{string(AppendError(nil, "-ERR x")), "-ERR x\r\n"},
		{string(AppendInt(nil, 0)), ":0\r\n"},
		{string(AppendInt(nil, -1<<63)), ":-9223372036854775808\r\n"},
		{string(AppendBulk(nil, []byte("a\r\nb"))), "$4\r\na\r\nb\r\n"},
		{string(AppendBulk(nil, nil)), "$0\r\n\r\n"},
		{string(AppendBulkString(nil, "hello")), "$5\r\nhello\r\n"},
		{string(AppendArrayLen(nil, 3)), "*3\r\n"},
		{string(AppendNullBulk(nil)), "$-1\r\n"},
		{string(AppendNullArray(nil)), "*-1\r\n"},
		{string(AppendNull3(nil)), "_\r\n"},
		{string(AppendMapLen(nil, 2)), "%2\r\n"},
		{string(AppendSetLen(nil, 2)), "~2\r\n"},
		{string(AppendPushLen(nil, 3)), ">3\r\n"},
		{string(AppendAttrLen(nil, 1)), "|1\r\n"},
		{string(AppendBool(nil, true)), "#t\r\n"},
		{string(AppendBool(nil, false)), "#f\r\n"},
		{string(AppendVerbatim(nil, "txt", []byte("Some string"))), "=15\r\ntxt:Some string\r\n"},
		{string(AppendVerbatim(nil, "m", []byte("x"))), "=5\r\nm  :x\r\n"},
		{string(AppendBigNumber(nil, "3492890328409238509324850943850943825024385")), "(3492890328409238509324850943850943825024385\r\n"},
		{string(AppendCommand(nil, "GET", "k")), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"},
		{string(AppendCommandBytes(nil, [][]byte{[]byte("PING")})), "*1\r\n$4\r\nPING\r\n"},
		{string(AppendCommand(nil)), "*0\r\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// The expected strings were captured from redis-server 7.0.15 (ZSCORE in
// RESP2 and RESP3).
func TestDoubleFormat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{1.1, "1.1000000000000001"},
		{1e300, "1.0000000000000001e+300"},
		{1e-7, "9.9999999999999995e-08"},
		{100, "100"},
		{1.5, "1.5"},
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{-2.5, "-2.5"},
		{123456789012345678, "1.2345678901234568e+17"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
		{math.Copysign(math.NaN(), -1), "-nan"},
	} {
		if got := string(AppendFloatText(nil, tc.f)); got != tc.want {
			t.Errorf("AppendFloatText(%v) = %q, want %q", tc.f, got, tc.want)
		}
		if got, want := string(AppendDouble(nil, tc.f)), ","+tc.want+"\r\n"; got != want {
			t.Errorf("AppendDouble(%v) = %q, want %q", tc.f, got, want)
		}
	}
}

func TestWriterProtocols(t *testing.T) {
	type step struct {
		name   string
		do     func(w *Writer)
		r2, r3 string
	}
	for _, s := range []step{
		{"Simple", func(w *Writer) { w.Simple("PONG") }, "+PONG\r\n", "+PONG\r\n"},
		{"Error", func(w *Writer) { w.Error("ERR x") }, "-ERR x\r\n", "-ERR x\r\n"},
		{"Int", func(w *Writer) { w.Int(42) }, ":42\r\n", ":42\r\n"},
		{"Bulk", func(w *Writer) { w.Bulk([]byte("v")) }, "$1\r\nv\r\n", "$1\r\nv\r\n"},
		{"BulkString", func(w *Writer) { w.BulkString("") }, "$0\r\n\r\n", "$0\r\n\r\n"},
		{"ArrayLen", func(w *Writer) { w.ArrayLen(2) }, "*2\r\n", "*2\r\n"},
		{"Null", func(w *Writer) { w.Null() }, "$-1\r\n", "_\r\n"},
		{"NullArray", func(w *Writer) { w.NullArray() }, "*-1\r\n", "_\r\n"},
		{"MapLen", func(w *Writer) { w.MapLen(2) }, "*4\r\n", "%2\r\n"},
		{"SetLen", func(w *Writer) { w.SetLen(2) }, "*2\r\n", "~2\r\n"},
		{"PushLen", func(w *Writer) { w.PushLen(3) }, "*3\r\n", ">3\r\n"},
		{"Double", func(w *Writer) { w.Double(1.1) }, "$18\r\n1.1000000000000001\r\n", ",1.1000000000000001\r\n"},
		{"DoubleInf", func(w *Writer) { w.Double(math.Inf(-1)) }, "$4\r\n-inf\r\n", ",-inf\r\n"},
		{"Bool", func(w *Writer) { w.Bool(true); w.Bool(false) }, ":1\r\n:0\r\n", "#t\r\n#f\r\n"},
		{"Verbatim", func(w *Writer) { w.Verbatim([]byte("a\r\nb")) }, "$4\r\na\r\nb\r\n", "=8\r\ntxt:a\r\nb\r\n"},
		{"BigNumber", func(w *Writer) { w.BigNumber("12") }, "$2\r\n12\r\n", "(12\r\n"},
		{"OK", func(w *Writer) { w.OK() }, "+OK\r\n", "+OK\r\n"},
		{"Raw", func(w *Writer) { w.Raw(QUEUED) }, "+QUEUED\r\n", "+QUEUED\r\n"},
	} {
		for _, proto := range []int{2, 3} {
			w := &Writer{Proto: proto}
			s.do(w)
			want := s.r2
			if proto == 3 {
				want = s.r3
			}
			if string(w.Buf) != want || w.Len() != len(want) {
				t.Errorf("%s RESP%d: got %q, want %q", s.name, proto, w.Buf, want)
			}
			w.Reset()
			if w.Len() != 0 {
				t.Errorf("Reset left %d bytes", w.Len())
			}
		}
	}
}

func TestSharedReplies(t *testing.T) {
	for got, want := range map[string]string{
		string(OK): "+OK\r\n", string(PONG): "+PONG\r\n", string(QUEUED): "+QUEUED\r\n",
		string(EmptyArray): "*0\r\n", string(NullBulk): "$-1\r\n", string(NullArray): "*-1\r\n",
		string(Zero): ":0\r\n", string(One): ":1\r\n", string(MinusOne): ":-1\r\n",
		string(EmptyBulk): "$0\r\n\r\n", string(Null3): "_\r\n",
	} {
		if got != want {
			t.Errorf("got %q want %q", got, want)
		}
	}
}

func TestWriterZeroAlloc(t *testing.T) {
	w := &Writer{Buf: make([]byte, 0, 4096), Proto: 2}
	val := []byte("value-value-value")
	allocs := testing.AllocsPerRun(100, func() {
		w.Reset()
		w.ArrayLen(5)
		w.Bulk(val)
		w.Int(12345)
		w.Double(3.25)
		w.Null()
		w.Error("ERR nope")
		w.Proto = 5 - w.Proto
	})
	if allocs != 0 {
		t.Fatalf("%v allocations, want 0", allocs)
	}
}
