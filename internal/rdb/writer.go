package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// Thresholds are the server settings that decide which encoding a value
// gets, named after the redis.conf directives.
type Thresholds struct {
	ListMaxListpackSize    int // list-max-listpack-size: <0 = node byte limit (-1..-5 = 4..64 KiB), >0 = entries per node
	HashMaxListpackEntries int // hash-max-listpack-entries
	HashMaxListpackValue   int // hash-max-listpack-value
	SetMaxIntsetEntries    int // set-max-intset-entries
	// SetMaxListpackEntries enables the Redis 7.2 set listpack encoding
	// (RDB type 20) when > 0. It is 0 by default because Redis 7.0
	// (RDB version 10) cannot load that type.
	SetMaxListpackEntries  int
	SetMaxListpackValue    int
	ZSetMaxListpackEntries int // zset-max-listpack-entries
	ZSetMaxListpackValue   int // zset-max-listpack-value
}

// DefaultThresholds returns the Redis 7.0 built-in defaults (as reported by
// CONFIG GET on a redis-server 7.0 started without a config file).
func DefaultThresholds() Thresholds {
	return Thresholds{
		ListMaxListpackSize:    -2,
		HashMaxListpackEntries: 512, // redis 7.0's built-in default (not 128)
		HashMaxListpackValue:   64,
		SetMaxIntsetEntries:    512,
		SetMaxListpackEntries:  0,
		SetMaxListpackValue:    64,
		ZSetMaxListpackEntries: 128,
		ZSetMaxListpackValue:   64,
	}
}

// Options control encoding.
type Options struct {
	// Compress enables LZF for strings longer than 20 bytes when it saves
	// at least 4 bytes (rdbcompression yes).
	Compress bool
	// Checksum writes the CRC64 trailer; if false 8 zero bytes are written
	// (rdbchecksum no). DumpValue always writes a checksum.
	Checksum bool
	// Thresholds overrides DefaultThresholds when non-nil.
	Thresholds *Thresholds
}

// quicklist plain-node threshold (packed_threshold, 1 GiB by default).
const plainThreshold = 1 << 30

var listSizeLimits = [...]int{4096, 8192, 16384, 32768, 65536}

const (
	quicklistSafetyLimit = 8192
	quicklistOverhead    = 8
)

// Encoder writes an RDB file. Calls must follow the file structure:
// Header, Aux*, Function*, then per database SelectDB, ResizeDB, Entry*,
// and finally Finish. Errors are sticky.
type Encoder struct {
	w   io.Writer
	buf []byte
	crc uint64
	opt Options
	th  Thresholds
	db  int
	err error
	lp  listpackBuilder
	n   int64
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer, opt Options) *Encoder {
	e := &Encoder{w: w, opt: opt, th: DefaultThresholds(), db: -1}
	if opt.Thresholds != nil {
		e.th = *opt.Thresholds
	}
	return e
}

// Thresholds sets the encoding thresholds (server configuration).
func (e *Encoder) Thresholds(t Thresholds) { e.th = t }

// Written returns the number of bytes handed to the underlying writer.
func (e *Encoder) Written() int64 { return e.n }

func (e *Encoder) flush(force bool) error {
	if e.err != nil {
		return e.err
	}
	if len(e.buf) == 0 || (!force && len(e.buf) < chunkSize) {
		return nil
	}
	e.crc = CRC64Update(e.crc, e.buf)
	n, err := e.w.Write(e.buf)
	e.n += int64(n)
	if err == nil && n < len(e.buf) {
		err = io.ErrShortWrite
	}
	e.buf = e.buf[:0]
	e.err = err
	return err
}

// Header writes the magic and version ("REDIS0010").
func (e *Encoder) Header() error {
	if e.err != nil {
		return e.err
	}
	e.buf = fmt.Appendf(e.buf, "REDIS%04d", Version)
	return e.flush(false)
}

// Aux writes an auxiliary field (redis-ver, ctime, ...).
func (e *Encoder) Aux(key, value string) error {
	if e.err != nil {
		return e.err
	}
	e.buf = append(e.buf, opAux)
	e.buf = appendString(e.buf, []byte(key), e.opt.Compress)
	e.buf = appendString(e.buf, []byte(value), e.opt.Compress)
	return e.flush(false)
}

// Function writes an RDB_OPCODE_FUNCTION2 record (a function library's code).
func (e *Encoder) Function(code []byte) error {
	if e.err != nil {
		return e.err
	}
	e.buf = append(e.buf, opFunction2)
	e.buf = appendString(e.buf, code, e.opt.Compress)
	return e.flush(false)
}

