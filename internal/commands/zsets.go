package commands

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/vigil-kv/vigil/internal/keyspace"
)

// Sorted set commands (Redis 7.0's t_zset.c), including the blocking ones.

func init() {
	Register(
		&Command{Name: "zadd", Arity: -4, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: zaddCommand, Group: "sorted-set", Since: "1.2.0", Categories: "@write @sortedset @fast"},
		&Command{Name: "zincrby", Arity: 4, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Proc: zincrbyCommand, Group: "sorted-set", Since: "1.2.0", Categories: "@write @sortedset @fast"},
		&Command{Name: "zrem", Arity: -3, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: zremCommand, Group: "sorted-set", Since: "1.2.0", Categories: "@write @sortedset @fast"},
		&Command{Name: "zcard", Arity: 2, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: zcardCommand, Group: "sorted-set", Since: "1.2.0", Categories: "@read @sortedset @fast"},
		&Command{Name: "zcount", Arity: 4, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: zcountCommand, Group: "sorted-set", Since: "2.0.0", Categories: "@read @sortedset @fast"},
		&Command{Name: "zlexcount", Arity: 4, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: zlexcountCommand, Group: "sorted-set", Since: "2.8.9", Categories: "@read @sortedset @fast"},
		&Command{Name: "zscore", Arity: 3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: zscoreCommand, Group: "sorted-set", Since: "1.2.0", Categories: "@read @sortedset @fast"},
		&Command{Name: "zmscore", Arity: -3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: zmscoreCommand, Group: "sorted-set", Since: "6.2.0", Categories: "@read @sortedset @fast"},
		&Command{Name: "zrank", Arity: 3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: zrankCommand, Group: "sorted-set", Since: "2.0.0", Categories: "@read @sortedset @fast"},
		&Command{Name: "zrevrank", Arity: 3, Flags: ReadOnly | Fast, FirstKey: 1, LastKey: 1, Proc: zrevrankCommand, Group: "sorted-set", Since: "2.0.0", Categories: "@read @sortedset @fast"},
		&Command{Name: "zrange", Arity: -4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: zrangeCommand, Group: "sorted-set", Since: "1.2.0", Categories: "@read @sortedset @slow"},
		&Command{Name: "zrevrange", Arity: -4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: zrevrangeCommand, Group: "sorted-set", Since: "1.2.0", Categories: "@read @sortedset @slow"},
		&Command{Name: "zrangestore", Arity: -5, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 2, Proc: zrangestoreCommand, Group: "sorted-set", Since: "6.2.0", Categories: "@write @sortedset @slow"},
		&Command{Name: "zrangebyscore", Arity: -4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: zrangebyscoreCommand, Group: "sorted-set", Since: "1.0.5", Categories: "@read @sortedset @slow"},
		&Command{Name: "zrevrangebyscore", Arity: -4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: zrevrangebyscoreCommand, Group: "sorted-set", Since: "2.2.0", Categories: "@read @sortedset @slow"},
		&Command{Name: "zrangebylex", Arity: -4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: zrangebylexCommand, Group: "sorted-set", Since: "2.8.9", Categories: "@read @sortedset @slow"},
		&Command{Name: "zrevrangebylex", Arity: -4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: zrevrangebylexCommand, Group: "sorted-set", Since: "2.8.9", Categories: "@read @sortedset @slow"},
		&Command{Name: "zremrangebyrank", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Proc: zremrangebyrankCommand, Group: "sorted-set", Since: "2.0.0", Categories: "@write @sortedset @slow"},
		&Command{Name: "zremrangebyscore", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Proc: zremrangebyscoreCommand, Group: "sorted-set", Since: "1.2.0", Categories: "@write @sortedset @slow"},
		&Command{Name: "zremrangebylex", Arity: 4, Flags: Write, FirstKey: 1, LastKey: 1, Proc: zremrangebylexCommand, Group: "sorted-set", Since: "2.8.9", Categories: "@write @sortedset @slow"},
		&Command{Name: "zpopmin", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: zpopminCommand, Group: "sorted-set", Since: "5.0.0", Categories: "@write @sortedset @fast"},
		&Command{Name: "zpopmax", Arity: -2, Flags: Write | Fast, FirstKey: 1, LastKey: 1, Proc: zpopmaxCommand, Group: "sorted-set", Since: "5.0.0", Categories: "@write @sortedset @fast"},
		&Command{Name: "zmpop", Arity: -4, Flags: Write, Keys: listNumkeysKeys(1), Proc: zmpopCommand, Group: "sorted-set", Since: "7.0.0", Categories: "@write @sortedset @slow"},
		&Command{Name: "bzpopmin", Arity: -3, Flags: Write | NoScript | Blocking | Fast, FirstKey: 1, LastKey: -2, Proc: bzpopminCommand, Group: "sorted-set", Since: "5.0.0", Categories: "@write @sortedset @fast @blocking"},
		&Command{Name: "bzpopmax", Arity: -3, Flags: Write | NoScript | Blocking | Fast, FirstKey: 1, LastKey: -2, Proc: bzpopmaxCommand, Group: "sorted-set", Since: "5.0.0", Categories: "@write @sortedset @fast @blocking"},
		&Command{Name: "bzmpop", Arity: -5, Flags: Write | Blocking, Keys: listNumkeysKeys(2), Proc: bzmpopCommand, Group: "sorted-set", Since: "7.0.0", Categories: "@write @sortedset @slow @blocking"},
		&Command{Name: "zrandmember", Arity: -2, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: zrandmemberCommand, Group: "sorted-set", Since: "6.2.0", Categories: "@read @sortedset @slow"},
		&Command{Name: "zunion", Arity: -3, Flags: ReadOnly, Keys: listNumkeysKeys(1), Proc: zunionCommand, Group: "sorted-set", Since: "6.2.0", Categories: "@read @sortedset @slow"},
		&Command{Name: "zinter", Arity: -3, Flags: ReadOnly, Keys: listNumkeysKeys(1), Proc: zinterCommand, Group: "sorted-set", Since: "6.2.0", Categories: "@read @sortedset @slow"},
		&Command{Name: "zdiff", Arity: -3, Flags: ReadOnly, Keys: listNumkeysKeys(1), Proc: zdiffCommand, Group: "sorted-set", Since: "6.2.0", Categories: "@read @sortedset @slow"},
		&Command{Name: "zintercard", Arity: -3, Flags: ReadOnly, Keys: listNumkeysKeys(1), Proc: zintercardCommand, Group: "sorted-set", Since: "7.0.0", Categories: "@read @sortedset @slow"},
		&Command{Name: "zunionstore", Arity: -4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Keys: zsetStoreKeys, Proc: zunionstoreCommand, Group: "sorted-set", Since: "2.0.0", Categories: "@write @sortedset @slow"},
		&Command{Name: "zinterstore", Arity: -4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Keys: zsetStoreKeys, Proc: zinterstoreCommand, Group: "sorted-set", Since: "2.0.0", Categories: "@write @sortedset @slow"},
		&Command{Name: "zdiffstore", Arity: -4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Keys: zsetStoreKeys, Proc: zdiffstoreCommand, Group: "sorted-set", Since: "6.2.0", Categories: "@write @sortedset @slow"},
		&Command{Name: "zscan", Arity: -3, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Proc: zscanCommand, Group: "sorted-set", Since: "2.8.0", Categories: "@read @sortedset @slow"},
	)
}

