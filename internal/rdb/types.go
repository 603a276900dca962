package rdb

import (
	"errors"
	"fmt"
)

// Version is the RDB format version written by this package (Redis 7.0).
const Version = 10

// MaxReadVersion is the newest RDB version Load accepts. Version 11 (Redis
// 7.2) is accepted so that files using the 7.2 set listpack encoding can be
// read; version-11-only stream encodings are reported as unsupported.
const MaxReadVersion = 11

// Type is an RDB object type byte. Values 0-4 double as the logical value
// types carried in Value.Type; the remaining constants name the on-disk
// encodings and are only seen in the file.
type Type byte

// Logical value types (also the RDB type bytes of the "plain" encodings).
const (
	TypeString Type = 0
	TypeList   Type = 1
	TypeSet    Type = 2
	TypeZSet   Type = 3 // on disk: zset with ASCII scores (pre RDB 8)
	TypeHash   Type = 4
)

// On-disk encodings (RDB object type bytes).
const (
	TypeZSet2            Type = 5  // skiplist zset, binary double scores
	TypeModule           Type = 6  // pre-GA module type (unsupported)
	TypeModule2          Type = 7  // module type (unsupported)
	TypeHashZipmap       Type = 9  // Redis < 2.6
	TypeListZiplist      Type = 10 // Redis < 3.2
	TypeSetIntset        Type = 11
	TypeZSetZiplist      Type = 12 // Redis < 7.0
	TypeHashZiplist      Type = 13 // Redis < 7.0
	TypeListQuicklist    Type = 14 // quicklist of ziplists, Redis 3.2 - 6.2
	TypeStreamListpacks  Type = 15 // unsupported
	TypeHashListpack     Type = 16
	TypeZSetListpack     Type = 17
	TypeListQuicklist2   Type = 18 // quicklist of listpacks / plain nodes, Redis 7.0
	TypeStreamListpacks2 Type = 19 // unsupported
	TypeSetListpack      Type = 20 // Redis 7.2 (RDB 11)
	TypeStreamListpacks3 Type = 21 // Redis 7.2, unsupported
)

var typeNames = map[Type]string{
	TypeString: "string", TypeList: "list", TypeSet: "set", TypeZSet: "zset", TypeHash: "hash",
	TypeZSet2: "zset2", TypeModule: "module", TypeModule2: "module2", TypeHashZipmap: "zipmap hash",
	TypeListZiplist: "ziplist list", TypeSetIntset: "intset", TypeZSetZiplist: "ziplist zset",
	TypeHashZiplist: "ziplist hash", TypeListQuicklist: "quicklist", TypeStreamListpacks: "stream",
	TypeHashListpack: "listpack hash", TypeZSetListpack: "listpack zset", TypeListQuicklist2: "quicklist2",
	TypeStreamListpacks2: "stream", TypeSetListpack: "listpack set", TypeStreamListpacks3: "stream",
}

func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// RDB opcodes.
const (
	opFunction2    = 245
	opFunction     = 246 // 7.0 release candidates only
	opModuleAux    = 247
	opIdle         = 248
	opFreq         = 249
	opAux          = 250
	opResizeDB     = 251
	opExpireTimeMs = 252
	opExpireTime   = 253
	opSelectDB     = 254
	opEOF          = 255
)

// ZMember is one sorted-set member.
type ZMember struct {
	Member []byte
	Score  float64
}

// HashField is one hash field.
type HashField struct {
	Field, Value []byte
}

// Value is a decoded value; exactly one of the slices is used according to
// Type (one of TypeString, TypeList, TypeSet, TypeZSet, TypeHash).
//
// Decoded sorted sets are returned in ascending (score, member) order.
// Set and hash order is the file order.
type Value struct {
	Type Type
	Str  []byte
	List [][]byte
	Set  [][]byte
	ZSet []ZMember
	Hash []HashField
	// Listpack, for a Handler implementing ListpackHandler, holds the raw
	// listpack of a hash stored as type 16 (hash listpack) instead of
	// Hash: validated (structure, even element count, distinct fields),
	// alternating field and value. It is a new allocation the handler may
	// keep (not reused by the decoder).
	Listpack []byte
	// ListpackMaxLen is the length of Listpack's longest element (as a
	// string: integers in decimal).
	ListpackMaxLen int
}

// Entry is one key of the keyspace.
//
// The zero Entry is NOT "no metadata": LRUIdle and LFUFreq use -1 for
// "absent" (as produced by the decoder); set them to -1 when encoding keys
// without LRU/LFU information.
type Entry struct {
	DB       int
	Key      []byte
	Value    Value
	ExpireMs int64 // absolute unix time in ms, 0 = no expiry
	LRUIdle  int64 // seconds, -1 if absent (RDB_OPCODE_IDLE)
	LFUFreq  int   // 0-255, -1 if absent (RDB_OPCODE_FREQ)
}

// Handler receives the contents of an RDB file from Load.
type Handler interface {
	Aux(key, value string) error
	ResizeDB(db int, size, expires uint64) error
	// Entry is called once per key. e and its slices may be reused after
	// the call returns: copy what you keep.
	Entry(e *Entry) error
}

// ListpackHandler may optionally be implemented by a Handler that keeps
// small hashes as listpacks (Redis's own in-memory encoding): when
// RawHashListpacks returns true, hashes of type 16 are passed as the
// validated blob in Value.Listpack (Value.Hash empty, the blob newly
// allocated and handed over) instead of being decoded field by field.
type ListpackHandler interface {
	RawHashListpacks() bool
}

// FunctionHandler may optionally be implemented by a Handler to receive
// RDB_OPCODE_FUNCTION2 payloads (the source code of a function library).
// Whether or not it is implemented, the code is recorded in Info.Functions.
type FunctionHandler interface {
	Function(code []byte) error
}

// Info summarises a loaded file.
type Info struct {
	Version          int
	Aux              map[string]string
	Functions        []string // FUNCTION2 library sources, in file order
	Checksum         uint64   // checksum stored in the file (0 = none written)
	ChecksumVerified bool     // true if a non-zero checksum was present and matched
	BytesRead        int64    // bytes consumed, including the checksum
}

// ErrUnsupported is wrapped by CorruptError when the input is well formed
// but uses a feature this codec does not implement (streams, modules).
var ErrUnsupported = errors.New("unsupported")

// CorruptError reports malformed, truncated or unsupported input.
type CorruptError struct {
	Offset int64  // byte offset in the input where the problem was detected
	Reason string // e.g. "unexpected EOF reading key length"
	Err    error  // optional cause (io.ErrUnexpectedEOF, ErrUnsupported, ...)
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("rdb: corrupt input at offset %d: %s", e.Offset, e.Reason)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Errors returned by RestoreValue; the text matches what Redis replies
// (without the "ERR " prefix the server adds).
var (
	ErrDumpPayload   = errors.New("DUMP payload version or checksum are wrong")
	ErrBadDataFormat = errors.New("Bad data format")
)
