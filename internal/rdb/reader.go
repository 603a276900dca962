package rdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

const chunkSize = 64 << 10

// reader is the low-level RDB input: it tracks the offset and the running
// CRC64 of every byte consumed, and never allocates more than chunkSize
// ahead of the data actually read (or the known remaining size).
type reader struct {
	br    *bufio.Reader
	pos   int64
	crc   uint64
	limit int64 // total input size if known, else -1
	num   [24]byte
}

func newReader(r io.Reader, limit int64) *reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, chunkSize)
	}
	return &reader{br: br, limit: limit}
}

func (r *reader) corrupt(format string, args ...any) error {
	return &CorruptError{Offset: r.pos, Reason: fmt.Sprintf(format, args...)}
}

func (r *reader) eof(what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &CorruptError{Offset: r.pos, Reason: "unexpected EOF reading " + what, Err: io.ErrUnexpectedEOF}
	}
	return &CorruptError{Offset: r.pos, Reason: "read error reading " + what + ": " + err.Error(), Err: err}
}

func (r *reader) unsupported(what string) error {
	return &CorruptError{Offset: r.pos, Reason: "unsupported " + what, Err: ErrUnsupported}
}

func (r *reader) readByte(what string) (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, r.eof(what, err)
	}
	r.pos++
	r.crc = crc64Tab[0][byte(r.crc)^c] ^ r.crc>>8
	return c, nil
}

// readInto fills p completely.
func (r *reader) readInto(p []byte, what string) error {
	n, err := io.ReadFull(r.br, p)
	r.crc = CRC64Update(r.crc, p[:n])
	r.pos += int64(n)
	if err != nil {
		return r.eof(what, err)
	}
	return nil
}

// readBytes returns n freshly allocated bytes.
func (r *reader) readBytes(n uint64, what string) ([]byte, error) {
	if r.limit >= 0 && n > uint64(r.limit-r.pos) {
		return nil, r.corrupt("%s length %d exceeds remaining input", what, n)
	}
	if n <= chunkSize {
		p := make([]byte, n)
		return p, r.readInto(p, what)
	}
	var p []byte
	for uint64(len(p)) < n {
		k := min(n-uint64(len(p)), chunkSize)
		p = slices.Grow(p, int(k))
		start := len(p)
		p = p[:start+int(k)]
		if err := r.readInto(p[start:], what); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// readLen reads a length. If the value is a special string encoding,
// enc is true and n holds the encoding type.
func (r *reader) readLen(what string) (n uint64, enc bool, err error) {
	c, err := r.readByte(what)
	if err != nil {
		return 0, false, err
	}
	switch c >> 6 {
	case 0:
		return uint64(c & 0x3f), false, nil
	case 1:
		c2, err := r.readByte(what)
		if err != nil {
			return 0, false, err
		}
		return uint64(c&0x3f)<<8 | uint64(c2), false, nil
	case 3:
		return uint64(c & 0x3f), true, nil
	}
	switch c {
	case 0x80:
		if err := r.readInto(r.num[:4], what); err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(r.num[:4])), false, nil
	case 0x81:
		if err := r.readInto(r.num[:8], what); err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(r.num[:8]), false, nil
	}
	return 0, false, r.corrupt("bad length encoding 0x%02x reading %s", c, what)
}

func (r *reader) readPlainLen(what string) (uint64, error) {
	n, enc, err := r.readLen(what)
	if err == nil && enc {
		err = r.corrupt("unexpected string encoding reading %s", what)
	}
	return n, err
}

// readString reads a (possibly integer- or LZF-encoded) string.
func (r *reader) readString(what string) ([]byte, error) {
	n, enc, err := r.readLen(what + " length")
	if err != nil {
		return nil, err
	}
	if !enc {
		return r.readBytes(n, what)
	}
	switch n {
	case 0, 1, 2:
		w := 1 << n
		if err := r.readInto(r.num[:w], what); err != nil {
			return nil, err
		}
		var v int64
		switch w {
		case 1:
			v = int64(int8(r.num[0]))
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(r.num[:2])))
		default:
			v = int64(int32(binary.LittleEndian.Uint32(r.num[:4])))
		}
		return strconv.AppendInt(nil, v, 10), nil
	case 3:
		clen, err := r.readPlainLen(what + " compressed length")
		if err != nil {
			return nil, err
		}
		ulen, err := r.readPlainLen(what + " uncompressed length")
		if err != nil {
			return nil, err
		}
		if ulen > clen*88+32 || ulen > math.MaxInt32*16 {
			return nil, r.corrupt("LZF %s: uncompressed length %d impossible for %d compressed bytes", what, ulen, clen)
		}
		c, err := r.readBytes(clen, what)
		if err != nil {
			return nil, err
		}
		out, err := LZFDecompress(c, int(ulen))
		if err != nil {
			return nil, r.corrupt("LZF %s: %v", what, err)
		}
		return out, nil
	}
	return nil, r.corrupt("unknown string encoding %d reading %s", n, what)
}