func zsetStoreKeys(args [][]byte) []int {
	out := []int{1}
	return append(out, listNumkeysKeys(2)(args)...)
}

const (
	zsetMin = 0
	zsetMax = 1
)

const zsetNaNErr = "ERR resulting score is not a number (NaN)"

func zsetLookupRead(c *Ctx, key []byte) (*keyspace.ZSet, bool) {
	return lookupRead[*keyspace.ZSet](c, key, keyspace.TypeZSet)
}

func zsetLookupWrite(c *Ctx, key []byte) (*keyspace.Entry, *keyspace.ZSet, bool) {
	e, z, ok := lookupWrite[*keyspace.ZSet](c, key, keyspace.TypeZSet)
	if e != nil {
		zsetApplyLimits(c, z)
	}
	return e, z, ok
}

func zsetApplyLimits(c *Ctx, z *keyspace.ZSet) {
	z.MaxCompactEntries = int(c.Srv.Setting("zset-max-listpack-entries"))
	z.MaxCompactValue = int(c.Srv.Setting("zset-max-listpack-value"))
}

// zsetNew creates a detached set with the configured limits, in skiplist
// form from the start when sizeHint / the first member exceed them.
func zsetNew(c *Ctx, sizeHint, valHint int) *keyspace.ZSet {
	z := keyspace.NewZSet()
	zsetApplyLimits(c, z)
	if sizeHint > z.MaxCompactEntries || valHint > z.MaxCompactValue {
		z.ConvertToSkiplist()
	}
	return z
}

// zsetDeleteIfEmpty removes key when z became empty; reports whether it did.
func zsetDeleteIfEmpty(c *Ctx, key []byte, e *keyspace.Entry, z *keyspace.ZSet) bool {
	if z.Len() == 0 {
		c.DB.Delete(string(key))
		return true
	}
	c.DB.Touch(e)
	return false
}

// zsetStrtod parses like C's strtod over the whole string (used for range
// bounds): leading spaces allowed, an empty string is 0, hex accepted.
func zsetStrtod(b []byte) (float64, bool) {
	s := strings.TrimLeft(string(b), " \t\n\v\f\r")
	if s == "" {
		return 0, true
	}
	if strings.ContainsRune(s, '_') {
		return 0, false
	}
	t := s
	if len(t) > 0 && (t[0] == '+' || t[0] == '-') {
		t = t[1:]
	}
	if len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') && !strings.ContainsAny(t, "pP") {
		s += "p0"
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// parseSmallInt is zsetParseScore's fast path for the common case, an
// optionally signed decimal integer of at most 15 digits (exact as a
// float64, so the same value strtod gives, -0 included).
func parseSmallInt(b []byte) (float64, bool) {
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	f := float64(n)
	if neg {
		f = -f
	}
	return f, true
}

// zsetParseScore parses a score, weight or increment like Redis's
// getDoubleFromObject: strtod over the whole string, no leading space, no
// NaN, and overflow or underflow (ERANGE) rejected.
func zsetParseScore(b []byte) (float64, bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return 0, false
	}
	if f, ok := parseSmallInt(b); ok {
		return f, true
	}
	f, ok := zsetStrtod(b)
	if !ok || math.IsNaN(f) {
		return 0, false
	}
	if math.IsInf(f, 0) && !strings.Contains(strings.ToLower(string(b)), "inf") {
		return 0, false
	}
	if f == 0 {
		m := strings.TrimLeft(strings.ToLower(string(b)), "+-")
		hex := strings.HasPrefix(m, "0x")
		if hex {
			m = m[2:]
			if i := strings.IndexByte(m, 'p'); i >= 0 {
				m = m[:i]
			}
		} else if i := strings.IndexByte(m, 'e'); i >= 0 {
			m = m[:i]
		}
		for _, ch := range m {
			if (ch >= '1' && ch <= '9') || (hex && ch >= 'a' && ch <= 'f') {
				return 0, false
			}
		}
	}
	return f, true
}

func zsetParseScoreBound(b []byte) (keyspace.ScoreBound, bool) {
	if len(b) > 0 && b[0] == '(' {
		f, ok := zsetStrtod(b[1:])
		return keyspace.ScoreBound{V: f, Excl: true}, ok
	}
	f, ok := zsetStrtod(b)
	return keyspace.ScoreBound{V: f}, ok
}

func zsetParseScoreRange(c *Ctx, minArg, maxArg []byte) (keyspace.ScoreBound, keyspace.ScoreBound, bool) {
	min, ok1 := zsetParseScoreBound(minArg)
	max, ok2 := zsetParseScoreBound(maxArg)
	if !ok1 || !ok2 {
		c.W.Error("ERR min or max is not a float")
		return min, max, false
	}
	return min, max, true
}

