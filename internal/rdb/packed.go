package rdb

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
)

// ParseCanonicalInt reports whether b is the canonical decimal form of an
// int64 (no sign other than a leading '-', no leading zeros, no "-0"), the
// test Redis applies before storing a string as an integer.
func ParseCanonicalInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	p := b
	if p[0] == '-' {
		neg = true
		p = p[1:]
		if len(p) == 0 {
			return 0, false
		}
	}
	if p[0] < '1' || p[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

var errPacked = errors.New("malformed packed encoding")

// ---------------------------------------------------------------------------
// listpack

// Listpack layout: total bytes (uint32 LE), element count (uint16 LE, 65535
// = unknown), entries, 0xFF. Each entry is <encoding+data><backlen>, where
// backlen stores len(encoding+data) in 1-5 bytes, most significant 7-bit
// group first, continuation bit set on every byte but the first.

const lpHeaderSize = 6

// ListpackEncode builds a listpack holding elems. Elements that are
// canonical integers are stored with integer encodings, as Redis does.
func ListpackEncode(elems [][]byte) []byte {
	var lp listpackBuilder
	lp.init(64)
	for _, e := range elems {
		lp.append(e)
	}
	return lp.finish()
}

type listpackBuilder struct {
	buf   []byte
	count int
}

func (lp *listpackBuilder) init(capHint int) {
	if cap(lp.buf) < capHint {
		lp.buf = make([]byte, lpHeaderSize, capHint)
	} else {
		lp.buf = lp.buf[:lpHeaderSize]
	}
	lp.count = 0
}

// size is the byte size the listpack would have if finished now.
func (lp *listpackBuilder) size() int { return len(lp.buf) + 1 }

func (lp *listpackBuilder) append(e []byte) {
	start := len(lp.buf)
	b := lp.buf
	if v, ok := ParseCanonicalInt(e); ok {
		switch {
		case v >= 0 && v <= 127:
			b = append(b, byte(v))
		case v >= -4096 && v <= 4095:
			u := uint64(v) & 0x1fff
			b = append(b, 0xC0|byte(u>>8), byte(u))
		case v >= math.MinInt16 && v <= math.MaxInt16:
			b = appendTaggedInt(b, 0xF1, v, 2)
		case v >= -(1<<23) && v < 1<<23:
			b = appendTaggedInt(b, 0xF2, v, 3)
		case v >= math.MinInt32 && v <= math.MaxInt32:
			b = appendTaggedInt(b, 0xF3, v, 4)
		default:
			b = appendTaggedInt(b, 0xF4, v, 8)
		}
	} else {
		n := len(e)
		switch {
		case n < 64:
			b = append(b, 0x80|byte(n))
		case n < 4096:
			b = append(b, 0xE0|byte(n>>8), byte(n))
		default:
			b = append(b, 0xF0)
			b = binary.LittleEndian.AppendUint32(b, uint32(n))
		}
		b = append(b, e...)
	}
	l := uint64(len(b) - start)
	switch {
	case l < 128:
		b = append(b, byte(l))
	case l < 16384:
		b = append(b, byte(l>>7), byte(l&127)|128)
	case l < 2097152:
		b = append(b, byte(l>>14), byte(l>>7&127)|128, byte(l&127)|128)
	case l < 268435456:
		b = append(b, byte(l>>21), byte(l>>14&127)|128, byte(l>>7&127)|128, byte(l&127)|128)
	default:
		b = append(b, byte(l>>28), byte(l>>21&127)|128, byte(l>>14&127)|128, byte(l>>7&127)|128, byte(l&127)|128)
	}
	lp.buf = b
	lp.count++
}

func (lp *listpackBuilder) finish() []byte {
	b := append(lp.buf, 0xFF)
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)))
	c := lp.count
	if c > 65534 {
		c = 65535
	}
	binary.LittleEndian.PutUint16(b[4:], uint16(c))
	lp.buf = b
	return b
}