func (r *reader) readUint64LE(what string) (uint64, error) {
	if err := r.readInto(r.num[:8], what); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(r.num[:8]), nil
}

// readOldDouble reads the ASCII score format of RDB_TYPE_ZSET.
func (r *reader) readOldDouble() (float64, error) {
	c, err := r.readByte("score")
	if err != nil {
		return 0, err
	}
	switch c {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	var buf [256]byte
	if err := r.readInto(buf[:c], "score"); err != nil {
		return 0, err
	}
	f, ok := parseScore(buf[:c])
	if !ok {
		return 0, r.corrupt("bad score %q", buf[:c])
	}
	return f, nil
}

// capHint bounds preallocation by a declared element count.
func capHint(n uint64) int { return int(min(n, 1024)) }

type dupChecker map[string]struct{}

func (d dupChecker) add(b []byte) bool {
	if _, ok := d[string(b)]; ok {
		return false
	}
	d[string(b)] = struct{}{}
	return true
}

func parseScore(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, true // +-Inf or 0 on overflow/underflow, like strtod
		}
		return 0, false
	}
	return f, true
}

// readObject decodes a value of on-disk type t into v (resetting it).
func (r *reader) readObject(t Type, v *Value) error {
	*v = Value{}
	switch t {
	case TypeString:
		v.Type = TypeString
		s, err := r.readString("string value")
		v.Str = s
		return err

	case TypeList:
		v.Type = TypeList
		n, err := r.readPlainLen("list length")
		if err != nil {
			return err
		}
		v.List = make([][]byte, 0, capHint(n))
		for i := uint64(0); i < n; i++ {
			s, err := r.readString("list element")
			if err != nil {
				return err
			}
			v.List = append(v.List, s)
		}
		return nil

	case TypeSet:
		v.Type = TypeSet
		n, err := r.readPlainLen("set length")
		if err != nil {
			return err
		}
		v.Set = make([][]byte, 0, capHint(n))
		d := make(dupChecker, capHint(n))
		for i := uint64(0); i < n; i++ {
			s, err := r.readString("set member")
			if err != nil {
				return err
			}
			if !d.add(s) {
				return r.corrupt("duplicate set member")
			}
			v.Set = append(v.Set, s)
		}
		return nil

	case TypeZSet, TypeZSet2:
		v.Type = TypeZSet
		n, err := r.readPlainLen("zset length")
		if err != nil {
			return err
		}
		v.ZSet = make([]ZMember, 0, capHint(n))
		d := make(dupChecker, capHint(n))
		for i := uint64(0); i < n; i++ {
			m, err := r.readString("zset member")
			if err != nil {
				return err
			}
			var f float64
			if t == TypeZSet {
				f, err = r.readOldDouble()
			} else {
				var u uint64
				u, err = r.readUint64LE("zset score")
				f = math.Float64frombits(u)
			}
			if err != nil {
				return err
			}
			if math.IsNaN(f) {
				return r.corrupt("zset NaN score")
			}
			if !d.add(m) {
				return r.corrupt("duplicate zset member")
			}
			v.ZSet = append(v.ZSet, ZMember{m, f})
		}
		sortZSet(v.ZSet)
		return nil

	case TypeHash:
		v.Type = TypeHash
		n, err := r.readPlainLen("hash length")
		if err != nil {
			return err
		}
		v.Hash = make([]HashField, 0, capHint(n))
		d := make(dupChecker, capHint(n))
		for i := uint64(0); i < n; i++ {
			f, err := r.readString("hash field")
			if err != nil {
				return err
			}
			val, err := r.readString("hash value")
			if err != nil {
				return err
			}
			if !d.add(f) {
				return r.corrupt("duplicate hash field")
			}
			v.Hash = append(v.Hash, HashField{f, val})
		}
		return nil

	case TypeListQuicklist, TypeListQuicklist2:
		v.Type = TypeList
		n, err := r.readPlainLen("quicklist node count")
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			container := uint64(2)
			if t == TypeListQuicklist2 {
				if container, err = r.readPlainLen("quicklist node container"); err != nil {
					return err
				}
			}
			blob, err := r.readString("quicklist node")
			if err != nil {
				return err
			}
			switch {
			case container == 1: // plain node: one element
				v.List = append(v.List, blob)
			case container != 2:
				return r.corrupt("bad quicklist container %d", container)
			case t == TypeListQuicklist:
				err = ziplistEach(blob, func(e []byte) error { v.List = append(v.List, e); return nil })
			default:
				err = listpackEach(blob, func(e []byte) error { v.List = append(v.List, e); return nil })
			}
			if err != nil {
				return r.corrupt("bad quicklist node: %v", err)
			}
		}
		return nil

	case TypeListZiplist:
		v.Type = TypeList
		return r.packed(t, "ziplist", func(e []byte) error { v.List = append(v.List, e); return nil })

	case TypeSetIntset:
		v.Type = TypeSet
		blob, err := r.readString("intset")
		if err != nil {
			return err
		}
		ints, err := IntsetDecode(blob)
		if err != nil {
			return r.corrupt("bad intset")
		}
		v.Set = make([][]byte, len(ints))
		for i, x := range ints {
			v.Set[i] = strconv.AppendInt(nil, x, 10)
		}
		return nil

	case TypeSetListpack:
		v.Type = TypeSet
		d := dupChecker{}
		return r.packed(t, "listpack", func(e []byte) error {
			if !d.add(e) {
				return errors.New("duplicate set member")
			}
			v.Set = append(v.Set, e)
			return nil
		})

	case TypeZSetZiplist, TypeZSetListpack:
		v.Type = TypeZSet
		d := dupChecker{}
		var member []byte
		odd := false
		err := r.packed(t, "packed zset", func(e []byte) error {
			if !odd {
				member, odd = e, true
				return nil
			}
			odd = false
			f, ok := parseScore(e)
			if !ok || math.IsNaN(f) {
				return fmt.Errorf("bad zset score %q", e)
			}
			if !d.add(member) {
				return errors.New("duplicate zset member")
			}
			v.ZSet = append(v.ZSet, ZMember{member, f})
			return nil
		})
		if err == nil && odd {
			err = r.corrupt("packed zset with odd element count")
		}
		sortZSet(v.ZSet)
		return err

	case TypeHashZiplist, TypeHashListpack:
		v.Type = TypeHash
		d := dupChecker{}
		var field []byte
		odd := false
		err := r.packed(t, "packed hash", func(e []byte) error {
			if !odd {
				field, odd = e, true
				return nil
			}
			odd = false
			if !d.add(field) {
				return errors.New("duplicate hash field")
			}
			v.Hash = append(v.Hash, HashField{field, e})
			return nil
		})
		if err == nil && odd {
			err = r.corrupt("packed hash with odd element count")
		}
		return err

	case TypeHashZipmap:
		v.Type = TypeHash
		blob, err := r.readString("zipmap")
		if err != nil {
			return err
		}
		fields, err := ZipmapDecode(blob)
		if err != nil {
			return r.corrupt("bad zipmap")
		}
		d := dupChecker{}
		for _, f := range fields {
			if !d.add(f.Field) {
				return r.corrupt("duplicate hash field")
			}
		}
		v.Hash = fields
		return nil

	case TypeStreamListpacks, TypeStreamListpacks2, TypeStreamListpacks3:
		return r.unsupported(fmt.Sprintf("type %d (stream)", t))
	case TypeModule, TypeModule2:
		return r.unsupported(fmt.Sprintf("type %d (module)", t))
	}
	return r.corrupt("unknown value type %d", byte(t))
}

