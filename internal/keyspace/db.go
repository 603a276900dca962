// Package keyspace holds vigil's data: the numbered databases, their keys with
// values of every Redis type, expiry (lazy on access, active by sampling), and
// the random sampling that eviction uses.
//
// It knows nothing about clients, replies or replication: commands (package
// commands) read and mutate it, and the server serialises all access with one
// lock, so nothing here is safe for concurrent use by itself.
package keyspace

import (
	"math/rand/v2"
	"sync"
)

// Type is a value's Redis type.
type Type uint8

const (
	TypeString Type = iota
	TypeList
	TypeSet
	TypeZSet
	TypeHash
	TypeStream
)

// Name is the type name TYPE replies with.
func (t Type) Name() string {
	switch t {
	case TypeString:
		return "string"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	case TypeHash:
		return "hash"
	case TypeStream:
		return "stream"
	}
	return "none"
}

// Collection is implemented by the aggregate value types (list, set, zset,
// hash). Len is used for empty-key removal and sizes; MemUsage estimates the
// bytes held, for INFO memory, MEMORY USAGE and maxmemory.
type Collection interface {
	Len() int
	MemUsage() int64
	// Clone returns a deep copy (COPY, snapshots taken while writers run).
	Clone() Collection
	// Encoding is what OBJECT ENCODING reports ("listpack", "hashtable" ...).
	Encoding() string
}

// Entry is one key. Strings keep their bytes in Str; other types in Coll.
//
// Its size is the per-key overhead (80 bytes, one Go size class), so flags
// live in the top byte of LRU instead of fields of their own.
//
// Field order: what a lookup and the snapshot walk read (next, tag, gen,
// expire, LRU) sits in bytes 16-39, so it shares one cache line with the
// key header in most entries (80-byte objects start at 0, 16, 32 or 48
// bytes into a line); an Entry is typically a cache miss of its own, and
// two lines were two misses (the snapshot walk, 1.2M keys: ~100 ns an
// entry before).
type Entry struct {
	key    string
	next   *Entry // hash chain in Dict
	expire int64  // absolute unix ms; 0 = no TTL
	// LRU: low 24 bits are the LRU clock (seconds) or the LFU stamp
	// (16-bit minutes | 8-bit counter); the top byte holds entry flags.
	LRU  uint32
	Type Type
	// gen is the snapshot generation that last captured this entry, or
	// the one current when it was created (see snapshot.go). It fits in
	// the struct's padding.
	gen uint8
	// tag is the top 16 bits of the key's hash, so a lookup skips chain
	// entries without touching their key bytes (a cache miss each).
	tag  uint16
	Str  []byte
	Coll Collection
}

// Flags kept in the top byte of Entry.LRU.
const (
	lruMask       = 1<<24 - 1
	flagFrozen    = 1 << 24 // captured by an active snapshot: copy before writing
	flagInExpires = 1 << 25 // present in DB.expires (maybe stale)
)

// Clock returns the 24-bit LRU/LFU stamp without flags.
func (e *Entry) Clock() uint32 { return e.LRU & lruMask }

// setClock stores a stamp keeping the flags.
func (e *Entry) setClock(v uint32) { e.LRU = e.LRU&^lruMask | v&lruMask }

// Key returns the entry's key.
func (e *Entry) Key() string { return e.key }

// Expire returns the absolute expiry in unix ms, or 0.
func (e *Entry) Expire() int64 { return e.expire }

// NewStringEntry builds a detached string entry.
func NewStringEntry(key string, val []byte) *Entry {
	return &Entry{key: key, Str: val, Type: TypeString}
}

// NewEntry builds a detached entry holding a collection.
func NewEntry(key string, t Type, c Collection) *Entry {
	return &Entry{key: key, Coll: c, Type: t}
}

// DB is one numbered database.
type DB struct {
	ID   int
	dict *Dict
	// expires lists entries that have (or had) a TTL, for O(1) random
	// sampling by active expiry. Entries whose TTL was removed or that left
	// the table are dropped lazily when sampled (or compacted), which saves
	// a per-entry index; nTTL is the exact count of live keys with a TTL.
	expires []*Entry
	nTTL    int
	// AvgTTL is an estimate for INFO keyspace, maintained by active expiry.
	AvgTTL int64
	ks     *Keyspace
}

