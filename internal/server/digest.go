package server

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"

	"github.com/vigil-kv/vigil/internal/commands"
	"github.com/vigil-kv/vigil/internal/keyspace"
)

// DEBUG DIGEST / DEBUG DIGEST-VALUE with Redis's algorithm (debug.c), so a
// vigil replica and a redis-server master (or the other way round) can be
// compared with one command each.
//
// The digest is order independent where the data is: a dataset digest XORs
// one 20-byte digest per key; a key's digest "mixes" (order dependent:
// xor the SHA1 of the bytes in, then SHA1 the result) the key name, the type
// as a 32-bit big-endian int, then the value: a string mixes its bytes, a
// list mixes every element in order, a set XORs the SHA1 of each member, a
// zset and a hash XOR one per-element digest (member then score printed with
// %.17g; field then value) mixed from zero. A key with a TTL XORs in the
// SHA1 of "!!expire!!". Each non-empty DB first mixes its id into the total.

func init() {
	DebugHooks = append(DebugHooks, digestHook)
}

func xorDigest(d *[20]byte, p []byte) {
	h := sha1.Sum(p)
	for i := range d {
		d[i] ^= h[i]
	}
}

func mixDigest(d *[20]byte, p []byte) {
	xorDigest(d, p)
	*d = sha1.Sum(d[:])
}

// digestScore prints a score like C's "%.17g".
func digestScore(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

// xorEntryDigest adds the value (and TTL marker) of e to d.
func xorEntryDigest(d *[20]byte, e *keyspace.Entry) {
	var aux [4]byte
	binary.BigEndian.PutUint32(aux[:], uint32(e.Type))
	mixDigest(d, aux[:])
	switch e.Type {
	case keyspace.TypeString:
		mixDigest(d, e.Str)
	case keyspace.TypeList:
		e.Coll.(*keyspace.List).Each(func(v []byte) bool { mixDigest(d, v); return true })
	case keyspace.TypeSet:
		e.Coll.(*keyspace.Set).Each(func(m []byte) bool { xorDigest(d, m); return true })
	case keyspace.TypeZSet:
		e.Coll.(*keyspace.ZSet).Each(func(m []byte, score float64) bool {
			var ed [20]byte
			mixDigest(&ed, m)
			mixDigest(&ed, []byte(digestScore(score)))
			xorDigest(d, ed[:])
			return true
		})
	case keyspace.TypeHash:
		e.Coll.(*keyspace.Hash).Each(func(f, v []byte) bool {
			var ed [20]byte
			mixDigest(&ed, f)
			mixDigest(&ed, v)
			xorDigest(d, ed[:])
			return true
		})
	}
	if e.Expire() != 0 {
		xorDigest(d, []byte("!!expire!!"))
	}
}

// DatasetDigest computes DEBUG DIGEST's 40 hex characters (lock held).
// Logically expired keys that are still stored count, as in Redis.
func (s *Server) DatasetDigest() string {
	var final [20]byte
	for j, db := range s.ks.DBs {
		if db.Len() == 0 {
			continue
		}
		var aux [4]byte
		binary.BigEndian.PutUint32(aux[:], uint32(j))
		mixDigest(&final, aux[:])
		db.Dict().ForEach(func(e *keyspace.Entry) bool {
			var d [20]byte
			mixDigest(&d, []byte(e.Key()))
			xorEntryDigest(&d, e)
			xorDigest(&final, d[:])
			return true
		})
	}
	return hex.EncodeToString(final[:])
}

func digestHook(s *Server, ctx *commands.Ctx, sub string) bool {
	switch sub {
	case "digest":
		if len(ctx.Args) != 2 {
			return false
		}
		ctx.W.Simple(s.DatasetDigest())
		return true
	case "digest-value":
		ctx.W.ArrayLen(len(ctx.Args) - 2)
		for _, k := range ctx.Args[2:] {
			var d [20]byte
			if e := ctx.DB.Dict().Get(string(k)); e != nil {
				xorEntryDigest(&d, e)
			}
			ctx.W.Simple(hex.EncodeToString(d[:]))
		}
		return true
	}
	return false
}