func zsetParseLexBound(b []byte) (keyspace.LexBound, bool) {
	if len(b) == 0 {
		return keyspace.LexBound{}, false
	}
	switch b[0] {
	case '+':
		return keyspace.LexBound{Inf: 1, Excl: true}, len(b) == 1
	case '-':
		return keyspace.LexBound{Inf: -1, Excl: true}, len(b) == 1
	case '(':
		return keyspace.LexBound{V: string(b[1:]), Excl: true}, true
	case '[':
		return keyspace.LexBound{V: string(b[1:])}, true
	}
	return keyspace.LexBound{}, false
}

func zsetParseLexRange(c *Ctx, minArg, maxArg []byte) (keyspace.LexBound, keyspace.LexBound, bool) {
	min, ok1 := zsetParseLexBound(minArg)
	max, ok2 := zsetParseLexBound(maxArg)
	if !ok1 || !ok2 {
		c.W.Error("ERR min or max not valid string range item")
		return min, max, false
	}
	return min, max, true
}

// ---- ZADD / ZINCRBY ----

const (
	zaddNX = 1 << iota
	zaddXX
	zaddGT
	zaddLT
	zaddIncr
)

func zaddGeneric(c *Ctx, flags int) {
	key := c.Args[1]
	ch := false
	idx := 2
	for ; idx < len(c.Args); idx++ {
		a := c.Args[idx]
		switch {
		case EqualFold(a, "nx"):
			flags |= zaddNX
		case EqualFold(a, "xx"):
			flags |= zaddXX
		case EqualFold(a, "ch"):
			ch = true
		case EqualFold(a, "incr"):
			flags |= zaddIncr
		case EqualFold(a, "gt"):
			flags |= zaddGT
		case EqualFold(a, "lt"):
			flags |= zaddLT
		default:
			goto done
		}
	}
done:
	incr, nx, xx, gt, lt := flags&zaddIncr != 0, flags&zaddNX != 0, flags&zaddXX != 0, flags&zaddGT != 0, flags&zaddLT != 0
	elements := len(c.Args) - idx
	if elements%2 != 0 || elements == 0 {
		c.W.Error(ErrSyntax)
		return
	}
	elements /= 2
	if nx && xx {
		c.W.Error("ERR XX and NX options at the same time are not compatible")
		return
	}
	if (gt && nx) || (lt && nx) || (gt && lt) {
		c.W.Error("ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	}
	if incr && elements > 1 {
		c.W.Error("ERR INCR option supports a single increment-element pair")
		return
	}
	var scoreBuf [4]float64
	var scores []float64
	if elements <= len(scoreBuf) {
		scores = scoreBuf[:elements]
	} else {
		scores = make([]float64, elements)
	}
	for j := range scores {
		f, ok := zsetParseScore(c.Args[idx+j*2])
		if !ok {
			c.W.Error(ErrNotFloat)
			return
		}
		scores[j] = f
	}
	e, z, ok := zsetLookupWrite(c, key)
	if !ok {
		return
	}
	added, updated, processed := 0, 0, 0
	var score float64
	if e == nil {
		if xx {
			goto reply
		}
		z = zsetNew(c, elements, len(c.Args[idx+1]))
		e = keyspace.NewEntry(string(key), keyspace.TypeZSet, z)
		c.DB.Set(e, false)
	}
	for j := 0; j < elements; j++ {
		score = scores[j]
		member := c.Args[idx+1+j*2]
		ref, exists := z.Find(member)
		if exists {
			cur := ref.Score()
			if nx {
				continue
			}
			if incr {
				score += cur
				if math.IsNaN(score) {
					c.W.Error(zsetNaNErr)
					goto cleanup
				}
			}
			if (lt && score >= cur) || (gt && score <= cur) {
				continue
			}
			if score != cur {
				z.SetScore(ref, score)
				updated++
			}
			processed++
		} else if !xx {
			z.Add(member, score)
			added++
			processed++
		}
	}
reply:
	if incr {
		if processed > 0 {
			c.W.Double(score)
		} else {
			c.W.Null()
		}
	} else if ch {
		c.W.Int(int64(added + updated))
	} else {
		c.W.Int(int64(added))
	}
cleanup:
	if added+updated > 0 {
		c.DB.Touch(e)
		c.Modified(key)
		c.Dirty += added + updated - 1
		if incr {
			c.Notify(NotifyZSet, "zincr", key)
		} else {
			c.Notify(NotifyZSet, "zadd", key)
		}
		c.Srv.SignalKeyReady(c.DB.ID, key)
	}
}

func zaddCommand(c *Ctx) { zaddGeneric(c, 0) }

func zincrbyCommand(c *Ctx) { zaddGeneric(c, zaddIncr) }

// ---- simple reads / removal ----

func zremCommand(c *Ctx) {
	key := c.Args[1]
	e, z, ok := zsetLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.W.Int(0)
		return
	}
	deleted := 0
	removedKey := false
	for _, m := range c.Args[2:] {
		if z.Remove(m) {
			deleted++
		}
		if z.Len() == 0 {
			c.DB.Delete(string(key))
			removedKey = true
			break
		}
	}
	if deleted > 0 {
		if !removedKey {
			c.DB.Touch(e)
		}
		c.Notify(NotifyZSet, "zrem", key)
		if removedKey {
			c.Notify(NotifyGeneric, "del", key)
		}
		c.Modified(key)
		c.Dirty += deleted - 1
	}
	c.W.Int(int64(deleted))
}

func zcardCommand(c *Ctx) {
	z, ok := zsetLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(z.Len()))
}