// packed reads a string holding a ziplist (for ziplist types) or listpack
// and feeds its elements to fn.
func (r *reader) packed(t Type, what string, fn func([]byte) error) error {
	blob, err := r.readString(what)
	if err != nil {
		return err
	}
	switch t {
	case TypeListZiplist, TypeZSetZiplist, TypeHashZiplist:
		err = ziplistEach(blob, fn)
	default:
		err = listpackEach(blob, fn)
	}
	if err != nil {
		return r.corrupt("bad %s: %v", what, err)
	}
	return nil
}

func sortZSet(z []ZMember) {
	slices.SortFunc(z, func(a, b ZMember) int {
		if a.Score < b.Score {
			return -1
		}
		if a.Score > b.Score {
			return 1
		}
		return bytes.Compare(a.Member, b.Member)
	})
}

// Load decodes an RDB file from r, streaming keys to h. It returns an
// error (a *CorruptError for bad input, or the handler's error) unless the
// whole file up to and including the EOF opcode and checksum was read and
// the checksum, when non-zero, matched.
func Load(r io.Reader, h Handler) (*Info, error) {
	limit := int64(-1)
	if l, ok := r.(interface{ Len() int }); ok {
		limit = int64(l.Len())
	}
	rd := newReader(r, limit)
	info := &Info{Aux: map[string]string{}}
	err := rd.load(h, info)
	info.BytesRead = rd.pos
	if err != nil {
		return info, err
	}
	return info, nil
}

