package server

// Libraries Redis exposes to scripts besides Lua's own: cjson, bit, struct,
// and Redis's deterministic math.random (rand48).

import (
	"encoding/binary"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// rand48 is Redis's redisLrand48 (the drand48 LCG), so math.random gives
// the same sequence as Redis for the same seed.
type rand48 struct{ x uint64 }

func (r *rand48) seed(v int32) {
	r.x = uint64(uint16(uint32(v)>>16))<<32 | uint64(uint16(v))<<16 | 0x330E
}

func (r *rand48) next() int32 {
	r.x = (0x5DEECE66D*r.x + 0xB) & (1<<48 - 1)
	return int32(r.x >> 17)
}

func (e *scriptEngine) mathRandom(L *lua.LState) int {
	const max = 2147483647
	r := float64(int64(e.rand.next())%max) / max
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r))
	case 1:
		u := L.CheckInt(1)
		if u < 1 {
			L.RaiseError("bad argument #1 to 'random' (interval is empty)")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u)) + 1))
	case 2:
		l, u := L.CheckInt(1), L.CheckInt(2)
		if l > u {
			L.RaiseError("bad argument #2 to 'random' (interval is empty)")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u-l+1)) + float64(l)))
	default:
		L.RaiseError("wrong number of arguments")
	}
	return 1
}

func (e *scriptEngine) mathRandomseed(L *lua.LState) int {
	e.rand.seed(int32(L.CheckInt(1)))
	return 0
}

// ---------------------------------------------------------------------------
// cjson

var cjsonNull *lua.LUserData

func openCjson(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	cjsonNull = L.NewUserData()
	t.RawSetString("null", cjsonNull)
	t.RawSetString("_NAME", lua.LString("cjson"))
	t.RawSetString("_VERSION", lua.LString("2.1.0"))
	t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() != 1 {
			L.RaiseError("bad argument #1 to 'encode' (expected 1 argument)")
		}
		var b strings.Builder
		if msg := cjsonEncode(&b, L.Get(1), 0); msg != "" {
			L.RaiseError("%s", msg)
		}
		L.Push(lua.LString(b.String()))
		return 1
	}))
	t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() != 1 {
			L.RaiseError("bad argument #1 to 'decode' (expected 1 argument)")
		}
		d := &jsonDecoder{L: L, s: L.CheckString(1)}
		v := d.value(0)
		if d.err == "" {
			d.skipWS()
			if d.pos < len(d.s) {
				d.fail("the end", d.tokenName(), d.pos)
			}
		}
		if d.err != "" {
			L.RaiseError("%s", d.err)
		}
		L.Push(v)
		return 1
	}))
	for _, name := range []string{"encode_keep_buffer", "encode_max_depth", "decode_max_depth", "encode_number_precision", "encode_sparse_array", "encode_invalid_numbers", "decode_invalid_numbers"} {
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int { return 0 }))
	}
	t.RawSetString("new", L.NewFunction(func(L *lua.LState) int { L.Push(t); return 1 }))
	return t
}