// Keyspace is the set of databases plus the hooks the server installs.
type Keyspace struct {
	DBs []*DB
	Rnd *rand.Rand
	// Now returns the current unix time in ms. The server sets it to a cached
	// clock updated per command batch so one command sees one time.
	Now func() int64
	// OnExpire is called when a key is removed because its TTL passed (lazily or
	// actively), before removal, so the server can propagate DEL and notify.
	OnExpire func(db *DB, key string)
	// OnDelete is called whenever any key is removed (for memory accounting).
	OnDelete func(db *DB, e *Entry)
	// Replica mode: expired keys are reported as missing but not deleted, the
	// master's DEL will remove them (Redis's behaviour for replicas).
	NoExpireDelete bool
	// Clock for LRU.
	LRUClock func() uint32
	// Stats.
	ExpiredKeys  int64
	KeyspaceHits int64
	KeyspaceMiss int64
	// Evict configures access stamps for LRU/LFU eviction.
	Evict EvictionMode
	// Locker is the lock that serialises access to the keyspace (the
	// server's); snapshot captures take it for one chunk at a time.
	Locker sync.Locker
	// Snapshots (see snapshot.go): the current generation, the snapshot
	// whose capture walk is in progress, and the active (unreleased) ones in
	// generation order.
	gen     uint8
	capture *Snapshot
	active  []*Snapshot
}