func zcountCommand(c *Ctx) {
	min, max, ok := zsetParseScoreRange(c, c.Args[2], c.Args[3])
	if !ok {
		return
	}
	z, ok := zsetLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	f, l := z.ScoreRange(min, max)
	c.W.Int(int64(max2(l-f+1, 0)))
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func zlexcountCommand(c *Ctx) {
	min, max, ok := zsetParseLexRange(c, c.Args[2], c.Args[3])
	if !ok {
		return
	}
	z, ok := zsetLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	f, l := z.LexRange(min, max)
	c.W.Int(int64(max2(l-f+1, 0)))
}

func zscoreCommand(c *Ctx) {
	z, ok := zsetLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if z == nil {
		c.W.Null()
		return
	}
	s, found := z.Score(c.Args[2])
	if !found {
		c.W.Null()
		return
	}
	c.W.Double(s)
}

func zmscoreCommand(c *Ctx) {
	z, ok := zsetLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	c.W.ArrayLen(len(c.Args) - 2)
	for _, m := range c.Args[2:] {
		if z == nil {
			c.W.Null()
			continue
		}
		if s, found := z.Score(m); found {
			c.W.Double(s)
		} else {
			c.W.Null()
		}
	}
}

func zrankGeneric(c *Ctx, rev bool) {
	z, ok := zsetLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if z == nil {
		c.W.Null()
		return
	}
	r, found := z.Rank(c.Args[2])
	if !found {
		c.W.Null()
		return
	}
	if rev {
		r = z.Len() - 1 - r
	}
	c.W.Int(int64(r))
}

func zrankCommand(c *Ctx)    { zrankGeneric(c, false) }
func zrevrankCommand(c *Ctx) { zrankGeneric(c, true) }

// ---- ZRANGE family ----

const (
	zrangeAuto = iota
	zrangeRank
	zrangeScore
	zrangeLex
)

const (
	zdirAuto = iota
	zdirForward
	zdirReverse
)

// zsetRangeResult collects a range for a client reply or a store.
type zsetRangeResult struct {
	c          *Ctx
	store      bool
	withScores bool
	items      []keyspace.ZItem
}

func (h *zsetRangeResult) add(m string, s float64) {
	h.items = append(h.items, keyspace.ZItem{Member: m, Score: s})
}

// zsetReplyItems writes members (with scores when asked): a flat array in
// RESP2, pairs in RESP3.
func zsetReplyItems(c *Ctx, items []keyspace.ZItem, withScores bool) {
	resp3 := c.W.Proto >= 3
	if withScores && !resp3 {
		c.W.ArrayLen(len(items) * 2)
	} else {
		c.W.ArrayLen(len(items))
	}
	for _, it := range items {
		if withScores && resp3 {
			c.W.ArrayLen(2)
		}
		c.W.BulkString(it.Member)
		if withScores {
			c.W.Double(it.Score)
		}
	}
}

func zrangeGeneric(c *Ctx, argStart int, store bool, rangeType, dir int) {
	key := c.Args[argStart]
	minIdx, maxIdx := argStart+1, argStart+2
	withScores := false
	var offset, limit int64 = 0, -1
	for j := argStart + 3; j < len(c.Args); j++ {
		left := len(c.Args) - j - 1
		a := c.Args[j]
		switch {
		case !store && EqualFold(a, "withscores"):
			withScores = true
		case EqualFold(a, "limit") && left >= 2:
			o, ok1 := ParseInt(c.Args[j+1])
			if !ok1 {
				c.W.Error(ErrNotInt)
				return
			}
			l, ok2 := ParseInt(c.Args[j+2])
			if !ok2 {
				c.W.Error(ErrNotInt)
				return
			}
			offset, limit = o, l
			j += 2
		case dir == zdirAuto && EqualFold(a, "rev"):
			dir = zdirReverse
		case rangeType == zrangeAuto && EqualFold(a, "bylex"):
			rangeType = zrangeLex
		case rangeType == zrangeAuto && EqualFold(a, "byscore"):
			rangeType = zrangeScore
		default:
			c.W.Error(ErrSyntax)
			return
		}
	}
	if dir == zdirAuto {
		dir = zdirForward
	}
	if rangeType == zrangeAuto {
		rangeType = zrangeRank
	}
	if limit != -1 && rangeType == zrangeRank {
		c.W.Error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
		return
	}
	if withScores && rangeType == zrangeLex {
		c.W.Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
		return
	}
	rev := dir == zdirReverse
	if rev && rangeType != zrangeRank {
		minIdx, maxIdx = maxIdx, minIdx
	}
	var start, end int64
	var smin, smax keyspace.ScoreBound
	var lmin, lmax keyspace.LexBound
	switch rangeType {
	case zrangeRank:
		var ok1, ok2 bool
		start, ok1 = ParseInt(c.Args[minIdx])
		if !ok1 {
			c.W.Error(ErrNotInt)
			return
		}
		end, ok2 = ParseInt(c.Args[maxIdx])
		if !ok2 {
			c.W.Error(ErrNotInt)
			return
		}
	case zrangeScore:
		var ok bool
		if smin, smax, ok = zsetParseScoreRange(c, c.Args[minIdx], c.Args[maxIdx]); !ok {
			return
		}
	case zrangeLex:
		var ok bool
		if lmin, lmax, ok = zsetParseLexRange(c, c.Args[minIdx], c.Args[maxIdx]); !ok {
			return
		}
	}
	res := &zsetRangeResult{c: c, store: store, withScores: withScores}
	e := c.DB.LookupRead(string(key))
	if e != nil && e.Type != keyspace.TypeZSet {
		c.W.Error(ErrWrongType)
		return
	}
	if e != nil {
		z := e.Coll.(*keyspace.ZSet)
		n := z.Len()
		var first, last int
		switch rangeType {
		case zrangeRank:
			s, en, ok := listClampRange(start, end, n)
			if !ok {
				first, last = 0, -1
			} else if rev {
				first, last = n-1-en, n-1-s
			} else {
				first, last = s, en
			}
			offset, limit = 0, -1
		case zrangeScore:
			first, last = z.ScoreRange(smin, smax)
		case zrangeLex:
			first, last = z.LexRange(lmin, lmax)
		}
		if offset < 0 || (offset > 0 && offset >= int64(n)) {
			first, last = 0, -1
		}
		if first <= last {
			cnt := int64(last - first + 1)
			if offset >= cnt {
				first, last = 0, -1
			} else {
				if rev {
					last -= int(offset)
				} else {
					first += int(offset)
				}
				if limit >= 0 && int64(last-first+1) > limit {
					if rev {
						first = last - int(limit) + 1
					} else {
						last = first + int(limit) - 1
					}
				}
			}
		}
		if first <= last {
			z.Range(first, last, rev, func(m string, s float64) bool {
				res.add(m, s)
				return true
			})
		}
	}
	if !store {
		zsetReplyItems(c, res.items, withScores)
		return
	}
	dst := c.Args[1]
	if len(res.items) > 0 {
		nz := zsetNew(c, len(res.items), 0)
		for _, it := range res.items {
			nz.Add([]byte(it.Member), it.Score)
		}
		c.DB.Set(keyspace.NewEntry(string(dst), keyspace.TypeZSet, nz), false)
		c.Modified(dst)
		c.W.Int(int64(len(res.items)))
		c.Notify(NotifyZSet, "zrangestore", dst)
		c.Srv.SignalKeyReady(c.DB.ID, dst)
		return
	}
	c.W.Int(0)
	if c.DB.Delete(string(dst)) {
		c.Modified(dst)
		c.Notify(NotifyGeneric, "del", dst)
	}
}

func zrangeCommand(c *Ctx)      { zrangeGeneric(c, 1, false, zrangeAuto, zdirAuto) }
func zrevrangeCommand(c *Ctx)   { zrangeGeneric(c, 1, false, zrangeRank, zdirReverse) }
func zrangestoreCommand(c *Ctx) { zrangeGeneric(c, 2, true, zrangeAuto, zdirAuto) }
func zrangebyscoreCommand(c *Ctx) {
	zrangeGeneric(c, 1, false, zrangeScore, zdirForward)
}
func zrevrangebyscoreCommand(c *Ctx) {
	zrangeGeneric(c, 1, false, zrangeScore, zdirReverse)
}
func zrangebylexCommand(c *Ctx)    { zrangeGeneric(c, 1, false, zrangeLex, zdirForward) }
func zrevrangebylexCommand(c *Ctx) { zrangeGeneric(c, 1, false, zrangeLex, zdirReverse) }

// ---- ZREMRANGEBY* ----

func zremrangeGeneric(c *Ctx, rangeType int) {
	key := c.Args[1]
	var start, end int64
	var smin, smax keyspace.ScoreBound
	var lmin, lmax keyspace.LexBound
	var event string
	switch rangeType {
	case zrangeRank:
		var ok1, ok2 bool
		start, ok1 = ParseInt(c.Args[2])
		end, ok2 = ParseInt(c.Args[3])
		if !ok1 || !ok2 {
			c.W.Error(ErrNotInt)
			return
		}
		event = "zremrangebyrank"
	case zrangeScore:
		var ok bool
		if smin, smax, ok = zsetParseScoreRange(c, c.Args[2], c.Args[3]); !ok {
			return
		}
		event = "zremrangebyscore"
	case zrangeLex:
		var ok bool
		if lmin, lmax, ok = zsetParseLexRange(c, c.Args[2], c.Args[3]); !ok {
			return
		}
		event = "zremrangebylex"
	}
	e, z, ok := zsetLookupWrite(c, key)
	if !ok {
		return
	}
	if e == nil {
		c.W.Int(0)
		return
	}
	var first, last int
	switch rangeType {
	case zrangeRank:
		s, en, ok := listClampRange(start, end, z.Len())
		if !ok {
			c.W.Int(0)
			return
		}
		first, last = s, en
	case zrangeScore:
		first, last = z.ScoreRange(smin, smax)
	case zrangeLex:
		first, last = z.LexRange(lmin, lmax)
	}
	deleted := len(z.DeleteRange(first, last))
	if deleted > 0 {
		removed := zsetDeleteIfEmpty(c, key, e, z)
		c.Modified(key)
		c.Dirty += deleted - 1
		c.Notify(NotifyZSet, event, key)
		if removed {
			c.Notify(NotifyGeneric, "del", key)
		}
	}
	c.W.Int(int64(deleted))
}

func zremrangebyrankCommand(c *Ctx)  { zremrangeGeneric(c, zrangeRank) }
func zremrangebyscoreCommand(c *Ctx) { zremrangeGeneric(c, zrangeScore) }
func zremrangebylexCommand(c *Ctx)   { zremrangeGeneric(c, zrangeLex) }

// ---- pops ----

func zsetPopName(where int) []byte {
	if where == zsetMin {
		return []byte("ZPOPMIN")
	}
	return []byte("ZPOPMAX")
}

// zsetGenericPop is Redis's genericZpopCommand. count -1 is a plain single pop.
func zsetGenericPop(c *Ctx, keys [][]byte, where int, emitKey bool, count int64, nested, nilWhenEmpty bool) {
	var key []byte
	var e *keyspace.Entry
	var z *keyspace.ZSet
	for _, k := range keys {
		var ok bool
		e, z, ok = zsetLookupWrite(c, k)
		if !ok {
			return
		}
		if e != nil {
			key = k
			break
		}
	}
	if e == nil {
		if nilWhenEmpty {
			c.W.NullArray()
		} else {
			c.W.ArrayLen(0)
		}
		return
	}
	zsetPopFrom(c, key, e, z, where, emitKey, count, nested)
}

func zsetPopFrom(c *Ctx, key []byte, e *keyspace.Entry, z *keyspace.ZSet, where int, emitKey bool, count int64, nested bool) {
	if count == 0 {
		c.W.ArrayLen(0)
		return
	}
	if count == -1 {
		count = 1
	}
	n := int(min(count, int64(z.Len())))
	switch {
	case !nested && !emitKey:
		c.W.ArrayLen(n * 2)
	case nested && !emitKey:
		c.W.ArrayLen(n)
	case !nested && emitKey:
		c.W.ArrayLen(n*2 + 1)
		c.W.Bulk(key)
	default:
		c.W.ArrayLen(2)
		c.W.Bulk(key)
		c.W.ArrayLen(n)
	}
	for i := 0; i < n; i++ {
		r := 0
		if where == zsetMax {
			r = z.Len() - 1
		}
		it := z.At(r)
		z.DeleteRange(r, r)
		if nested {
			c.W.ArrayLen(2)
		}
		c.W.BulkString(it.Member)
		c.W.Double(it.Score)
	}
	if where == zsetMin {
		c.Notify(NotifyZSet, "zpopmin", key)
	} else {
		c.Notify(NotifyZSet, "zpopmax", key)
	}
	c.Modified(key)
	c.Dirty += n - 1
	if zsetDeleteIfEmpty(c, key, e, z) {
		c.Notify(NotifyGeneric, "del", key)
	}
}

func zpopGeneric(c *Ctx, where int) {
	if len(c.Args) > 3 {
		c.W.Error(ErrSyntax)
		return
	}
	count := int64(-1)
	if len(c.Args) == 3 {
		v, ok := ParseInt(c.Args[2])
		if !ok || v < 0 {
			c.W.Error(ErrNotPositive)
			return
		}
		count = v
	}
	nested := c.W.Proto >= 3 && count != -1
	zsetGenericPop(c, c.Args[1:2], where, false, count, nested, false)
}

func zpopminCommand(c *Ctx) { zpopGeneric(c, zsetMin) }
func zpopmaxCommand(c *Ctx) { zpopGeneric(c, zsetMax) }

func zsetParseMpop(c *Ctx, idx int) (keys [][]byte, where int, count int64, ok bool) {
	numkeys, ok1 := ParseInt(c.Args[idx])
	if !ok1 || numkeys <= 0 {
		c.W.Error("ERR numkeys should be greater than 0")
		return nil, 0, 0, false
	}
	whereIdx := int64(idx) + numkeys + 1
	if whereIdx >= int64(len(c.Args)) {
		c.W.Error(ErrSyntax)
		return nil, 0, 0, false
	}
	switch {
	case EqualFold(c.Args[whereIdx], "min"):
		where = zsetMin
	case EqualFold(c.Args[whereIdx], "max"):
		where = zsetMax
	default:
		c.W.Error(ErrSyntax)
		return nil, 0, 0, false
	}
	count = -1
	for j := int(whereIdx) + 1; j < len(c.Args); j++ {
		more := len(c.Args) - 1 - j
		if count == -1 && EqualFold(c.Args[j], "count") && more > 0 {
			j++
			v, ok2 := ParseInt(c.Args[j])
			if !ok2 || v <= 0 {
				c.W.Error("ERR count should be greater than 0")
				return nil, 0, 0, false
			}
			count = v
		} else {
			c.W.Error(ErrSyntax)
			return nil, 0, 0, false
		}
	}
	if count == -1 {
		count = 1
	}
	return c.Args[idx+1 : whereIdx], where, count, true
}

func zmpopCommand(c *Ctx) {
	keys, where, count, ok := zsetParseMpop(c, 1)
	if !ok {
		return
	}
	for _, k := range keys {
		e, z, ok := zsetLookupWrite(c, k)
		if !ok {
			return
		}
		if e == nil {
			continue
		}
		n := min(count, int64(z.Len()))
		zsetPopFrom(c, k, e, z, where, true, count, true)
		c.AddPropagate(zsetPopName(where), k, Itoa(n))
		return
	}
	c.W.NullArray()
}

// zsetBlockingPop serves BZPOPMIN/BZPOPMAX (count -1) and BZMPOP.
func zsetBlockingPop(c *Ctx, keys [][]byte, where int, timeoutArg []byte, count int64, nested bool) {
	timeout, ok := listParseTimeout(c, timeoutArg)
	if !ok {
		return
	}
	serve := func(k []byte, e *keyspace.Entry, z *keyspace.ZSet) {
		n := min(count, int64(z.Len()))
		zsetPopFrom(c, k, e, z, where, true, count, nested)
		if count == -1 {
			c.AddPropagate(zsetPopName(where), k)
		} else {
			c.AddPropagate(zsetPopName(where), k, Itoa(n))
		}
	}
	if rk, rerun := listBlockedReadyKey(c); rerun {
		e := c.DB.LookupWrite(string(rk))
		if e != nil && e.Type == keyspace.TypeZSet && e.Coll.Len() > 0 {
			z := e.Coll.(*keyspace.ZSet)
			zsetApplyLimits(c, z)
			serve(rk, e, z)
			return
		}
		c.Block = &BlockRequest{Keys: listBlockKeys(keys), Timeout: timeout, OnTimeout: listNullArrayTimeout}
		return
	}
	for _, k := range keys {
		e, z, ok := zsetLookupWrite(c, k)
		if !ok {
			return
		}
		if e == nil || z.Len() == 0 {
			continue
		}
		serve(k, e, z)
		return
	}
	if c.Client.NoBlock() {
		c.W.NullArray()
		return
	}
	c.Block = &BlockRequest{Keys: listBlockKeys(keys), Timeout: timeout, OnTimeout: listNullArrayTimeout}
}

func bzpopminCommand(c *Ctx) {
	zsetBlockingPop(c, c.Args[1:len(c.Args)-1], zsetMin, c.Args[len(c.Args)-1], -1, false)
}

func bzpopmaxCommand(c *Ctx) {
	zsetBlockingPop(c, c.Args[1:len(c.Args)-1], zsetMax, c.Args[len(c.Args)-1], -1, false)
}

func bzmpopCommand(c *Ctx) {
	keys, where, count, ok := zsetParseMpop(c, 2)
	if !ok {
		return
	}
	zsetBlockingPop(c, keys, where, c.Args[1], count, true)
}

// ---- ZRANDMEMBER ----

func zrandmemberCommand(c *Ctx) {
	if len(c.Args) >= 3 {
		l, ok := ParseInt(c.Args[2])
		if !ok {
			c.W.Error(ErrNotInt)
			return
		}
		if l == math.MinInt64 {
			c.W.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
			return
		}
		withScores := false
		if len(c.Args) > 4 || (len(c.Args) == 4 && !EqualFold(c.Args[3], "withscores")) {
			c.W.Error(ErrSyntax)
			return
		} else if len(c.Args) == 4 {
			withScores = true
			if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
				c.W.Error("ERR value is out of range")
				return
			}
		}
		zsetRandWithCount(c, l, withScores)
		return
	}
	z, ok := zsetLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if z == nil {
		c.W.Null()
		return
	}
	c.W.BulkString(z.Random(c.KS.Rnd.Uint64N).Member)
}

