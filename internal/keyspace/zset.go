package keyspace

import (
	"math/rand/v2"
	"sort"
)

// ZSet is Redis's sorted set: a map member -> score plus an ordered index,
// either a compact sorted slice ("listpack", for small sets) or a skiplist
// with span counts (O(log n) rank and range). Conversion is one way, from
// compact to skiplist, like Redis (except for explicit ConvertCompact used
// by the STORE commands).
//
// Everything that talks about positions uses 0-based ranks in ascending
// (score, member) order; members compare bytewise.
type ZSet struct {
	dict  *strTable[float64]
	lp    []ZItem   // compact form, sorted
	sl    *skiplist // nil while compact
	bytes int64
	// MaxCompactEntries / MaxCompactValue are the conversion thresholds
	// (zset-max-listpack-entries / -value); commands refresh them from the
	// configuration before mutating.
	MaxCompactEntries int
	MaxCompactValue   int
}

// ZItem is one member with its score.
type ZItem struct {
	Member string
	Score  float64
}

// NewZSet returns an empty compact sorted set with Redis's default limits.
func NewZSet() *ZSet {
	return &ZSet{dict: newStrTable[float64](0), MaxCompactEntries: 128, MaxCompactValue: 64}
}

// NewZSetSkiplist returns an empty set already in skiplist form.
func NewZSetSkiplist() *ZSet {
	z := NewZSet()
	z.sl = newSkiplist()
	return z
}

// Len implements Collection.
func (z *ZSet) Len() int { return z.dict.len() }

// MemUsage implements Collection.
func (z *ZSet) MemUsage() int64 {
	n := int64(z.dict.len())
	if z.sl == nil {
		return 64 + z.bytes + n*12
	}
	return 96 + 2*z.bytes + n*(48+32+40)
}

// Encoding implements Collection.
func (z *ZSet) Encoding() string {
	if z.sl == nil {
		return "listpack"
	}
	return "skiplist"
}

// Clone implements Collection.
func (z *ZSet) Clone() Collection {
	nz := &ZSet{dict: z.dict.clone(), MaxCompactEntries: z.MaxCompactEntries, MaxCompactValue: z.MaxCompactValue, bytes: z.bytes}
	if z.sl == nil {
		nz.lp = append([]ZItem(nil), z.lp...)
	} else {
		nz.sl = newSkiplist()
		z.Each(func(m []byte, s float64) bool {
			nz.sl.insert(string(m), s)
			return true
		})
	}
	return nz
}

// IsCompact reports whether the set is in its compact form.
func (z *ZSet) IsCompact() bool { return z.sl == nil }

// ConvertToSkiplist switches to the skiplist form (no-op if already).
func (z *ZSet) ConvertToSkiplist() {
	if z.sl != nil {
		return
	}
	z.sl = newSkiplist()
	for _, it := range z.lp {
		z.sl.insert(it.Member, it.Score)
	}
	z.lp = nil
}

// ConvertCompact switches back to the compact form when the set fits the
// limits (ZUNIONSTORE, ZRANGESTORE ... results), maxLen being the longest member.
func (z *ZSet) ConvertCompact() {
	if z.sl == nil || z.Len() > z.MaxCompactEntries {
		return
	}
	items := make([]ZItem, 0, z.Len())
	for x := z.sl.header.level[0].forward; x != nil; x = x.level[0].forward {
		if len(x.member) > z.MaxCompactValue {
			return
		}
		items = append(items, ZItem{x.member, x.score})
	}
	z.lp = items
	z.sl = nil
}

func zless(s1 float64, m1 string, s2 float64, m2 string) bool {
	return s1 < s2 || (s1 == s2 && m1 < m2)
}

func (z *ZSet) lpSearch(member string, score float64) int {
	return sort.Search(len(z.lp), func(i int) bool {
		it := z.lp[i]
		return !zless(it.Score, it.Member, score, member)
	})
}

// Score returns member's score.
func (z *ZSet) Score(member []byte) (float64, bool) {
	nd := z.dict.get(b2s(member))
	if nd == nil {
		return 0, false
	}
	return nd.val, true
}