// SelectDB starts database db.
func (e *Encoder) SelectDB(db int) error {
	if e.err != nil {
		return e.err
	}
	if db < 0 {
		return errors.New("rdb: negative database number")
	}
	e.buf = append(e.buf, opSelectDB)
	e.buf = appendLen(e.buf, uint64(db))
	e.db = db
	return e.flush(false)
}

// ResizeDB writes the size hints for the current database.
func (e *Encoder) ResizeDB(size, expires uint64) error {
	if e.err != nil {
		return e.err
	}
	e.buf = append(e.buf, opResizeDB)
	e.buf = appendLen(e.buf, size)
	e.buf = appendLen(e.buf, expires)
	return e.flush(false)
}

// Entry writes one key. If ent.DB differs from the current database a
// SELECTDB opcode is written first. Expiry (if non-zero), IDLE (if
// LRUIdle >= 0) and FREQ (if LFUFreq >= 0) precede the key, as in Redis.
func (e *Encoder) Entry(ent *Entry) error {
	if e.err != nil {
		return e.err
	}
	if ent.DB != e.db {
		if err := e.SelectDB(ent.DB); err != nil {
			return err
		}
	}
	if err := validateValue(&ent.Value); err != nil {
		return err
	}
	if ent.LFUFreq > 255 {
		return errors.New("rdb: LFUFreq out of range")
	}
	b := e.buf
	if ent.ExpireMs != 0 {
		b = append(b, opExpireTimeMs)
		b = binary.LittleEndian.AppendUint64(b, uint64(ent.ExpireMs))
	}
	if ent.LRUIdle >= 0 {
		b = append(b, opIdle)
		b = appendLen(b, uint64(ent.LRUIdle))
	}
	if ent.LFUFreq >= 0 {
		b = append(b, opFreq, byte(ent.LFUFreq))
	}
	t := e.th.objectType(&ent.Value)
	b = append(b, byte(t))
	b = appendString(b, ent.Key, e.opt.Compress)
	e.buf = e.appendBody(b, t, &ent.Value)
	return e.flush(false)
}

// StringEntry writes a string key of database db, like Entry with a
// string Value and no LRU/LFU metadata, without building a Value.
func (e *Encoder) StringEntry(db int, key, val []byte, expireMs int64) error {
	return e.blobEntry(db, TypeString, key, val, expireMs)
}

// blobEntry writes a key whose value is one string in the file (a string,
// or an already encoded listpack), with its expiry, selecting db first.
func (e *Encoder) blobEntry(db int, t Type, key, val []byte, expireMs int64) error {
	if e.err != nil {
		return e.err
	}
	if db != e.db {
		if err := e.SelectDB(db); err != nil {
			return err
		}
	}
	b := e.buf
	if expireMs != 0 {
		b = append(b, opExpireTimeMs)
		b = binary.LittleEndian.AppendUint64(b, uint64(expireMs))
	}
	b = append(b, byte(t))
	b = appendString(b, key, e.opt.Compress)
	e.buf = appendString(b, val, e.opt.Compress)
	if len(e.buf) < chunkSize {
		return nil
	}
	return e.flush(false)
}

// HashListpackEntry writes a hash of database db whose fields and values
// are already a listpack (lp, alternating field and value, pairs fields:
// the in-memory encoding of a small hash) as type 16, copying the blob, as
// Redis does. Like Redis, it keeps the encoding the hash has in memory:
// element lengths are not checked against hash-max-listpack-value (a
// hash stays a listpack when the setting is lowered later). It reports
// false, writing nothing, when the hash has more than
// hash-max-listpack-entries fields: the caller then writes it with Entry.
func (e *Encoder) HashListpackEntry(db int, key, lp []byte, pairs int, expireMs int64) (bool, error) {
	if e.err != nil {
		return false, e.err
	}
	if pairs > e.th.HashMaxListpackEntries {
		return false, nil
	}
	return true, e.blobEntry(db, TypeHashListpack, key, lp, expireMs)
}

// Finish writes the EOF opcode and the checksum and flushes.
func (e *Encoder) Finish() error {
	if e.err != nil {
		return e.err
	}
	e.buf = append(e.buf, opEOF)
	if err := e.flush(true); err != nil {
		return err
	}
	var sum uint64
	if e.opt.Checksum {
		sum = e.crc
	}
	e.buf = binary.LittleEndian.AppendUint64(e.buf, sum)
	return e.flush(true)
}

func validateValue(v *Value) error {
	switch v.Type {
	case TypeString, TypeList, TypeSet, TypeHash:
		return nil
	case TypeZSet:
		for _, m := range v.ZSet {
			if math.IsNaN(m.Score) {
				return errors.New("rdb: NaN score in sorted set")
			}
		}
		return nil
	}
	return fmt.Errorf("rdb: cannot encode value type %v", v.Type)
}

