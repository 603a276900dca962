// Package rdb is a neutral codec for the Redis 7.0 RDB format (version 10)
// and the DUMP/RESTORE payload format. It does not depend on the server:
// the keyspace feeds it Entry values (Encoder) or receives them (Load).
//
// # File layout
//
//	"REDIS" + 4 ASCII digits of version ("0010")
//	{ opcode | type key value }*
//	0xFF (EOF) + 8-byte little-endian CRC64 of everything before it
//	       (0 = checksum disabled, not verified on load, as in Redis)
//
// Opcodes: 0xFA AUX <string key> <string value>; 0xFE SELECTDB <len>;
// 0xFB RESIZEDB <len size> <len expires>; 0xFC EXPIRETIME_MS <int64 LE ms>;
// 0xFD EXPIRETIME <int32 LE seconds> (old); 0xF8 IDLE <len seconds>;
// 0xF9 FREQ <1 byte>; 0xF5 FUNCTION2 <string library code> (recorded in
// Info.Functions and passed to an optional FunctionHandler); 0xF6 FUNCTION
// (7.0-rc) and 0xF7 MODULE_AUX are reported as unsupported. EXPIRETIME,
// IDLE and FREQ apply to the next key.
//
// Lengths: 00xxxxxx (6 bit), 01xxxxxx xxxxxxxx (14 bit, big endian),
// 0x80 + uint32 BE, 0x81 + uint64 BE. 11xxxxxx introduces a special string
// encoding: 0/1/2 = 8/16/32-bit little-endian integer, 3 = LZF
// (<len compressed> <len uncompressed> <data>).
//
// Strings are written like rdbSaveRawString: canonical decimal integers of
// at most 11 characters that fit in 32 bits use the integer encodings;
// otherwise, with Options.Compress, strings longer than 20 bytes are LZF
// compressed when that saves at least 4 bytes; otherwise raw. (LZF output
// is valid but not byte-identical to liblzf's.)
//
// # Value encodings
//
// Written (chosen from Thresholds, defaulting to Redis 7.0's built-in
// configuration: hash-max-listpack-entries 512 — note: not 128 —,
// hash-max-listpack-value 64, zset-max-listpack-entries 128,
// zset-max-listpack-value 64, set-max-intset-entries 512,
// list-max-listpack-size -2):
//
//	0  string
//	18 list: quicklist2; <len nodes> then per node <len container> <string>,
//	   container 2 = listpack (nodes cut where RPUSH would: a node takes
//	   another element while its size + element length + 8 <= 8 KiB),
//	   container 1 = plain single element (elements >= 1 GiB)
//	11 set of canonical integers with <= 512 members: intset blob
//	2  other sets: <len> members (set listpack, type 20, is Redis 7.2 / RDB
//	   11 only and is written only if Thresholds.SetMaxListpackEntries > 0)
//	16 hash, <= 512 fields, fields and values <= 64 bytes: listpack blob
//	   of alternating field, value
//	4  other hashes: <len> (field, value)*
//	17 zset, <= 128 members of <= 64 bytes: listpack of member, score in
//	   ascending (score, member) order; scores as integers when integral
//	   within +-2^52, else "%.17g", "inf", "-inf"
//	5  other zsets: <len> (member, float64 LE score)*, highest score first
//
// Additionally read: 1 list, 3 zset with ASCII scores (253 nan, 254 +inf,
// 255 -inf, else <1-byte len><text>), 9 zipmap hash, 10 ziplist list,
// 12 ziplist zset, 13 ziplist hash, 14 quicklist of ziplists, 20 listpack
// set (7.2). Streams (15, 19, 21) and modules (6, 7) produce a
// *CorruptError wrapping ErrUnsupported.
//
// Blob formats (exported encoders/decoders: ListpackEncode/Decode,
// ZiplistEncode/Decode, IntsetEncode/Decode, ZipmapEncode/Decode):
// listpack = uint32 total bytes, uint16 count, entries
// (<encoding+data><backlen>), 0xFF; ziplist = uint32 bytes, uint32 tail
// offset, uint16 count, entries (<prevlen><encoding><data>), 0xFF; intset =
// uint32 width (2/4/8), uint32 count, sorted little-endian integers. All
// are validated completely on decode; decoded packed integers are returned
// in decimal.
//
// Encoder.HashListpackEntry writes a hash that is already a listpack (the
// keyspace's form of small hashes) by copying the blob, keeping the
// encoding the hash has (only hash-max-listpack-entries is checked, as
// Redis saves objects in their current encoding).
//
// LZF: the compressor enters only the last two positions of a match in
// its hash table (liblzf's VERY_FAST, as Redis builds it); the table is
// reused between strings without clearing (positions are stored relative
// to a base that moves past every earlier string), so the output is the
// same as with a fresh table.
//
// # DUMP payloads
//
// <type byte><value encoding><uint16 LE RDB version><CRC64 LE of all
// preceding bytes>. RestoreValue accepts versions <= 11 and always
// verifies the checksum; errors read "DUMP payload version or checksum
// are wrong" or "Bad data format" (the server prefixes "ERR ").
//
// # Decoding guarantees
//
// Load streams: it holds at most one value in memory, decoding in place in
// its read-ahead buffer; the Entry passed to the Handler (key, string
// value, collection elements) points into reused buffers, valid until the
// call returns. From a *bufio.Reader it consumes exactly the file's bytes.
// Truncated, corrupt or unsupported input returns a *CorruptError with the
// byte offset and never panics. Declared lengths are checked against the
// remaining input when it is known (bytes.Reader and similar) and
// otherwise memory is allocated in 64 KiB steps as data actually arrives;
// LZF expansion is bounded by the format's maximum ratio. Duplicate set members, hash
// fields or zset members and NaN scores are rejected, as Redis does.
// Sorted sets are returned in ascending (score, member) order; lists, sets
// and hashes in file order. Empty collections are passed through (Redis
// skips them on load).
//
// A Handler implementing ListpackHandler receives hashes of type 16 as
// their listpack (Value.Listpack, newly allocated, LZF decompressed straight
// into it, and handed over) after one validation pass (structure, back
// lengths, element count, an even count, no duplicate field), instead of
// field by field: the keyspace keeps it as the hash.
package rdb