// ZMember is a member as found by Find, for commands that read a score and
// then change it (ZADD) with one lookup. It is valid until the set changes.
type ZMember struct{ nd *htNode[float64] }

// Find looks member up.
func (z *ZSet) Find(member []byte) (ZMember, bool) {
	nd := z.dict.get(b2s(member))
	return ZMember{nd}, nd != nil
}

// Score returns the score of a member found by Find.
func (m ZMember) Score() float64 { return m.nd.val }

// SetScore changes the score of a member found by Find (Add for a member
// known to exist).
func (z *ZSet) SetScore(m ZMember, score float64) {
	if score == 0 {
		score = 0 // no negative zero: Redis stores scores as text in listpacks
	}
	if nd := m.nd; nd.val != score {
		z.updateIndex(nd.key, nd.val, score)
		nd.val = score
	}
}

// Add inserts member or updates its score. It reports whether it was added.
func (z *ZSet) Add(member []byte, score float64) bool {
	if score == 0 {
		score = 0 // no negative zero: Redis stores scores as text in listpacks
	}
	if nd := z.dict.get(b2s(member)); nd != nil {
		z.SetScore(ZMember{nd}, score)
		return false
	}
	if z.sl == nil && (z.Len()+1 > z.MaxCompactEntries || len(member) > z.MaxCompactValue) {
		z.ConvertToSkiplist()
	}
	nd, _ := z.dict.insert(b2s(member))
	nd.val = score
	z.bytes += int64(len(member))
	z.insertIndex(nd.key, score)
	return true
}

func (z *ZSet) insertIndex(m string, score float64) {
	if z.sl != nil {
		z.sl.insert(m, score)
		return
	}
	i := z.lpSearch(m, score)
	z.lp = append(z.lp, ZItem{})
	copy(z.lp[i+1:], z.lp[i:])
	z.lp[i] = ZItem{m, score}
}

// updateIndex moves m from score old to score in the ordered index.
func (z *ZSet) updateIndex(m string, old, score float64) {
	if z.sl != nil {
		z.sl.updateScore(m, old, score)
		return
	}
	z.removeIndex(m, old)
	z.insertIndex(m, score)
}

func (z *ZSet) removeIndex(m string, score float64) {
	if z.sl != nil {
		z.sl.delete(m, score)
		return
	}
	i := z.lpSearch(m, score)
	if i < len(z.lp) && z.lp[i].Member == m {
		copy(z.lp[i:], z.lp[i+1:])
		z.lp = z.lp[:len(z.lp)-1]
	}
}

// Remove deletes member; it reports whether it was present.
func (z *ZSet) Remove(member []byte) bool {
	nd := z.dict.get(b2s(member))
	if nd == nil {
		return false
	}
	z.removeIndex(nd.key, nd.val)
	z.bytes -= int64(len(nd.key))
	z.dict.delete(nd.key)
	z.dict.shrinkIfNeeded()
	return true
}

// Rank returns member's 0-based rank in ascending order.
func (z *ZSet) Rank(member []byte) (int, bool) {
	nd := z.dict.get(b2s(member))
	if nd == nil {
		return 0, false
	}
	m, s := nd.key, nd.val
	if z.sl != nil {
		return z.sl.rank(m, s) - 1, true
	}
	return z.lpSearch(m, s), true
}

// At returns the item at rank r (0 <= r < Len).
func (z *ZSet) At(r int) ZItem {
	if z.sl != nil {
		x := z.sl.byRank(r + 1)
		return ZItem{x.member, x.score}
	}
	return z.lp[r]
}

// Each calls fn in ascending (score, member) order until it returns false.
func (z *ZSet) Each(fn func(member []byte, score float64) bool) {
	z.Range(0, z.Len()-1, false, func(m string, s float64) bool { return fn([]byte(m), s) })
}