// New creates n databases.
func New(n int) *Keyspace {
	ks := &Keyspace{Rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	ks.DBs = make([]*DB, n)
	for i := range ks.DBs {
		ks.DBs[i] = &DB{ID: i, dict: NewDict(), ks: ks}
	}
	ks.LRUClock = func() uint32 { return 0 }
	return ks
}

func (ks *Keyspace) rnd(n uint64) uint64 { return ks.Rnd.Uint64N(n) }

// Len returns the number of keys (including logically expired ones not yet reclaimed).
func (db *DB) Len() int { return db.dict.Len() }

// ExpiresLen is the number of keys with a TTL.
func (db *DB) ExpiresLen() int { return db.nTTL }

// Dict exposes the table for SCAN and snapshotting.
func (db *DB) Dict() *Dict { return db.dict }

// expired reports whether e is logically expired at now.
func expired(e *Entry, now int64) bool { return e.expire != 0 && e.expire <= now }

// lookup finds key, expiring it if its TTL passed. It does not touch stats.
func (db *DB) lookup(key string) *Entry {
	e := db.dict.Get(key)
	if e == nil {
		return nil
	}
	if e.expire != 0 && expired(e, db.ks.Now()) {
		if db.ks.NoExpireDelete {
			return nil
		}
		db.expireEntry(e)
		return nil
	}
	return e
}

func (db *DB) expireEntry(e *Entry) {
	if db.ks.OnExpire != nil {
		db.ks.OnExpire(db, e.key)
	}
	db.ks.ExpiredKeys++
	db.remove(e.key)
}

// LookupRead finds a key for reading, updating hits/misses and the LRU stamp.
func (db *DB) LookupRead(key string) *Entry {
	e := db.lookup(key)
	if e == nil {
		db.ks.KeyspaceMiss++
		return nil
	}
	db.ks.KeyspaceHits++
	db.ks.stampAccess(e)
	return e
}

// LookupWrite finds a key that is about to be modified.
//
// While a snapshot is being saved, an entry it captured is first replaced by
// a private copy (copy-on-write), so in-place changes never reach the saver.
func (db *DB) LookupWrite(key string) *Entry {
	e := db.lookup(key)
	if e != nil {
		if db.ks.capture != nil {
			db.captureBefore(e)
		}
		if db.ks.active != nil && db.ks.frozen(e) {
			e = db.thaw(e)
		}
		db.ks.stampAccess(e)
	}
	return e
}

// Peek finds a key without side effects on stats or LRU (but still expires).
func (db *DB) Peek(key string) *Entry { return db.lookup(key) }

// Raw returns the entry even when logically expired (no side effects at all).
func (db *DB) Raw(key string) *Entry { return db.dict.Get(key) }

// Set stores e under its key, replacing any existing value and (unless
// keepTTL) its TTL. It returns the replaced entry, if any.
func (db *DB) Set(e *Entry, keepTTL bool) *Entry {
	db.ks.stampNew(e)
	old := db.dict.Get(e.key)
	if old != nil {
		if db.ks.capture != nil {
			db.captureBefore(old)
		}
		db.dict.Replace(old, e)
		if old.expire != 0 {
			at := old.expire
			db.dropTTL(old)
			if keepTTL && !expired(old, db.ks.Now()) {
				db.SetExpire(e, at)
			}
		}
		if db.ks.OnDelete != nil {
			db.ks.OnDelete(db, old)
		}
		return old
	}
	db.dict.Add(e)
	return nil
}

// Add stores a new key that the caller knows is absent.
func (db *DB) Add(e *Entry) {
	db.ks.stampNew(e)
	db.dict.Add(e)
}

// Delete removes key; it reports whether a live key was removed.
func (db *DB) Delete(key string) bool {
	e := db.lookup(key)
	if e == nil {
		return false
	}
	db.remove(key)
	return true
}

func (db *DB) remove(key string) *Entry {
	if db.ks.capture != nil {
		if e := db.dict.Get(key); e != nil {
			db.captureBefore(e)
		}
	}
	e := db.dict.Delete(key)
	if e == nil {
		return nil
	}
	if e.expire != 0 {
		db.dropTTL(e)
	}
	if db.ks.OnDelete != nil {
		db.ks.OnDelete(db, e)
	}
	return e
}

// Remove deletes the entry of key unconditionally (even when expired) and returns it.
func (db *DB) Remove(key string) *Entry { return db.remove(key) }

// dropTTL forgets e's TTL; its slot in expires goes stale and is reclaimed
// when sampled. (A snapshot keeps its own copy of the expiry.)
func (db *DB) dropTTL(e *Entry) {
	if e.expire != 0 {
		e.expire = 0
		db.nTTL--
	}
}

// SetExpire sets the absolute expiry (unix ms) of a live entry; 0 removes it.
func (db *DB) SetExpire(e *Entry, at int64) {
	if s := db.ks.capture; s != nil && e.gen != s.gen && db.dict.Get(e.key) == e {
		s.take(db.ID, e)
	}
	if at == 0 {
		db.dropTTL(e)
		return
	}
	if e.expire == 0 {
		db.nTTL++
	}
	e.expire = at
	if e.LRU&flagInExpires == 0 {
		e.LRU |= flagInExpires
		db.expires = append(db.expires, e)
	}
}

// sampleTTL returns a random live entry with a TTL, reclaiming stale slots
// it draws on the way; nil when there is none.
func (db *DB) sampleTTL() *Entry {
	for len(db.expires) > 0 {
		i := db.ks.rnd(uint64(len(db.expires)))
		e := db.expires[i]
		if e.expire != 0 && db.dict.Get(e.key) == e {
			return e
		}
		// Stale: TTL removed or the entry left the table.
		last := len(db.expires) - 1
		db.expires[i] = db.expires[last]
		db.expires[last] = nil
		db.expires = db.expires[:last]
		if e.expire == 0 {
			e.LRU &^= flagInExpires
		}
	}
	return nil
}

// compactExpires drops stale slots when they dominate (cron).
func (db *DB) compactExpires() {
	if len(db.expires) <= 2*db.nTTL+64 {
		return
	}
	out := db.expires[:0]
	for _, e := range db.expires {
		if e.expire != 0 && db.dict.Get(e.key) == e {
			out = append(out, e)
		} else if e.expire == 0 {
			e.LRU &^= flagInExpires
		}
	}
	for i := len(out); i < len(db.expires); i++ {
		db.expires[i] = nil
	}
	db.expires = out
}

// Touch marks e modified (bumps its version).
//
// Modification tracking for WATCH happens in the commands layer and
// snapshots freeze entries by flag, so this is only a marker for readers.
func (db *DB) Touch(e *Entry) {}

// Flush removes every key.
func (db *DB) Flush() {
	db.ks.finishCapture()
	db.dict = NewDict()
	db.expires = nil
	db.nTTL = 0
	db.AvgTTL = 0
}

// RandomKey returns a random live key, or nil. Like Redis it retries when it
// draws expired keys, and gives up if all sampled keys have a TTL that
// passed (returning one of them) to bound the work.
func (db *DB) RandomKey() *Entry {
	now := db.ks.Now()
	for tries := 0; tries < 100; tries++ {
		e := db.dict.Random(db.ks.rnd)
		if e == nil {
			return nil
		}
		if expired(e, now) {
			if db.ks.NoExpireDelete {
				if tries > 50 {
					return e
				}
				continue
			}
			db.expireEntry(e)
			continue
		}
		return e
	}
	return nil
}

// SampleAny returns a random entry (possibly expired) or nil.
func (db *DB) SampleAny() *Entry { return db.dict.Random(db.ks.rnd) }

// SampleVolatile returns a random entry with a TTL, or nil.
func (db *DB) SampleVolatile() *Entry { return db.sampleTTL() }

// ActiveExpire samples keys with a TTL and removes the expired ones, repeating
// while more than 10% of a sample was expired (Redis's adaptive algorithm),
// bounded by maxWork samples. It returns how many keys it removed.
func (db *DB) ActiveExpire(maxWork int) int {
	db.compactExpires()
	if db.ks.NoExpireDelete {
		return 0
	}
	removed := 0
	now := db.ks.Now()
	for maxWork > 0 && db.nTTL > 0 {
		sample := 20
		if sample > db.nTTL {
			sample = db.nTTL
		}
		hit := 0
		var ttlSum, ttlN int64
		for i := 0; i < sample; i++ {
			e := db.sampleTTL()
			if e == nil {
				break
			}
			if expired(e, now) {
				db.expireEntry(e)
				hit++
			} else {
				ttlSum += e.expire - now
				ttlN++
			}
		}
		if ttlN > 0 {
			avg := ttlSum / ttlN
			if db.AvgTTL == 0 {
				db.AvgTTL = avg
			} else {
				db.AvgTTL = (db.AvgTTL/50)*49 + avg/50
			}
		}
		removed += hit
		maxWork -= sample
		if hit*10 <= sample {
			break
		}
	}
	return removed
}

// Rename moves the entry of src to dst (dst must have been removed by the caller).
func (db *DB) Rename(src string, dst string) *Entry {
	e := db.remove(src)
	if e == nil {
		return nil
	}
	exp := e.expire
	ne := *e
	if db.ks.frozen(e) {
		ne = *e.Clone(dst)
	}
	ne.key = dst
	ne.next = nil
	ne.expire = 0
	ne.LRU &^= flagFrozen | flagInExpires
	db.Add(&ne)
	if exp != 0 {
		db.SetExpire(&ne, exp)
	}
	return &ne
}

// MoveTo moves e to another database under the same key.
func (db *DB) MoveTo(e *Entry, dst *DB) *Entry {
	exp := e.expire
	db.remove(e.key)
	ne := *e
	if db.ks.frozen(e) {
		ne = *e.Clone(e.key)
	}
	ne.next = nil
	ne.expire = 0
	ne.LRU &^= flagFrozen | flagInExpires
	dst.Add(&ne)
	if exp != 0 {
		dst.SetExpire(&ne, exp)
	}
	return &ne
}

// Swap exchanges the contents of two databases (SWAPDB).
func (ks *Keyspace) Swap(a, b int) {
	ks.finishCapture()
	da, dbb := ks.DBs[a], ks.DBs[b]
	da.dict, dbb.dict = dbb.dict, da.dict
	da.expires, dbb.expires = dbb.expires, da.expires
	da.nTTL, dbb.nTTL = dbb.nTTL, da.nTTL
	da.AvgTTL, dbb.AvgTTL = dbb.AvgTTL, da.AvgTTL
}

// Clone copies an entry's value into a detached entry with a new key.
func (e *Entry) Clone(key string) *Entry {
	ne := &Entry{key: key, Type: e.Type}
	if e.Type == TypeString {
		ne.Str = append([]byte(nil), e.Str...)
	} else if e.Coll != nil {
		ne.Coll = e.Coll.Clone()
	}
	return ne
}

// Reserve pre-sizes the database for n keys (RESIZEDB during loads).
func (db *DB) Reserve(n int) { db.dict.Reserve(n) }

// AddLoaded inserts a key read from a file or a master's snapshot; it
// returns false, inserting nothing, if the key already exists.
func (db *DB) AddLoaded(e *Entry) bool {
	db.ks.stampNew(e)
	return db.dict.AddIfAbsent(e) == nil
}