// BacklenSize is the size of a listpack element's backlen field for an
// element of l bytes (encoding and data).
func BacklenSize(l int) int {
	switch {
	case l < 128:
		return 1
	case l < 16384:
		return 2
	case l < 2097152:
		return 3
	case l < 268435456:
		return 4
	}
	return 5
}

// appendTaggedInt appends an encoding tag and the low n bytes of v, little
// endian: the integer entries of listpacks and ziplists.
func appendTaggedInt(b []byte, tag byte, v int64, n int) []byte {
	b = append(b, tag)
	for i := 0; i < n; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// ListpackDecode returns the elements of a listpack; integers are returned
// in decimal form. The whole structure is validated.
func ListpackDecode(b []byte) ([][]byte, error) {
	return collectElems(b, listpackEach)
}

// collectElems returns the elements each (listpackEach or ziplistEach)
// yields, copying the scratch-buffer ones.
func collectElems(b []byte, each func([]byte, func(e []byte, tmp bool) error) error) ([][]byte, error) {
	var out [][]byte
	err := each(b, func(e []byte, tmp bool) error {
		if tmp {
			e = slices.Clone(e)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// listpackEach validates b and calls fn for each element. Element slices
// alias b, except integers, which are formatted into a scratch buffer
// valid only during the call (tmp is true).
func listpackEach(b []byte, fn func(e []byte, tmp bool) error) error {
	if len(b) < lpHeaderSize+1 || int(binary.LittleEndian.Uint32(b)) != len(b) || b[len(b)-1] != 0xFF {
		return errPacked
	}
	declared := int(binary.LittleEndian.Uint16(b[4:]))
	p := lpHeaderSize
	end := len(b) - 1
	n := 0
	var num [20]byte
	for p < end {
		c := b[p]
		var elem []byte
		var hdr, dlen int
		var iv int64
		isInt := true
		switch {
		case c&0x80 == 0:
			hdr, iv = 1, int64(c)
		case c&0xC0 == 0x80:
			hdr, dlen, isInt = 1, int(c&0x3f), false
		case c&0xE0 == 0xC0:
			if p+2 > end {
				return errPacked
			}
			u := int64(c&0x1f)<<8 | int64(b[p+1])
			if u >= 1<<12 {
				u -= 1 << 13
			}
			hdr, iv = 2, u
		case c&0xF0 == 0xE0:
			if p+2 > end {
				return errPacked
			}
			hdr, dlen, isInt = 2, int(c&0x0f)<<8|int(b[p+1]), false
		case c == 0xF0:
			if p+5 > end {
				return errPacked
			}
			u := binary.LittleEndian.Uint32(b[p+1:])
			if u > uint32(len(b)) {
				return errPacked
			}
			hdr, dlen, isInt = 5, int(u), false
		case c == 0xF1:
			if p+3 > end {
				return errPacked
			}
			hdr, iv = 3, int64(int16(binary.LittleEndian.Uint16(b[p+1:])))
		case c == 0xF2:
			if p+4 > end {
				return errPacked
			}
			u := int32(uint32(b[p+1])|uint32(b[p+2])<<8|uint32(b[p+3])<<16) << 8 >> 8
			hdr, iv = 4, int64(u)
		case c == 0xF3:
			if p+5 > end {
				return errPacked
			}
			hdr, iv = 5, int64(int32(binary.LittleEndian.Uint32(b[p+1:])))
		case c == 0xF4:
			if p+9 > end {
				return errPacked
			}
			hdr, iv = 9, int64(binary.LittleEndian.Uint64(b[p+1:]))
		default:
			return errPacked
		}
		entLen := hdr
		if !isInt {
			entLen += dlen
		}
		if entLen > end-p {
			return errPacked
		}
		bl := BacklenSize(entLen)
		if bl > end-p-entLen {
			return errPacked
		}
		// verify the back length
		q := p + entLen
		var v int
		for k := 0; k < bl; k++ {
			v = v<<7 | int(b[q+k]&127)
			if (k == 0) != (b[q+k]&128 == 0) {
				return errPacked
			}
		}
		if v != entLen {
			return errPacked
		}
		if isInt {
			elem = strconv.AppendInt(num[:0], iv, 10)
		} else {
			elem = b[p+hdr : p+hdr+dlen : p+hdr+dlen]
		}
		if err := fn(elem, isInt); err != nil {
			return err
		}
		n++
		p = q + bl
	}
	if p != end || (declared != 65535 && declared != n) {
		return errPacked
	}
	return nil
}

// listpackHashFields validates the listpack b of a hash (the checks of
// listpackEach, plus an even element count) in one pass without a
// callback, appending the fields to fields: views into b, or for
// integer-encoded fields their decimal form appended to *num (slices into
// *num stay valid: capped, and a reallocation leaves them on the old
// array). It also returns the length of the longest element as a string.
func listpackHashFields(b []byte, fields [][]byte, num *[]byte) ([][]byte, int, error) {
	if len(b) < lpHeaderSize+1 || int(binary.LittleEndian.Uint32(b)) != len(b) || b[len(b)-1] != 0xFF {
		return fields, 0, errPacked
	}
	declared := int(binary.LittleEndian.Uint16(b[4:]))
	p := lpHeaderSize
	end := len(b) - 1
	n, maxLen := 0, 0
	for p < end {
		ps := p
		c := b[p]
		var hdr, dlen int
		var iv int64
		isInt := true
		switch {
		case c&0xC0 == 0x80: // short string: the common case
			hdr, dlen, isInt = 1, int(c&0x3f), false
		case c&0x80 == 0:
			hdr, iv = 1, int64(c)
		case c&0xE0 == 0xC0:
			if p+2 > end {
				return fields, 0, errPacked
			}
			u := int64(c&0x1f)<<8 | int64(b[p+1])
			if u >= 1<<12 {
				u -= 1 << 13
			}
			hdr, iv = 2, u
		case c&0xF0 == 0xE0:
			if p+2 > end {
				return fields, 0, errPacked
			}
			hdr, dlen, isInt = 2, int(c&0x0f)<<8|int(b[p+1]), false
		case c == 0xF0:
			if p+5 > end {
				return fields, 0, errPacked
			}
			u := binary.LittleEndian.Uint32(b[p+1:])
			if u > uint32(len(b)) {
				return fields, 0, errPacked
			}
			hdr, dlen, isInt = 5, int(u), false
		case c == 0xF1:
			if p+3 > end {
				return fields, 0, errPacked
			}
			hdr, iv = 3, int64(int16(binary.LittleEndian.Uint16(b[p+1:])))
		case c == 0xF2:
			if p+4 > end {
				return fields, 0, errPacked
			}
			u := int32(uint32(b[p+1])|uint32(b[p+2])<<8|uint32(b[p+3])<<16) << 8 >> 8
			hdr, iv = 4, int64(u)
		case c == 0xF3:
			if p+5 > end {
				return fields, 0, errPacked
			}
			hdr, iv = 5, int64(int32(binary.LittleEndian.Uint32(b[p+1:])))
		case c == 0xF4:
			if p+9 > end {
				return fields, 0, errPacked
			}
			hdr, iv = 9, int64(binary.LittleEndian.Uint64(b[p+1:]))
		default:
			return fields, 0, errPacked
		}
		entLen := hdr
		if !isInt {
			entLen += dlen
		}
		if entLen > end-p {
			return fields, 0, errPacked
		}
		q := p + entLen
		if entLen < 128 { // one-byte back length
			if q >= end || int(b[q]) != entLen {
				return fields, 0, errPacked
			}
			p = q + 1
		} else {
			bl := BacklenSize(entLen)
			if bl > end-q {
				return fields, 0, errPacked
			}
			var v int
			for k := 0; k < bl; k++ {
				v = v<<7 | int(b[q+k]&127)
				if (k == 0) != (b[q+k]&128 == 0) {
					return fields, 0, errPacked
				}
			}
			if v != entLen {
				return fields, 0, errPacked
			}
			p = q + bl
		}
		var elen int
		if isInt {
			start := len(*num)
			*num = strconv.AppendInt(*num, iv, 10)
			elen = len(*num) - start
			if n&1 == 0 {
				fields = append(fields, (*num)[start:len(*num):len(*num)])
			}
		} else {
			elen = dlen
			if n&1 == 0 {
				fields = append(fields, b[ps+hdr:ps+hdr+dlen:ps+hdr+dlen])
			}
		}
		maxLen = max(maxLen, elen)
		n++
	}
	if p != end || (declared != 65535 && declared != n) || n&1 != 0 {
		return fields, 0, errPacked
	}
	return fields, maxLen, nil
}

// ---------------------------------------------------------------------------
// ziplist

// Ziplist layout: zlbytes (uint32 LE), zltail (uint32 LE offset of the last
// entry), zllen (uint16 LE, 65535 = unknown), entries, 0xFF. Entry:
// <prevlen: 1 byte, or 0xFE + uint32 LE><encoding><data>.

// ZiplistEncode builds a ziplist (the pre-7.0 packed encoding) holding
// elems, using integer encodings for canonical integers.
func ZiplistEncode(elems [][]byte) []byte {
	b := make([]byte, 10, 64)
	prev, tail := 0, 10
	for _, e := range elems {
		start := len(b)
		tail = start
		if prev < 254 {
			b = append(b, byte(prev))
		} else {
			b = append(b, 0xFE)
			b = binary.LittleEndian.AppendUint32(b, uint32(prev))
		}
		if v, ok := ParseCanonicalInt(e); ok && len(e) <= 20 {
			switch {
			case v >= 0 && v <= 12:
				b = append(b, 0xF1+byte(v))
			case v >= math.MinInt8 && v <= math.MaxInt8:
				b = appendTaggedInt(b, 0xFE, v, 1)
			case v >= math.MinInt16 && v <= math.MaxInt16:
				b = appendTaggedInt(b, 0xC0, v, 2)
			case v >= -(1<<23) && v < 1<<23:
				b = appendTaggedInt(b, 0xF0, v, 3)
			case v >= math.MinInt32 && v <= math.MaxInt32:
				b = appendTaggedInt(b, 0xD0, v, 4)
			default:
				b = appendTaggedInt(b, 0xE0, v, 8)
			}
		} else {
			n := len(e)
			switch {
			case n < 64:
				b = append(b, byte(n))
			case n < 16384:
				b = append(b, 0x40|byte(n>>8), byte(n))
			default:
				b = append(b, 0x80)
				b = binary.BigEndian.AppendUint32(b, uint32(n))
			}
			b = append(b, e...)
		}
		prev = len(b) - start
	}
	b = append(b, 0xFF)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	binary.LittleEndian.PutUint32(b[4:], uint32(tail))
	c := len(elems)
	if c > 65534 {
		c = 65535
	}
	binary.LittleEndian.PutUint16(b[8:], uint16(c))
	return b
}

// ZiplistDecode returns the elements of a ziplist (integers in decimal).
func ZiplistDecode(b []byte) ([][]byte, error) {
	return collectElems(b, ziplistEach)
}

// ziplistEach validates b and calls fn for each element, like listpackEach.
func ziplistEach(b []byte, fn func(e []byte, tmp bool) error) error {
	if len(b) < 11 || int(binary.LittleEndian.Uint32(b)) != len(b) || b[len(b)-1] != 0xFF {
		return errPacked
	}
	declared := int(binary.LittleEndian.Uint16(b[8:]))
	tail := int(binary.LittleEndian.Uint32(b[4:]))
	end := len(b) - 1
	p, prev, last, n := 10, 0, 10, 0
	var num [20]byte
	for p < end {
		start := p
		isInt := false
		var pl int
		if b[p] < 254 {
			pl = int(b[p])
			p++
		} else if b[p] == 254 {
			if p+5 > end {
				return errPacked
			}
			pl = int(binary.LittleEndian.Uint32(b[p+1:]))
			p += 5
		} else {
			return errPacked
		}
		if pl != prev {
			return errPacked
		}
		if p >= end {
			return errPacked
		}
		c := b[p]
		var elem []byte
		need := func(k int) bool { return k <= end-p }
		switch {
		case c>>6 == 0:
			n := int(c & 0x3f)
			if !need(1 + n) {
				return errPacked
			}
			elem = b[p+1 : p+1+n : p+1+n]
			p += 1 + n
		case c>>6 == 1:
			if !need(2) {
				return errPacked
			}
			n := int(c&0x3f)<<8 | int(b[p+1])
			if !need(2 + n) {
				return errPacked
			}
			elem = b[p+2 : p+2+n : p+2+n]
			p += 2 + n
		case c == 0x80:
			if !need(5) {
				return errPacked
			}
			n := binary.BigEndian.Uint32(b[p+1:])
			if uint64(n) > uint64(end-p-5) {
				return errPacked
			}
			elem = b[p+5 : p+5+int(n) : p+5+int(n)]
			p += 5 + int(n)
		default:
			var v int64
			switch {
			case c == 0xC0:
				if !need(3) {
					return errPacked
				}
				v = int64(int16(binary.LittleEndian.Uint16(b[p+1:])))
				p += 3
			case c == 0xD0:
				if !need(5) {
					return errPacked
				}
				v = int64(int32(binary.LittleEndian.Uint32(b[p+1:])))
				p += 5
			case c == 0xE0:
				if !need(9) {
					return errPacked
				}
				v = int64(binary.LittleEndian.Uint64(b[p+1:]))
				p += 9
			case c == 0xF0:
				if !need(4) {
					return errPacked
				}
				v = int64(int32(uint32(b[p+1])|uint32(b[p+2])<<8|uint32(b[p+3])<<16) << 8 >> 8)
				p += 4
			case c == 0xFE:
				if !need(2) {
					return errPacked
				}
				v = int64(int8(b[p+1]))
				p += 2
			case c >= 0xF1 && c <= 0xFD:
				v = int64(c&0x0f) - 1
				p++
			default:
				return errPacked
			}
			elem = strconv.AppendInt(num[:0], v, 10)
			isInt = true
		}
		if err := fn(elem, isInt); err != nil {
			return err
		}
		prev = p - start
		last = start
		n++
	}
	if p != end || (declared != 65535 && declared != n) || (n > 0 && tail != last) || (n == 0 && tail != 10) {
		return errPacked
	}
	return nil
}

// ---------------------------------------------------------------------------
// intset

// Intset layout: encoding (uint32 LE: 2, 4 or 8 bytes per element), length
// (uint32 LE), then the elements, sorted ascending, little endian.

// IntsetEncode builds an intset from vals (sorted and deduplicated here),
// using the narrowest element width that fits all of them.
func IntsetEncode(vals []int64) []byte {
	v := slices.Clone(vals)
	slices.Sort(v)
	v = slices.Compact(v)
	w := 2
	for _, x := range v {
		if x < math.MinInt32 || x > math.MaxInt32 {
			w = 8
			break
		}
		if x < math.MinInt16 || x > math.MaxInt16 {
			w = 4
		}
	}
	b := make([]byte, 8, 8+w*len(v))
	binary.LittleEndian.PutUint32(b, uint32(w))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(v)))
	for _, x := range v {
		switch w {
		case 2:
			b = binary.LittleEndian.AppendUint16(b, uint16(x))
		case 4:
			b = binary.LittleEndian.AppendUint32(b, uint32(x))
		default:
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		}
	}
	return b
}

// IntsetDecode returns the members of an intset, validating width, length
// and strict ascending order.
func IntsetDecode(b []byte) ([]int64, error) {
	if len(b) < 8 {
		return nil, errPacked
	}
	out := make([]int64, 0, (len(b)-8)/2)
	if err := intsetEach(b, func(x int64) { out = append(out, x) }); err != nil {
		return nil, err
	}
	return out, nil
}

// intsetEach validates the intset b (width, length, strictly ascending
// members) and calls fn for each member. fn may be called before an error
// further on is detected.
func intsetEach(b []byte, fn func(x int64)) error {
	if len(b) < 8 {
		return errPacked
	}
	w := binary.LittleEndian.Uint32(b)
	n := uint64(binary.LittleEndian.Uint32(b[4:]))
	if (w != 2 && w != 4 && w != 8) || 8+n*uint64(w) != uint64(len(b)) {
		return errPacked
	}
	var prev int64
	for i := 0; i < int(n); i++ {
		p := b[8+i*int(w):]
		var x int64
		switch w {
		case 2:
			x = int64(int16(binary.LittleEndian.Uint16(p)))
		case 4:
			x = int64(int32(binary.LittleEndian.Uint32(p)))
		default:
			x = int64(binary.LittleEndian.Uint64(p))
		}
		if i > 0 && x <= prev {
			return errPacked
		}
		prev = x
		fn(x)
	}
	return nil
}

// ---------------------------------------------------------------------------
// zipmap (Redis < 2.6 small hashes)

// Zipmap layout: count (1 byte, 254 = unknown), then per field
// <len>field<len><free>value<free bytes>, then 0xFF. A length is one byte
// if < 254, else 0xFE followed by a uint32 LE.

// ZipmapEncode builds a zipmap holding fields (free = 0 everywhere).
func ZipmapEncode(fields []HashField) []byte {
	b := []byte{byte(min(len(fields), 254))}
	putLen := func(n int) {
		if n < 254 {
			b = append(b, byte(n))
		} else {
			b = append(b, 0xFE)
			b = binary.LittleEndian.AppendUint32(b, uint32(n))
		}
	}
	for _, f := range fields {
		putLen(len(f.Field))
		b = append(b, f.Field...)
		putLen(len(f.Value))
		b = append(b, 0)
		b = append(b, f.Value...)
	}
	return append(b, 0xFF)
}

// ZipmapDecode returns the fields of a zipmap.
func ZipmapDecode(b []byte) ([]HashField, error) {
	if len(b) < 2 {
		return nil, errPacked
	}
	declared := int(b[0])
	p := 1
	getLen := func() (int, bool) {
		if p >= len(b) {
			return 0, false
		}
		c := b[p]
		if c < 254 {
			p++
			return int(c), true
		}
		if c == 0xFF || p+5 > len(b) {
			return 0, false
		}
		n := binary.LittleEndian.Uint32(b[p+1:])
		p += 5
		if uint64(n) > uint64(len(b)) {
			return 0, false
		}
		return int(n), true
	}
	var out []HashField
	for {
		if p >= len(b) {
			return nil, errPacked
		}
		if b[p] == 0xFF {
			p++
			break
		}
		kl, ok := getLen()
		if !ok || kl > len(b)-p {
			return nil, errPacked
		}
		k := b[p : p+kl : p+kl]
		p += kl
		vl, ok := getLen()
		if !ok || p >= len(b) {
			return nil, errPacked
		}
		free := int(b[p])
		p++
		if vl+free > len(b)-p {
			return nil, errPacked
		}
		v := b[p : p+vl : p+vl]
		p += vl + free
		out = append(out, HashField{Field: k, Value: v})
	}
	if p != len(b) || (declared < 254 && declared != len(out)) {
		return nil, errPacked
	}
	return out, nil
}