// Range calls fn for ranks start..end inclusive (clamped by the caller),
// ascending, or descending from end to start when rev, until fn returns false.
func (z *ZSet) Range(start, end int, rev bool, fn func(member string, score float64) bool) {
	if start < 0 {
		start = 0
	}
	if end >= z.Len() {
		end = z.Len() - 1
	}
	if start > end {
		return
	}
	if z.sl == nil {
		if !rev {
			for i := start; i <= end; i++ {
				if !fn(z.lp[i].Member, z.lp[i].Score) {
					return
				}
			}
		} else {
			for i := end; i >= start; i-- {
				if !fn(z.lp[i].Member, z.lp[i].Score) {
					return
				}
			}
		}
		return
	}
	n := end - start + 1
	if !rev {
		for x := z.sl.byRank(start + 1); x != nil && n > 0; x, n = x.level[0].forward, n-1 {
			if !fn(x.member, x.score) {
				return
			}
		}
	} else {
		for x := z.sl.byRank(end + 1); x != nil && n > 0; x, n = x.backward, n-1 {
			if !fn(x.member, x.score) {
				return
			}
		}
	}
}

// ScoreBound is one end of a score range.
type ScoreBound struct {
	V    float64
	Excl bool
}

// LexBound is one end of a lex range: Inf -1 is "-", +1 is "+".
type LexBound struct {
	V    string
	Excl bool
	Inf  int
}

func scoreAboveMin(s float64, min ScoreBound) bool {
	if min.Excl {
		return s > min.V
	}
	return s >= min.V
}

func scoreBelowMax(s float64, max ScoreBound) bool {
	if max.Excl {
		return s < max.V
	}
	return s <= max.V
}

func lexAboveMin(m string, min LexBound) bool {
	switch min.Inf {
	case -1:
		return true
	case 1:
		return false
	}
	if min.Excl {
		return m > min.V
	}
	return m >= min.V
}

func lexBelowMax(m string, max LexBound) bool {
	switch max.Inf {
	case -1:
		return false
	case 1:
		return true
	}
	if max.Excl {
		return m < max.V
	}
	return m <= max.V
}

// ScoreRange returns the rank span [first, last] of the elements in the
// score range; first > last when none.
func (z *ZSet) ScoreRange(min, max ScoreBound) (int, int) {
	if z.sl == nil {
		first := sort.Search(len(z.lp), func(i int) bool { return scoreAboveMin(z.lp[i].Score, min) })
		end := sort.Search(len(z.lp), func(i int) bool { return !scoreBelowMax(z.lp[i].Score, max) })
		return first, end - 1
	}
	first := z.sl.countWhile(func(x *slNode) bool { return !scoreAboveMin(x.score, min) })
	end := z.sl.countWhile(func(x *slNode) bool { return scoreBelowMax(x.score, max) })
	return first, end - 1
}

// LexRange is ScoreRange for member ranges (meaningful when all scores are equal).
func (z *ZSet) LexRange(min, max LexBound) (int, int) {
	if z.sl == nil {
		first := sort.Search(len(z.lp), func(i int) bool { return lexAboveMin(z.lp[i].Member, min) })
		end := sort.Search(len(z.lp), func(i int) bool { return !lexBelowMax(z.lp[i].Member, max) })
		return first, end - 1
	}
	first := z.sl.countWhile(func(x *slNode) bool { return !lexAboveMin(x.member, min) })
	end := z.sl.countWhile(func(x *slNode) bool { return lexBelowMax(x.member, max) })
	return first, end - 1
}

// DeleteRange removes ranks start..end inclusive and returns the removed members.
func (z *ZSet) DeleteRange(start, end int) []string {
	if start < 0 {
		start = 0
	}
	if end >= z.Len() {
		end = z.Len() - 1
	}
	if start > end {
		return nil
	}
	var out []string
	z.Range(start, end, false, func(m string, _ float64) bool {
		out = append(out, m)
		return true
	})
	if z.sl == nil {
		z.lp = append(z.lp[:start], z.lp[end+1:]...)
		for _, m := range out {
			z.dict.delete(m)
			z.bytes -= int64(len(m))
		}
		z.dict.shrinkIfNeeded()
		return out
	}
	for _, m := range out {
		z.Remove([]byte(m))
	}
	return out
}

// ---- skiplist (Redis's zskiplist) ----

const slMaxLevel = 32