func (rd *reader) load(h Handler, info *Info) error {
	var hdr [9]byte
	if err := rd.readInto(hdr[:], "header"); err != nil {
		return err
	}
	if string(hdr[:5]) != "REDIS" {
		return &CorruptError{Offset: 0, Reason: "bad magic (not an RDB file)"}
	}
	ver, err := strconv.Atoi(string(hdr[5:]))
	if err != nil || ver < 1 || hdr[5] < '0' || hdr[5] > '9' {
		return &CorruptError{Offset: 5, Reason: fmt.Sprintf("bad version %q", hdr[5:])}
	}
	if ver > MaxReadVersion {
		return &CorruptError{Offset: 5, Reason: fmt.Sprintf("unsupported RDB version %d", ver), Err: ErrUnsupported}
	}
	info.Version = ver
	e := &Entry{ExpireMs: 0, LRUIdle: -1, LFUFreq: -1}
	db := 0
	for {
		op, err := rd.readByte("opcode")
		if err != nil {
			return err
		}
		switch op {
		case opExpireTimeMs:
			u, err := rd.readUint64LE("expire time")
			if err != nil {
				return err
			}
			e.ExpireMs = int64(u)
			continue
		case opExpireTime:
			if err := rd.readInto(rd.num[:4], "expire time"); err != nil {
				return err
			}
			e.ExpireMs = int64(int32(binary.LittleEndian.Uint32(rd.num[:4]))) * 1000
			continue
		case opIdle:
			n, err := rd.readPlainLen("idle time")
			if err != nil {
				return err
			}
			if n > math.MaxInt64 {
				return rd.corrupt("idle time out of range")
			}
			e.LRUIdle = int64(n)
			continue
		case opFreq:
			c, err := rd.readByte("LFU frequency")
			if err != nil {
				return err
			}
			e.LFUFreq = int(c)
			continue
		case opSelectDB:
			n, err := rd.readPlainLen("database number")
			if err != nil {
				return err
			}
			if n > math.MaxInt32 {
				return rd.corrupt("database number %d out of range", n)
			}
			db = int(n)
			continue
		case opResizeDB:
			size, err := rd.readPlainLen("resizedb size")
			if err != nil {
				return err
			}
			exp, err := rd.readPlainLen("resizedb expires")
			if err != nil {
				return err
			}
			if err := h.ResizeDB(db, size, exp); err != nil {
				return err
			}
			continue
		case opAux:
			k, err := rd.readString("aux key")
			if err != nil {
				return err
			}
			v, err := rd.readString("aux value")
			if err != nil {
				return err
			}
			info.Aux[string(k)] = string(v)
			if err := h.Aux(string(k), string(v)); err != nil {
				return err
			}
			continue
		case opFunction2:
			code, err := rd.readString("function library")
			if err != nil {
				return err
			}
			info.Functions = append(info.Functions, string(code))
			if fh, ok := h.(FunctionHandler); ok {
				if err := fh.Function(code); err != nil {
					return err
				}
			}
			continue
		case opFunction:
			return rd.unsupported("opcode FUNCTION (Redis 7.0 release candidate format)")
		case opModuleAux:
			return rd.unsupported("opcode MODULE_AUX (module data)")
		case opEOF:
			sum := rd.crc
			if ver >= 5 {
				stored, err := rd.readUint64LE("checksum")
				if err != nil {
					return err
				}
				info.Checksum = stored
				if stored != 0 {
					if stored != sum {
						return &CorruptError{Offset: rd.pos - 8, Reason: fmt.Sprintf("bad checksum (expected %016x, got %016x)", stored, sum)}
					}
					info.ChecksumVerified = true
				}
			}
			return nil
		}
		// A key/value pair.
		keyOff := rd.pos
		key, err := rd.readString("key")
		if err != nil {
			return err
		}
		if err := rd.readObject(Type(op), &e.Value); err != nil {
			if ce, ok := err.(*CorruptError); ok && ce.Offset < keyOff {
				ce.Offset = keyOff
			}
			return err
		}
		e.DB = db
		e.Key = key
		if err := h.Entry(e); err != nil {
			return err
		}
		*e = Entry{LRUIdle: -1, LFUFreq: -1}
	}
}