func cjsonString(b *strings.Builder, s string) {
	const hexd = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 32 || c == 127 {
				b.WriteString(`\u00`)
				b.WriteByte(hexd[c>>4])
				b.WriteByte(hexd[c&15])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

func cjsonNumber(f float64) (string, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e14 {
		return strconv.FormatInt(int64(f), 10), true
	}
	return strconv.FormatFloat(f, 'g', 14, 64), true
}

func cjsonEncode(b *strings.Builder, v lua.LValue, depth int) string {
	switch x := v.(type) {
	case lua.LString:
		cjsonString(b, string(x))
	case lua.LNumber:
		s, ok := cjsonNumber(float64(x))
		if !ok {
			return "Cannot serialise number: must not be NaN or Inf"
		}
		b.WriteString(s)
	case lua.LBool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case *lua.LNilType:
		b.WriteString("null")
	case *lua.LUserData:
		if x == cjsonNull {
			b.WriteString("null")
			return ""
		}
		return "Cannot serialise userdata: type not supported"
	case *lua.LTable:
		depth++
		if depth > 1000 {
			return "Cannot serialise, excessive nesting (" + strconv.Itoa(depth) + ")"
		}
		max, items, isArray := 0, 0, true
		for k, _ := x.Next(lua.LNil); k != lua.LNil; k, _ = x.Next(k) {
			n, ok := k.(lua.LNumber)
			if !ok || float64(n) != math.Floor(float64(n)) || n < 1 {
				isArray = false
				break
			}
			if int(n) > max {
				max = int(n)
			}
			items++
		}
		if isArray && max > 10 && max > items*2 {
			return "Cannot serialise table: excessively sparse array"
		}
		if isArray && max > 0 {
			b.WriteByte('[')
			for i := 1; i <= max; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				if msg := cjsonEncode(b, x.RawGetInt(i), depth); msg != "" {
					return msg
				}
			}
			b.WriteByte(']')
			return ""
		}
		b.WriteByte('{')
		first := true
		for k, val := x.Next(lua.LNil); k != lua.LNil; k, val = x.Next(k) {
			if !first {
				b.WriteByte(',')
			}
			first = false
			switch kk := k.(type) {
			case lua.LString:
				cjsonString(b, string(kk))
			case lua.LNumber:
				s, ok := cjsonNumber(float64(kk))
				if !ok {
					return "Cannot serialise number: must not be NaN or Inf"
				}
				b.WriteString(`"` + s + `"`)
			default:
				return "Cannot serialise table: table key must be a number or string"
			}
			b.WriteByte(':')
			if msg := cjsonEncode(b, val, depth); msg != "" {
				return msg
			}
		}
		b.WriteByte('}')
	default:
		return "Cannot serialise " + v.Type().String() + ": type not supported"
	}
	return ""
}

type jsonDecoder struct {
	L   *lua.LState
	s   string
	pos int
	err string
}

func (d *jsonDecoder) skipWS() {
	for d.pos < len(d.s) && strings.IndexByte(" \t\r\n", d.s[d.pos]) >= 0 {
		d.pos++
	}
}

func (d *jsonDecoder) fail(expected, found string, at int) {
	if d.err == "" {
		d.err = "Expected " + expected + " but found " + found + " at character " + strconv.Itoa(at+1)
	}
}

// tokenName names the token at pos like cjson's json_token_type_name.
func (d *jsonDecoder) tokenName() string {
	if d.pos >= len(d.s) {
		return "T_END"
	}
	switch c := d.s[d.pos]; {
	case c == '{':
		return "T_OBJ_BEGIN"
	case c == '}':
		return "T_OBJ_END"
	case c == '[':
		return "T_ARR_BEGIN"
	case c == ']':
		return "T_ARR_END"
	case c == ':':
		return "T_COLON"
	case c == ',':
		return "T_COMMA"
	case c == '"':
		return "T_STRING"
	case c == '-' || (c >= '0' && c <= '9'):
		return "T_NUMBER"
	case strings.HasPrefix(d.s[d.pos:], "true"), strings.HasPrefix(d.s[d.pos:], "false"):
		return "T_BOOLEAN"
	case strings.HasPrefix(d.s[d.pos:], "null"):
		return "T_NULL"
	}
	return "invalid token"
}

func (d *jsonDecoder) value(depth int) lua.LValue {
	d.skipWS()
	if d.err != "" {
		return lua.LNil
	}
	if d.pos >= len(d.s) {
		d.fail("value", "T_END", d.pos)
		return lua.LNil
	}
	c := d.s[d.pos]
	switch {
	case c == '{' || c == '[':
		depth++
		if depth > 1000 {
			d.err = "Found too many nested data structures (" + strconv.Itoa(depth) + ") at character " + strconv.Itoa(d.pos+1)
			return lua.LNil
		}
		d.pos++
		t := d.L.NewTable()
		if c == '[' {
			d.skipWS()
			if d.pos < len(d.s) && d.s[d.pos] == ']' {
				d.pos++
				return t
			}
			for i := 1; ; i++ {
				v := d.value(depth)
				if d.err != "" {
					return lua.LNil
				}
				t.RawSetInt(i, v)
				d.skipWS()
				if d.pos < len(d.s) && d.s[d.pos] == ',' {
					d.pos++
					continue
				}
				if d.pos < len(d.s) && d.s[d.pos] == ']' {
					d.pos++
					return t
				}
				d.fail("comma or array end", d.tokenName(), d.pos)
				return lua.LNil
			}
		}
		d.skipWS()
		if d.pos < len(d.s) && d.s[d.pos] == '}' {
			d.pos++
			return t
		}
		for {
			d.skipWS()
			if d.pos >= len(d.s) || d.s[d.pos] != '"' {
				d.fail("object key string", d.tokenName(), d.pos)
				return lua.LNil
			}
			k := d.str()
			if d.err != "" {
				return lua.LNil
			}
			d.skipWS()
			if d.pos >= len(d.s) || d.s[d.pos] != ':' {
				d.fail("colon", d.tokenName(), d.pos)
				return lua.LNil
			}
			d.pos++
			v := d.value(depth)
			if d.err != "" {
				return lua.LNil
			}
			t.RawSetString(k, v)
			d.skipWS()
			if d.pos < len(d.s) && d.s[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.pos < len(d.s) && d.s[d.pos] == '}' {
				d.pos++
				return t
			}
			d.fail("comma or object end", d.tokenName(), d.pos)
			return lua.LNil
		}
	case c == '"':
		s := d.str()
		return lua.LString(s)
	case c == '-' || (c >= '0' && c <= '9'):
		end := d.pos + 1
		for end < len(d.s) && strings.IndexByte("0123456789+-.eE", d.s[end]) >= 0 {
			end++
		}
		f, err := strconv.ParseFloat(d.s[d.pos:end], 64)
		if err != nil {
			d.fail("value", "invalid number", d.pos)
			return lua.LNil
		}
		d.pos = end
		return lua.LNumber(f)
	case strings.HasPrefix(d.s[d.pos:], "true"):
		d.pos += 4
		return lua.LTrue
	case strings.HasPrefix(d.s[d.pos:], "false"):
		d.pos += 5
		return lua.LFalse
	case strings.HasPrefix(d.s[d.pos:], "null"):
		d.pos += 4
		return cjsonNull
	}
	d.fail("value", d.tokenName(), d.pos)
	return lua.LNil
}

func (d *jsonDecoder) str() string {
	start := d.pos
	d.pos++
	var b strings.Builder
	for {
		if d.pos >= len(d.s) {
			d.fail("value", "unexpected end of string", start)
			return ""
		}
		c := d.s[d.pos]
		if c == '"' {
			d.pos++
			return b.String()
		}
		if c != '\\' {
			b.WriteByte(c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.s) {
			d.fail("value", "unexpected end of string", start)
			return ""
		}
		esc := d.s[d.pos+1]
		d.pos += 2
		switch esc {
		case '"', '\\', '/':
			b.WriteByte(esc)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				d.fail("value", "invalid unicode escape code", start)
				return ""
			}
			if r >= 0xD800 && r <= 0xDBFF && strings.HasPrefix(d.s[d.pos:], `\u`) {
				d.pos += 2
				lo, ok := d.hex4()
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					d.fail("value", "invalid unicode escape code", start)
					return ""
				}
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			}
			var buf [4]byte
			n := utf8.EncodeRune(buf[:], rune(r))
			b.Write(buf[:n])
		default:
			d.fail("value", "invalid escape code", start)
			return ""
		}
	}
}

func (d *jsonDecoder) hex4() (int, bool) {
	if d.pos+4 > len(d.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(d.s[d.pos:d.pos+4], 16, 32)
	if err != nil {
		return 0, false
	}
	d.pos += 4
	return int(v), true
}

// ---------------------------------------------------------------------------
// bit (LuaBitOp): 32-bit operations.

func tobit(f lua.LNumber) int32 {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	x = math.Mod(math.RoundToEven(x), 4294967296)
	return int32(uint32(int64(x)))
}

func openBit(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	arg := func(L *lua.LState, i int) int32 { return tobit(L.CheckNumber(i)) }
	ret := func(L *lua.LState, v int32) int { L.Push(lua.LNumber(v)); return 1 }
	fold := func(op func(a, b int32) int32) lua.LGFunction {
		return func(L *lua.LState) int {
			v := arg(L, 1)
			for i := 2; i <= L.GetTop(); i++ {
				v = op(v, arg(L, i))
			}
			return ret(L, v)
		}
	}
	fns := map[string]lua.LGFunction{
		"tobit": func(L *lua.LState) int { return ret(L, arg(L, 1)) },
		"bnot":  func(L *lua.LState) int { return ret(L, ^arg(L, 1)) },
		"band":  fold(func(a, b int32) int32 { return a & b }),
		"bor":   fold(func(a, b int32) int32 { return a | b }),
		"bxor":  fold(func(a, b int32) int32 { return a ^ b }),
		"lshift": func(L *lua.LState) int {
			return ret(L, int32(uint32(arg(L, 1))<<(uint32(arg(L, 2))&31)))
		},
		"rshift": func(L *lua.LState) int {
			return ret(L, int32(uint32(arg(L, 1))>>(uint32(arg(L, 2))&31)))
		},
		"arshift": func(L *lua.LState) int { return ret(L, arg(L, 1)>>(uint32(arg(L, 2))&31)) },
		"rol": func(L *lua.LState) int {
			v, n := uint32(arg(L, 1)), uint32(arg(L, 2))&31
			return ret(L, int32(v<<n|v>>((32-n)&31)))
		},
		"ror": func(L *lua.LState) int {
			v, n := uint32(arg(L, 1)), uint32(arg(L, 2))&31
			return ret(L, int32(v>>n|v<<((32-n)&31)))
		},
		"bswap": func(L *lua.LState) int {
			v := uint32(arg(L, 1))
			return ret(L, int32(v>>24|(v>>8)&0xff00|(v&0xff00)<<8|v<<24))
		},
		"tohex": func(L *lua.LState) int {
			v := uint32(arg(L, 1))
			n := int32(8)
			if L.GetTop() >= 2 {
				n = arg(L, 2)
			}
			digits := "0123456789abcdef"
			if n < 0 {
				n = -n
				digits = "0123456789ABCDEF"
			}
			if n > 8 {
				n = 8
			}
			buf := make([]byte, n)
			for i := int(n) - 1; i >= 0; i-- {
				buf[i] = digits[v&15]
				v >>= 4
			}
			L.Push(lua.LString(buf))
			return 1
		},
	}
	for k, f := range fns {
		t.RawSetString(k, L.NewFunction(f))
	}
	return t
}

// ---------------------------------------------------------------------------
// struct (Roberto Ierusalimschy's struct library, as bundled with Redis).

type structFmt struct {
	fmt    string
	pos    int
	little bool
	align  int
}

func (f *structFmt) num(def int) int {
	if f.pos >= len(f.fmt) || f.fmt[f.pos] < '0' || f.fmt[f.pos] > '9' {
		return def
	}
	n := 0
	for f.pos < len(f.fmt) && f.fmt[f.pos] >= '0' && f.fmt[f.pos] <= '9' {
		n = n*10 + int(f.fmt[f.pos]-'0')
		f.pos++
	}
	return n
}

// next returns the next option and its size (0 for c0/s/controls).
func (f *structFmt) next(L *lua.LState) (byte, int, bool) {
	for f.pos < len(f.fmt) {
		opt := f.fmt[f.pos]
		f.pos++
		switch opt {
		case ' ':
			continue
		case '>':
			f.little = false
			continue
		case '<', '=':
			f.little = true
			continue
		case '!':
			a := f.num(8)
			if a&(a-1) != 0 {
				L.RaiseError("alignment %d is not a power of 2", a)
			}
			f.align = a
			continue
		case 'x', 'b', 'B':
			return opt, 1, true
		case 'h', 'H':
			return opt, 2, true
		case 'l', 'L', 'T', 'd':
			return opt, 8, true
		case 'f':
			return opt, 4, true
		case 'i', 'I':
			n := f.num(4)
			if n > 8 {
				L.RaiseError("integral size %d is larger than limit of %d", n, 8)
			}
			return opt, n, true
		case 'c':
			return opt, f.num(1), true
		case 's':
			return opt, 0, true
		default:
			L.RaiseError("invalid format option '%c'", opt)
		}
	}
	return 0, 0, false
}

func (f *structFmt) toAlign(length, size int, opt byte) int {
	if size <= 1 || opt == 'c' {
		return 0
	}
	if size > f.align {
		size = f.align
	}
	return (size - (length & (size - 1))) & (size - 1)
}

func (f *structFmt) putInt(b []byte, v uint64, size int) []byte {
	for i := 0; i < size; i++ {
		shift := i * 8
		if !f.little {
			shift = (size - 1 - i) * 8
		}
		if shift < 64 {
			b = append(b, byte(v>>shift))
		} else {
			b = append(b, 0)
		}
	}
	return b
}

func (f *structFmt) getInt(s string, size int, signed bool) lua.LNumber {
	var v uint64
	for i := 0; i < size; i++ {
		c := s[i]
		if !f.little {
			c = s[size-1-i]
		}
		if i < 8 {
			v |= uint64(c) << (8 * i)
		}
	}
	if signed && size < 8 && v&(1<<(size*8-1)) != 0 {
		v |= ^uint64(0) << (size * 8)
		return lua.LNumber(int64(v))
	}
	if signed {
		return lua.LNumber(int64(v))
	}
	return lua.LNumber(v)
}

func openStruct(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(func(L *lua.LState) int {
		f := &structFmt{fmt: L.CheckString(1), little: true, align: 1}
		var b []byte
		arg := 2
		for {
			opt, size, ok := f.next(L)
			if !ok {
				break
			}
			for n := f.toAlign(len(b), size, opt); n > 0; n-- {
				b = append(b, 0)
			}
			switch opt {
			case 'x':
				b = append(b, 0)
			case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
				n := float64(L.CheckNumber(arg))
				arg++
				var v uint64
				if n < 0 {
					v = uint64(int64(n))
				} else {
					v = uint64(n)
				}
				b = f.putInt(b, v, size)
			case 'f':
				v := math.Float32bits(float32(L.CheckNumber(arg)))
				arg++
				b = f.putInt(b, uint64(v), 4)
			case 'd':
				v := math.Float64bits(float64(L.CheckNumber(arg)))
				arg++
				b = f.putInt(b, v, 8)
			case 'c', 's':
				s := L.CheckString(arg)
				if opt == 'c' {
					if size == 0 {
						size = len(s)
					}
					if len(s) < size {
						L.ArgError(arg, "string too short")
					}
					b = append(b, s[:size]...)
				} else {
					b = append(b, s...)
					b = append(b, 0)
				}
				arg++
			}
		}
		L.Push(lua.LString(b))
		return 1
	}))
	t.RawSetString("unpack", L.NewFunction(func(L *lua.LState) int {
		f := &structFmt{fmt: L.CheckString(1), little: true, align: 1}
		data := L.CheckString(2)
		pos := L.OptInt(3, 1) - 1
		if pos < 0 || pos > len(data) {
			L.ArgError(3, "offset must be 1 or greater")
		}
		n := 0
		for {
			opt, size, ok := f.next(L)
			if !ok {
				break
			}
			pos += f.toAlign(pos, size, opt)
			if pos+size > len(data) {
				L.ArgError(2, "data string too short")
			}
			switch opt {
			case 'x':
			case 'b', 'h', 'l', 'i':
				L.Push(f.getInt(data[pos:], size, true))
				n++
			case 'B', 'H', 'L', 'T', 'I':
				L.Push(f.getInt(data[pos:], size, false))
				n++
			case 'f':
				L.Push(lua.LNumber(math.Float32frombits(uint32(f.getInt(data[pos:], 4, false)))))
				n++
			case 'd':
				var u uint64
				if f.little {
					u = binary.LittleEndian.Uint64([]byte(data[pos : pos+8]))
				} else {
					u = binary.BigEndian.Uint64([]byte(data[pos : pos+8]))
				}
				L.Push(lua.LNumber(math.Float64frombits(u)))
				n++
			case 'c':
				if size == 0 {
					if n == 0 {
						L.RaiseError("format 'c0' needs a previous size")
					}
					prev, ok := L.Get(-1).(lua.LNumber)
					if !ok {
						L.RaiseError("format 'c0' needs a previous size")
					}
					L.Pop(1)
					n--
					size = int(prev)
					if pos+size > len(data) {
						L.ArgError(2, "data string too short")
					}
				}
				L.Push(lua.LString(data[pos : pos+size]))
				n++
			case 's':
				end := strings.IndexByte(data[pos:], 0)
				if end < 0 {
					L.RaiseError("unfinished string in data")
				}
				L.Push(lua.LString(data[pos : pos+end]))
				n++
				size = end + 1
			}
			pos += size
		}
		L.Push(lua.LNumber(pos + 1))
		return n + 1
	}))
	t.RawSetString("size", L.NewFunction(func(L *lua.LState) int {
		f := &structFmt{fmt: L.CheckString(1), little: true, align: 1}
		pos := 0
		for {
			opt, size, ok := f.next(L)
			if !ok {
				break
			}
			if opt == 's' || (opt == 'c' && size == 0) {
				L.ArgError(1, "options 'c0' - 's' have undefined sizes")
			}
			pos += f.toAlign(pos, size, opt) + size
		}
		L.Push(lua.LNumber(pos))
		return 1
	}))
	return t
}

var _ = sort.Strings