// slLevel is one forward link. It also holds the score of the node it
// points to, so a search decides whether to step forward without loading
// that node (one cache miss less per level descended); the member is read
// from the node only when scores tie.
type slLevel struct {
	forward *slNode
	span    int
	score   float64 // forward's score (meaningless when forward is nil)
}

type slNode struct {
	member   string
	score    float64
	backward *slNode
	level    []slLevel
}

// newSLNode allocates a node and its level array in one allocation for the
// common heights, so walking the list costs one cache miss per node instead
// of two (node, then its separately allocated levels) — Redis gets the same
// with its flexible array member.
func newSLNode(m string, score float64, lvl int) *slNode {
	switch lvl {
	case 1:
		b := &struct {
			n slNode
			l [1]slLevel
		}{}
		b.n.level = b.l[:]
		b.n.member, b.n.score = m, score
		return &b.n
	case 2:
		b := &struct {
			n slNode
			l [2]slLevel
		}{}
		b.n.level = b.l[:]
		b.n.member, b.n.score = m, score
		return &b.n
	case 3:
		b := &struct {
			n slNode
			l [3]slLevel
		}{}
		b.n.level = b.l[:]
		b.n.member, b.n.score = m, score
		return &b.n
	case 4:
		b := &struct {
			n slNode
			l [4]slLevel
		}{}
		b.n.level = b.l[:]
		b.n.member, b.n.score = m, score
		return &b.n
	}
	return &slNode{member: m, score: score, level: make([]slLevel, lvl)}
}

type skiplist struct {
	header, tail *slNode
	length       int
	level        int
	rnd          *rand.Rand
}

func newSkiplist() *skiplist {
	return &skiplist{
		header: &slNode{level: make([]slLevel, slMaxLevel)},
		level:  1,
		rnd:    rand.New(rand.NewPCG(0x5eed, 0x2a)),
	}
}

func (sl *skiplist) randomLevel() int {
	lvl := 1
	for lvl < slMaxLevel && sl.rnd.Uint32()&0xFFFF < 0xFFFF/4 {
		lvl++
	}
	return lvl
}

// before reports whether link l points to a node ordered before (score, m).
func (l *slLevel) before(score float64, m string) bool {
	return l.forward != nil && (l.score < score || (l.score == score && l.forward.member < m))
}

func (sl *skiplist) insert(m string, score float64) *slNode {
	var update [slMaxLevel]*slNode
	var rank [slMaxLevel]int
	sl.findForInsert(m, score, &update, &rank)
	x := newSLNode(m, score, sl.randomLevel())
	sl.link(x, &update, &rank)
	return x
}

// findForInsert fills update with the last node before (score, m) on each
// level and rank with their ranks.
func (sl *skiplist) findForInsert(m string, score float64, update *[slMaxLevel]*slNode, rank *[slMaxLevel]int) {
	x := sl.header
	for i := sl.level - 1; i >= 0; i-- {
		if i == sl.level-1 {
			rank[i] = 0
		} else {
			rank[i] = rank[i+1]
		}
		for x.level[i].before(score, m) {
			rank[i] += x.level[i].span
			x = x.level[i].forward
		}
		update[i] = x
	}
}

// link inserts node x (member, score and level array set) after the
// positions findForInsert found.
func (sl *skiplist) link(x *slNode, update *[slMaxLevel]*slNode, rank *[slMaxLevel]int) {
	lvl := len(x.level)
	if lvl > sl.level {
		for i := sl.level; i < lvl; i++ {
			rank[i] = 0
			update[i] = sl.header
			update[i].level[i].span = sl.length
		}
		sl.level = lvl
	}
	for i := 0; i < lvl; i++ {
		u := &update[i].level[i]
		x.level[i] = slLevel{forward: u.forward, span: u.span - (rank[0] - rank[i]), score: u.score}
		u.forward, u.score = x, x.score
		u.span = (rank[0] - rank[i]) + 1
	}
	for i := lvl; i < sl.level; i++ {
		update[i].level[i].span++
	}
	x.backward = nil
	if update[0] != sl.header {
		x.backward = update[0]
	}
	if x.level[0].forward != nil {
		x.level[0].forward.backward = x
	} else {
		sl.tail = x
	}
	sl.length++
}