func zsetRandWithCount(c *Ctx, l int64, withScores bool) {
	z, ok := zsetLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if z == nil {
		c.W.ArrayLen(0)
		return
	}
	size := int64(z.Len())
	uniq := true
	count := l
	if l < 0 {
		count = -l
		uniq = false
	}
	if count == 0 {
		c.W.ArrayLen(0)
		return
	}
	rnd := c.KS.Rnd.Uint64N
	if !uniq || count == 1 {
		items := make([]keyspace.ZItem, count)
		for i := range items {
			items[i] = z.Random(rnd)
		}
		zsetReplyItems(c, items, withScores)
		return
	}
	if count >= size {
		// Redis 7.0 answers with the whole set, highest rank first.
		items := make([]keyspace.ZItem, 0, size)
		z.Range(0, int(size)-1, true, func(m string, s float64) bool {
			items = append(items, keyspace.ZItem{Member: m, Score: s})
			return true
		})
		zsetReplyItems(c, items, withScores)
		return
	}
	var items []keyspace.ZItem
	if count*3 > size {
		items = make([]keyspace.ZItem, 0, size)
		z.Range(0, int(size)-1, false, func(m string, s float64) bool {
			items = append(items, keyspace.ZItem{Member: m, Score: s})
			return true
		})
		for int64(len(items)) > count {
			i := rnd(uint64(len(items)))
			items[i] = items[len(items)-1]
			items = items[:len(items)-1]
		}
	} else {
		seen := make(map[string]struct{}, count)
		for int64(len(items)) < count {
			it := z.Random(rnd)
			if _, dup := seen[it.Member]; dup {
				continue
			}
			seen[it.Member] = struct{}{}
			items = append(items, it)
		}
	}
	zsetReplyItems(c, items, withScores)
}