// ObjectType returns the on-disk type the value is stored as under t.
func (t Thresholds) ObjectType(v *Value) Type { return t.objectType(v) }

func (t *Thresholds) objectType(v *Value) Type {
	switch v.Type {
	case TypeList:
		return TypeListQuicklist2
	case TypeSet:
		if len(v.Set) <= t.SetMaxIntsetEntries {
			all := true
			for _, m := range v.Set {
				if _, ok := ParseCanonicalInt(m); !ok {
					all = false
					break
				}
			}
			if all {
				return TypeSetIntset
			}
		}
		if t.SetMaxListpackEntries > 0 && len(v.Set) <= t.SetMaxListpackEntries {
			ok := true
			for _, m := range v.Set {
				if len(m) > t.SetMaxListpackValue {
					ok = false
					break
				}
			}
			if ok {
				return TypeSetListpack
			}
		}
		return TypeSet
	case TypeZSet:
		if len(v.ZSet) <= t.ZSetMaxListpackEntries {
			for _, m := range v.ZSet {
				if len(m.Member) > t.ZSetMaxListpackValue {
					return TypeZSet2
				}
			}
			return TypeZSetListpack
		}
		return TypeZSet2
	case TypeHash:
		if len(v.Hash) <= t.HashMaxListpackEntries {
			for _, f := range v.Hash {
				if len(f.Field) > t.HashMaxListpackValue || len(f.Value) > t.HashMaxListpackValue {
					return TypeHash
				}
			}
			return TypeHashListpack
		}
		return TypeHash
	}
	return TypeString
}

func appendLen(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, 0x40|byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		b = append(b, 0x80)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	}
	b = append(b, 0x81)
	return binary.BigEndian.AppendUint64(b, n)
}

// appendString writes s as Redis's rdbSaveRawString does: integer encoding
// for short canonical integers fitting 32 bits, else LZF when enabled and
// len > 20 and it saves at least 4 bytes, else raw.
func appendString(b, s []byte, compress bool) []byte {
	if len(s) <= 11 {
		if v, ok := ParseCanonicalInt(s); ok {
			switch {
			case v >= math.MinInt8 && v <= math.MaxInt8:
				return append(b, 0xC0, byte(v))
			case v >= math.MinInt16 && v <= math.MaxInt16:
				return append(b, 0xC1, byte(v), byte(v>>8))
			case v >= math.MinInt32 && v <= math.MaxInt32:
				b = append(b, 0xC2)
				return binary.LittleEndian.AppendUint32(b, uint32(v))
			}
		}
	}
	if compress && len(s) > 20 {
		if b, ok := appendLZF(b, s, len(s)-4); ok {
			return b
		}
	}
	b = appendLen(b, uint64(len(s)))
	return append(b, s...)
}

// formatScore renders a score the way Redis 7.0 stores it in a listpack:
// integers within +-2^52 in decimal, else "%.17g" (inf/-inf/nan spelled out).
func formatScore(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "nan"...)
	case math.IsInf(f, 1):
		return append(buf, "inf"...)
	case math.IsInf(f, -1):
		return append(buf, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(buf, "-0"...)
		}
		return append(buf, '0')
	case f > -4503599627370495 && f < 4503599627370496 && f == math.Trunc(f):
		return strconv.AppendInt(buf, int64(f), 10)
	}
	return strconv.AppendFloat(buf, f, 'g', 17, 64)
}

func sortedZSet(z []ZMember) []ZMember {
	s := slices.Clone(z)
	sortZSet(s)
	return s
}

func (e *Encoder) appendBody(b []byte, t Type, v *Value) []byte {
	return appendBody(b, t, v, e.opt.Compress, &e.th, &e.lp)
}

func appendBody(b []byte, t Type, v *Value, compress bool, th *Thresholds, lp *listpackBuilder) []byte {
	switch t {
	case TypeString:
		return appendString(b, v.Str, compress)
	case TypeListQuicklist2:
		return appendQuicklist(b, v.List, compress, th.ListMaxListpackSize, lp)
	case TypeSetIntset:
		ints := make([]int64, len(v.Set))
		for i, m := range v.Set {
			ints[i], _ = ParseCanonicalInt(m)
		}
		return appendString(b, IntsetEncode(ints), compress)
	case TypeSetListpack:
		lp.init(64)
		for _, m := range v.Set {
			lp.append(m)
		}
		return appendString(b, lp.finish(), compress)
	case TypeSet:
		b = appendLen(b, uint64(len(v.Set)))
		for _, m := range v.Set {
			b = appendString(b, m, compress)
		}
		return b
	case TypeZSetListpack:
		lp.init(64)
		var num []byte
		for _, m := range sortedZSet(v.ZSet) {
			lp.append(m.Member)
			num = formatScore(num[:0], m.Score)
			lp.append(num)
		}
		return appendString(b, lp.finish(), compress)
	case TypeZSet2:
		z := sortedZSet(v.ZSet)
		b = appendLen(b, uint64(len(z)))
		for i := len(z) - 1; i >= 0; i-- { // Redis writes from the highest score down
			b = appendString(b, z[i].Member, compress)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(z[i].Score))
		}
		return b
	case TypeHashListpack:
		lp.init(64)
		for _, f := range v.Hash {
			lp.append(f.Field)
			lp.append(f.Value)
		}
		return appendString(b, lp.finish(), compress)
	case TypeHash:
		b = appendLen(b, uint64(len(v.Hash)))
		for _, f := range v.Hash {
			b = appendString(b, f.Field, compress)
			b = appendString(b, f.Value, compress)
		}
		return b
	}
	panic("rdb: unreachable encoding " + t.String())
}