func (sl *skiplist) deleteNode(x *slNode, update *[slMaxLevel]*slNode) {
	for i := 0; i < sl.level; i++ {
		u := &update[i].level[i]
		if u.forward == x {
			u.span += x.level[i].span - 1
			u.forward, u.score = x.level[i].forward, x.level[i].score
		} else {
			u.span--
		}
	}
	if x.level[0].forward != nil {
		x.level[0].forward.backward = x.backward
	} else {
		sl.tail = x.backward
	}
	for sl.level > 1 && sl.header.level[sl.level-1].forward == nil {
		sl.level--
	}
	sl.length--
}

// find fills update with the last node before (score, m) on each level
// and returns the node holding (score, m), or nil.
func (sl *skiplist) find(m string, score float64, update *[slMaxLevel]*slNode) *slNode {
	x := sl.header
	for i := sl.level - 1; i >= 0; i-- {
		for x.level[i].before(score, m) {
			x = x.level[i].forward
		}
		update[i] = x
	}
	x = x.level[0].forward
	if x != nil && x.score == score && x.member == m {
		return x
	}
	return nil
}

func (sl *skiplist) delete(m string, score float64) bool {
	var update [slMaxLevel]*slNode
	if x := sl.find(m, score, &update); x != nil {
		sl.deleteNode(x, &update)
		return true
	}
	return false
}

// updateScore moves m from score old to score (Redis's zslUpdateScore):
// in place when its neighbours keep it in order, else unlinked and linked
// again at its new position, reusing the node.
func (sl *skiplist) updateScore(m string, old, score float64) {
	var update [slMaxLevel]*slNode
	x := sl.find(m, old, &update)
	if x == nil {
		sl.insert(m, score)
		return
	}
	if (x.backward == nil || x.backward.score < score) &&
		(x.level[0].forward == nil || x.level[0].forward.score > score) {
		x.score = score
		for i := range x.level {
			update[i].level[i].score = score
		}
		return
	}
	sl.deleteNode(x, &update)
	var rank [slMaxLevel]int
	sl.findForInsert(m, score, &update, &rank)
	x.score = score
	sl.link(x, &update, &rank)
}

// rank returns the 1-based rank of (m, score), 0 if absent.
func (sl *skiplist) rank(m string, score float64) int {
	r := 0
	x := sl.header
	for i := sl.level - 1; i >= 0; i-- {
		for l := &x.level[i]; l.forward != nil && (l.score < score || (l.score == score && l.forward.member <= m)); l = &x.level[i] {
			r += l.span
			x = l.forward
		}
		if x != sl.header && x.member == m {
			return r
		}
	}
	return 0
}

// byRank returns the node at 1-based rank r.
func (sl *skiplist) byRank(r int) *slNode {
	traversed := 0
	x := sl.header
	for i := sl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && traversed+x.level[i].span <= r {
			traversed += x.level[i].span
			x = x.level[i].forward
		}
		if traversed == r {
			return x
		}
	}
	return nil
}

// countWhile returns how many leading elements satisfy pred (pred must be
// true for a prefix of the order).
func (sl *skiplist) countWhile(pred func(x *slNode) bool) int {
	r := 0
	x := sl.header
	for i := sl.level - 1; i >= 0; i-- {
		for x.level[i].forward != nil && pred(x.level[i].forward) {
			r += x.level[i].span
			x = x.level[i].forward
		}
	}
	return r
}

// Scan visits the members of one cursor step (reverse-binary cursor over
// the member table, like Redis's ZSCAN on a skiplist-encoded set).
func (z *ZSet) Scan(cursor uint64, fn func(member string, score float64)) uint64 {
	return z.dict.scan(cursor, func(nd *htNode[float64]) { fn(nd.key, nd.val) })
}

// Random returns a random member (the set must not be empty).
func (z *ZSet) Random(rnd func(n uint64) uint64) ZItem {
	if z.sl == nil {
		return z.lp[rnd(uint64(len(z.lp)))]
	}
	nd := z.dict.random(rnd)
	return ZItem{nd.key, nd.val}
}