// ---- ZUNION / ZINTER / ZDIFF ----

const (
	zsetOpUnion = iota
	zsetOpInter
	zsetOpDiff
)

const (
	zsetAggSum = iota
	zsetAggMin
	zsetAggMax
)

// zsetSource is one input of a set operation: a sorted set, a plain set
// (every member scoring 1) or a missing key.
type zsetSource struct {
	z      *keyspace.ZSet
	set    zsetPlainSet
	weight float64
}

// zsetPlainSet is what the set operations need from a SET value.
type zsetPlainSet interface {
	keyspace.Collection
	Each(fn func(member []byte) bool)
	Has(member []byte) bool
}

func (s *zsetSource) size() int {
	switch {
	case s.z != nil:
		return s.z.Len()
	case s.set != nil:
		return s.set.Len()
	}
	return 0
}

func (s *zsetSource) each(fn func(m string, score float64)) {
	switch {
	case s.z != nil:
		s.z.Range(0, s.z.Len()-1, false, func(m string, sc float64) bool {
			fn(m, sc)
			return true
		})
	case s.set != nil:
		s.set.Each(func(m []byte) bool {
			fn(string(m), 1)
			return true
		})
	}
}

func (s *zsetSource) find(m string) (float64, bool) {
	switch {
	case s.z != nil:
		return s.z.Score([]byte(m))
	case s.set != nil:
		if s.set.Has([]byte(m)) {
			return 1, true
		}
	}
	return 0, false
}