// appendQuicklist writes a list as Redis 7.0's quicklist of listpack nodes,
// splitting nodes where RPUSH-ing the elements one by one would.
func appendQuicklist(b []byte, list [][]byte, compress bool, fill int, lp *listpackBuilder) []byte {
	type node struct {
		plain []byte
		lp    []byte
	}
	var nodes []node
	lp.init(256)
	open := false
	closeNode := func() {
		if open {
			nodes = append(nodes, node{lp: slices.Clone(lp.finish())})
			lp.init(256)
			open = false
		}
	}
	for _, el := range list {
		if len(el) >= plainThreshold {
			closeNode()
			nodes = append(nodes, node{plain: el})
			continue
		}
		if open && !quicklistAllows(lp.size(), lp.count, len(el), fill) {
			closeNode()
		}
		lp.append(el)
		open = true
	}
	closeNode()
	b = appendLen(b, uint64(len(nodes)))
	for _, n := range nodes {
		if n.plain != nil {
			b = appendLen(b, 1)
			b = appendString(b, n.plain, compress)
		} else {
			b = appendLen(b, 2)
			b = appendString(b, n.lp, compress)
		}
	}
	return b
}

func quicklistAllows(nodeSize, count, elemLen, fill int) bool {
	newSize := nodeSize + elemLen + quicklistOverhead
	if fill < 0 {
		return newSize <= listSizeLimits[min(-fill, len(listSizeLimits))-1]
	}
	return newSize <= quicklistSafetyLimit && count < fill
}

// DumpValue serialises v as a DUMP payload: the value's RDB encoding, the
// RDB version (2 bytes LE) and the CRC64 of everything before (8 bytes LE).
// opt.Compress and opt.Thresholds apply; a checksum is always written. It
// returns nil if v cannot be encoded (unknown type, NaN score).
func DumpValue(v *Value, opt Options) []byte {
	if validateValue(v) != nil {
		return nil
	}
	th := DefaultThresholds()
	if opt.Thresholds != nil {
		th = *opt.Thresholds
	}
	t := th.objectType(v)
	var lp listpackBuilder
	b := append(make([]byte, 0, 64), byte(t))
	b = appendBody(b, t, v, opt.Compress, &th, &lp)
	b = binary.LittleEndian.AppendUint16(b, Version)
	return binary.LittleEndian.AppendUint64(b, CRC64(b))
}

type restoreError struct{ base, detail error }

func (e *restoreError) Error() string   { return e.base.Error() }
func (e *restoreError) Unwrap() []error { return []error{e.base, e.detail} }

// RestoreValue decodes a DUMP payload. Version or checksum problems yield
// an error matching ErrDumpPayload (errors.Is), undecodable data one
// matching ErrBadDataFormat that also wraps the *CorruptError. The value's
// byte slices may alias payload.
func RestoreValue(payload []byte) (*Value, error) {
	if len(payload) < 10 {
		return nil, ErrDumpPayload
	}
	body := payload[:len(payload)-8]
	ver := binary.LittleEndian.Uint16(payload[len(payload)-10:])
	if ver > MaxReadVersion {
		return nil, ErrDumpPayload
	}
	if CRC64(body) != binary.LittleEndian.Uint64(payload[len(payload)-8:]) {
		return nil, ErrDumpPayload
	}
	data := body[:len(body)-2]
	r := newBytesReader(data)
	t, err := r.readByte("value type")
	if err != nil {
		return nil, &restoreError{ErrBadDataFormat, err}
	}
	v := new(Value)
	if err := r.readObject(Type(t), v); err != nil {
		return nil, &restoreError{ErrBadDataFormat, err}
	}
	if r.pos() != int64(len(data)) {
		return nil, &restoreError{ErrBadDataFormat, r.corrupt("%d trailing bytes after value", int64(len(data))-r.pos())}
	}
	return v, nil
}