func (s *zsetSource) same(o *zsetSource) bool {
	return (s.z != nil && s.z == o.z) || (s.set != nil && o.set != nil && any(s.set) == any(o.set))
}

func zsetAggregate(target *float64, val float64, agg int) {
	switch agg {
	case zsetAggSum:
		*target += val
		if math.IsNaN(*target) {
			*target = 0
		}
	case zsetAggMin:
		if val < *target {
			*target = val
		}
	case zsetAggMax:
		if val > *target {
			*target = val
		}
	}
}

func zsetOpGeneric(c *Ctx, dst []byte, numkeysIdx int, op int, cardOnly bool) {
	setnum, ok := ParseInt(c.Args[numkeysIdx])
	if !ok {
		c.W.Error(ErrNotInt)
		return
	}
	if setnum < 1 {
		c.W.Error("ERR at least 1 input key is needed for '" + c.Cmd.Name + "' command")
		return
	}
	if setnum > int64(len(c.Args)-(numkeysIdx+1)) {
		c.W.Error(ErrSyntax)
		return
	}
	src := make([]zsetSource, setnum)
	j := numkeysIdx + 1
	for i := range src {
		var e *keyspace.Entry
		if dst != nil {
			e = c.DB.LookupWrite(string(c.Args[j]))
		} else {
			e = c.DB.LookupRead(string(c.Args[j]))
		}
		j++
		src[i].weight = 1
		if e == nil {
			continue
		}
		switch e.Type {
		case keyspace.TypeZSet:
			src[i].z = e.Coll.(*keyspace.ZSet)
		case keyspace.TypeSet:
			ps, ok := e.Coll.(zsetPlainSet)
			if !ok {
				c.W.Error(ErrWrongType)
				return
			}
			src[i].set = ps
		default:
			c.W.Error(ErrWrongType)
			return
		}
	}
	agg := zsetAggSum
	withScores := false
	var limit int64
	for remaining := len(c.Args) - j; remaining > 0; remaining = len(c.Args) - j {
		a := c.Args[j]
		switch {
		case op != zsetOpDiff && !cardOnly && remaining >= int(setnum)+1 && EqualFold(a, "weights"):
			j++
			for i := range src {
				f, ok := zsetParseScore(c.Args[j])
				if !ok {
					c.W.Error("ERR weight value is not a float")
					return
				}
				src[i].weight = f
				j++
			}
		case op != zsetOpDiff && !cardOnly && remaining >= 2 && EqualFold(a, "aggregate"):
			j++
			switch {
			case EqualFold(c.Args[j], "sum"):
				agg = zsetAggSum
			case EqualFold(c.Args[j], "min"):
				agg = zsetAggMin
			case EqualFold(c.Args[j], "max"):
				agg = zsetAggMax
			default:
				c.W.Error(ErrSyntax)
				return
			}
			j++
		case dst == nil && !cardOnly && EqualFold(a, "withscores"):
			j++
			withScores = true
		case cardOnly && remaining >= 2 && EqualFold(a, "limit"):
			j++
			v, ok := ParseInt(c.Args[j])
			if !ok || v < 0 {
				c.W.Error("ERR LIMIT can't be negative")
				return
			}
			limit = v
			j++
		default:
			c.W.Error(ErrSyntax)
			return
		}
	}
	var result []keyspace.ZItem
	cardinality := int64(0)
	if op != zsetOpDiff {
		sort.SliceStable(src, func(a, b int) bool { return src[a].size() < src[b].size() })
	}
	switch op {
	case zsetOpInter:
		stop := false
		src[0].each(func(m string, sc float64) {
			if stop {
				return
			}
			score := src[0].weight * sc
			if math.IsNaN(score) {
				score = 0
			}
			k := 1
			for ; k < len(src); k++ {
				var v float64
				if src[k].same(&src[0]) {
					v = sc * src[k].weight
				} else if found, ok := src[k].find(m); ok {
					v = found * src[k].weight
				} else {
					break
				}
				zsetAggregate(&score, v, agg)
			}
			if k == len(src) {
				if cardOnly {
					cardinality++
					if limit > 0 && cardinality >= limit {
						stop = true
					}
				} else {
					result = append(result, keyspace.ZItem{Member: m, Score: score})
				}
			}
		})
	case zsetOpUnion:
		acc := map[string]int{}
		for i := range src {
			src[i].each(func(m string, sc float64) {
				score := src[i].weight * sc
				if math.IsNaN(score) {
					score = 0
				}
				if at, ok := acc[m]; ok {
					zsetAggregate(&result[at].Score, score, agg)
				} else {
					acc[m] = len(result)
					result = append(result, keyspace.ZItem{Member: m, Score: score})
				}
			})
		}
	case zsetOpDiff:
		src[0].each(func(m string, sc float64) {
			for k := 1; k < len(src); k++ {
				if _, ok := src[k].find(m); ok {
					return
				}
			}
			result = append(result, keyspace.ZItem{Member: m, Score: sc})
		})
	}
	if cardOnly {
		c.W.Int(cardinality)
		return
	}
	sort.Slice(result, func(a, b int) bool {
		x, y := result[a], result[b]
		return x.Score < y.Score || (x.Score == y.Score && x.Member < y.Member)
	})
	if dst == nil {
		zsetReplyItems(c, result, withScores)
		return
	}
	if len(result) > 0 {
		maxLen := 0
		for _, it := range result {
			maxLen = max(maxLen, len(it.Member))
		}
		nz := zsetNew(c, len(result), maxLen)
		for _, it := range result {
			nz.Add([]byte(it.Member), it.Score)
		}
		c.DB.Set(keyspace.NewEntry(string(dst), keyspace.TypeZSet, nz), false)
		c.Modified(dst)
		c.W.Int(int64(len(result)))
		ev := "zunionstore"
		if op == zsetOpInter {
			ev = "zinterstore"
		} else if op == zsetOpDiff {
			ev = "zdiffstore"
		}
		c.Notify(NotifyZSet, ev, dst)
		c.Srv.SignalKeyReady(c.DB.ID, dst)
		return
	}
	c.W.Int(0)
	if c.DB.Delete(string(dst)) {
		c.Modified(dst)
		c.Notify(NotifyGeneric, "del", dst)
	}
}

func zunionCommand(c *Ctx)      { zsetOpGeneric(c, nil, 1, zsetOpUnion, false) }
func zinterCommand(c *Ctx)      { zsetOpGeneric(c, nil, 1, zsetOpInter, false) }
func zdiffCommand(c *Ctx)       { zsetOpGeneric(c, nil, 1, zsetOpDiff, false) }
func zintercardCommand(c *Ctx)  { zsetOpGeneric(c, nil, 1, zsetOpInter, true) }
func zunionstoreCommand(c *Ctx) { zsetOpGeneric(c, c.Args[1], 2, zsetOpUnion, false) }
func zinterstoreCommand(c *Ctx) { zsetOpGeneric(c, c.Args[1], 2, zsetOpInter, false) }
func zdiffstoreCommand(c *Ctx)  { zsetOpGeneric(c, c.Args[1], 2, zsetOpDiff, false) }

// ---- ZSCAN ----

func zscanCommand(c *Ctx) {
	cursor, ok := ParseScanCursor(c, c.Args[2])
	if !ok {
		return
	}
	z, ok := zsetLookupRead(c, c.Args[1])
	if !ok {
		return
	}
	if z == nil {
		c.W.ArrayLen(2)
		c.W.BulkString("0")
		c.W.ArrayLen(0)
		return
	}
	o, ok := ParseScanOptions(c, c.Args[3:], false)
	if !ok {
		return
	}
	var items []keyspace.ZItem
	if z.IsCompact() {
		z.Range(0, z.Len()-1, false, func(m string, s float64) bool {
			items = append(items, keyspace.ZItem{Member: m, Score: s})
			return true
		})
		cursor = 0
	} else {
		maxIter := o.Count * 10
		for {
			cursor = z.Scan(cursor, func(m string, s float64) {
				items = append(items, keyspace.ZItem{Member: m, Score: s})
			})
			maxIter--
			if cursor == 0 || maxIter <= 0 || int64(len(items)) >= o.Count {
				break
			}
		}
	}
	out := items[:0]
	for _, it := range items {
		if o.Match != nil && !Match(o.Match, []byte(it.Member), false) {
			continue
		}
		out = append(out, it)
	}
	c.W.ArrayLen(2)
	c.W.BulkString(strconv.FormatUint(cursor, 10))
	c.W.ArrayLen(len(out) * 2)
	for _, it := range out {
		c.W.BulkString(it.Member)
		c.W.BulkString(zsetD2String(it.Score))
	}
}

// zsetD2String formats a score like Redis 7.0's d2string (ZSCAN): integral
// values within +-LLONG_MAX/2 as integers, others with "%.17g".
func zsetD2String(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	if f >= -4.611686018427387903e18 && f <= 4.611686018427387903e18 && f == math.Trunc(f) {
		return strconv.FormatInt(int64(f), 10)
	}
	return FormatDouble(f)
}
