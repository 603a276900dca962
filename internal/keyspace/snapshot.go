package keyspace

import (
	"iter"
	"sync"
	"time"

	"github.com/vigil-kv/vigil/internal/gcgoal"
	"github.com/vigil-kv/vigil/internal/lowprio"
)

// Point-in-time snapshots without fork() and without stopping the world.
//
// Redis forks and lets the kernel copy pages on write. Go can't fork safely,
// so vigil copies on write per entry, and captures the list of entries
// incrementally:
//
//   - BeginSnapshot (lock held) is O(1): it opens a new snapshot generation
//     G (Keyspace.gen) and records the time. Nothing is walked yet.
//   - The capture walks the tables in chunks of at most 100-250 µs, each
//     under the lock and followed by a pause (captureChunk; Snapshot.Lists,
//     driven by the saver's goroutine): every
//     entry whose gen is not G is appended to the snapshot with its expiry,
//     then stamped gen = G and flagged frozen. Entries created after the
//     snapshot began are born with gen = G and unfrozen, so the walk skips
//     them. The walk visits buckets in memory order with the table's
//     rehashing paused (entries don't move between buckets meanwhile; a
//     resize may start, and new entries then go to the new table), and the
//     gen stamp removes duplicates.
//   - Until the walk is over, any write first captures the entry it is about
//     to change or unlink, if the walk has not yet reached it (capture hook
//     in LookupWrite, Set, remove, SetExpire): the snapshot gets the
//     entry as it was when the snapshot began, never a later state. FLUSHDB,
//     SWAPDB and a full-sync swap finish the walk first.
//   - A frozen entry is never modified in place while its snapshot is
//     active: DB.LookupWrite replaces it in the table with a deep copy and
//     hands out the copy. Set/Delete replace or unlink the pointer and never
//     touch the old object's value. The saver reads the captured entries
//     without the lock while clients keep writing, and only entries written
//     during the save are duplicated (extra memory = what changed).
//   - Release is O(1): an entry is frozen only if its flag is set and its
//     gen belongs to a snapshot still active, so ending a snapshot thaws
//     everything it froze at once.
//
// Only one walk runs at a time: a snapshot that begins while another is
// still walking finishes the older walk first (under the lock). After a walk
// completes every live entry carries gen = G (walked, hooked, or born
// after), so "gen != G" identifies exactly the entries the next walk must
// capture, whatever earlier generation numbers wrapped to.
//
// The saver reads only Key, Type, Str and Coll of captured entries (and the
// expiry captured with them), never fields the live table may still update
// (next, LRU, expire, gen).

// SnapEntry is one captured key.
type SnapEntry struct {
	E      *Entry
	Expire int64
}

// SnapList is one database's captured entries, in segments of at most
// snapSegment entries (256 KB), allocated as the capture goes. One list
// sized for the whole database (21 MB at 1.3M keys) was one allocation that
// Go zeroes without yielding (it holds pointers): 2-15 ms during which a
// server with one P (pinned to a CPU) served nobody, measured right at the
// start of every BGSAVE and full sync. A segment costs ~50 µs.
type SnapList struct {
	segs [][]SnapEntry
	n    int
}

// snapSegment is the largest segment; the first ones are smaller (64
// entries, doubling), so small databases stay small.
const snapSegment = 16384

func (l *SnapList) add(se SnapEntry) {
	k := len(l.segs) - 1
	if k < 0 || len(l.segs[k]) == cap(l.segs[k]) {
		c := 64
		if k >= 0 {
			c = min(2*cap(l.segs[k]), snapSegment)
		}
		l.segs = append(l.segs, make([]SnapEntry, 0, c))
		k++
	}
	l.segs[k] = append(l.segs[k], se)
	l.n++
}

// Len is the number of captured entries.
func (l SnapList) Len() int { return l.n }

// Segments returns the entries in consecutive segments (read only).
func (l SnapList) Segments() [][]SnapEntry { return l.segs }

// All iterates over the entries.
func (l SnapList) All() iter.Seq[SnapEntry] {
	return func(yield func(SnapEntry) bool) {
		for _, seg := range l.segs {
			for _, se := range seg {
				if !yield(se) {
					return
				}
			}
		}
	}
}

// Snapshot is a consistent, immutable view of the keyspace.
type Snapshot struct {
	ks  *Keyspace
	gen uint8
	now int64 // keys expired at this time are left out
	dbs []SnapList
	// walk position: database, table (0/1) and bucket; walkPaused: the
	// database's rehashing is paused by this walk
	walkDB     int
	walkTable  int
	walkBucket int
	walkPaused bool
	walking    bool
	estimate   int
	done       bool
	gcRelease  func() // ends the snapshot's GC room (gcroom.go)
}

// The walk takes the lock for chunks and naps between them (a
// lowprio.Napper: time.Sleep's timers oversleep to a millisecond when the
// P goes idle; a BGSAVE of 1M keys on an idle one-CPU server took 1.9-2.5
// s with them, 1.0-1.2 s with the Napper). On a server
// with one CPU (lowprio.Paced: the encoding that follows is paced too) the
// chunks last at most 100 µs and the sleeps three times as long, so the
// walk holds the lock a quarter of the time: with clients keeping the
// server busy each waits at most a chunk, and the server keeps about 3/4 of
// its throughput. With more CPUs, chunks of 250 µs and sleeps as long (half
// the time): Go's timers oversleep short sleeps on a busy server, and at a
// quarter a full sync of 2M keys took 1-1.7 s longer on two shared CPUs
// (bench/replication.sh), where the clients' p99 did not need it.
//
// The walk costs ~85-95 ns an entry (BenchmarkSnapshotWalk: each Entry is
// a cache and TLB miss somewhere in the heap), so 1M keys take ~100 ms of
// lock time. Measured with bench/latprobe (1M keys, one CPU, 50 clients):
// at half the time the server's throughput halved during the walk and the
// median request took twice as long; at a quarter, requests during the
// walk stay within 1.1-1.6x of the p99 before it. (Session 4 tried the
// quarter and saw no change in redis-benchmark's p99, which the
// encoding's stalls, since removed by lowprio's pacing, dominated.)
const captureChunkEntries = 16384

// captureChunk returns the walk's chunk length and the sleep after a chunk
// as a multiple of its length.
func captureChunk() (time.Duration, time.Duration) {
	if lowprio.Paced() {
		return 100 * time.Microsecond, 3
	}
	return 250 * time.Microsecond, 1
}

// BeginSnapshot starts a snapshot (lock held). It costs O(1); the entries
// are captured by Lists. Keys already expired when it
// begins are left out.
func (ks *Keyspace) BeginSnapshot() *Snapshot {
	if ks.capture != nil {
		ks.capture.walkAll()
	}
	ks.gen++
	if ks.gen == 0 { // 0 is the stamp of entries made outside stampNew
		ks.gen = 1
	}
	s := &Snapshot{ks: ks, gen: ks.gen, now: ks.Now(), dbs: make([]SnapList, len(ks.DBs)), walking: true}
	for _, db := range ks.DBs {
		s.estimate += db.dict.Len()
	}
	s.gcRelease = gcgoal.Room(snapGCRoom(s.estimate))
	ks.capture = s
	ks.active = append(ks.active, s)
	return s
}

// Lists returns the captured entries per database id, finishing the capture
// first: called without the lock, it takes the keyspace's Locker for one
// short chunk at a time. (Without a Locker it assumes single-threaded use.)
func (s *Snapshot) Lists() []SnapList {
	ks := s.ks
	lk := ks.Locker
	if lk == nil {
		lk = noLock{}
	}
	chunk, pause := captureChunk()
	var n *lowprio.Napper // made once there is a pause to take
	defer func() { n.Close() }()
	lk.Lock()
	for s.walking {
		t0 := time.Now()
		s.walkStep(captureChunkEntries, chunk)
		if s.walking {
			took := time.Since(t0)
			lk.Unlock()
			if n == nil {
				n = lowprio.NewNapper()
			}
			n.Nap(max(took*pause, 50*time.Microsecond))
			lk.Lock()
		}
	}
	lk.Unlock()
	return s.dbs
}

type noLock struct{}

func (noLock) Lock()   {}
func (noLock) Unlock() {}

var _ sync.Locker = noLock{}

// walkAll finishes the walk (lock held).
func (s *Snapshot) walkAll() {
	for s.walking {
		s.walkStep(1<<30, 0)
	}
}

// walkStep captures up to maxEntries entries or for up to budget (lock held).
//
// Each database's table is walked bucket by bucket in memory order (t[0],
// then t[1]) with its rehashing paused, so no entry moves between buckets
// while the walk is under way: an entry the walk hasn't reached stays ahead
// of it unless a write touches it, and then the write hook captures it.
func (s *Snapshot) walkStep(maxEntries int, budget time.Duration) {
	ks := s.ks
	var start time.Time
	if budget > 0 {
		start = time.Now()
	}
	visited, buckets := 0, 0
	for s.walkDB < len(ks.DBs) {
		id := s.walkDB
		d := ks.DBs[id].dict
		if !s.walkPaused {
			d.paused++
			s.walkPaused, s.walkTable, s.walkBucket = true, 0, 0
		}
		for s.walkTable < 2 {
			t := &d.t[s.walkTable]
			for s.walkBucket < len(t.buckets) {
				for e := t.buckets[s.walkBucket]; e != nil; e = e.next {
					visited++
					if e.gen != s.gen {
						s.take(id, e)
					}
				}
				s.walkBucket++
				buckets++
				if visited >= maxEntries {
					return
				}
				if budget > 0 && buckets&255 == 0 && time.Since(start) >= budget {
					return
				}
			}
			s.walkTable++
			s.walkBucket = 0
		}
		d.paused--
		s.walkPaused = false
		s.walkDB++
	}
	s.walking = false
	if ks.capture == s {
		ks.capture = nil
	}
}

// take appends e (unmodified since the snapshot began) to database id's
// list and freezes it.
func (s *Snapshot) take(id int, e *Entry) {
	if e.expire == 0 || e.expire > s.now {
		s.dbs[id].add(SnapEntry{E: e, Expire: e.expire})
	}
	e.gen = s.gen
	e.LRU |= flagFrozen
}

// captureBefore is the write hook: the walk hasn't reached e yet, so the
// snapshot takes e as it is now, before the caller changes or unlinks it.
func (db *DB) captureBefore(e *Entry) {
	if s := db.ks.capture; s != nil && e.gen != s.gen {
		s.take(db.ID, e)
	}
}

// finishCapture completes a walk in progress (lock held): before a table
// is replaced or swapped wholesale.
func (ks *Keyspace) finishCapture() {
	if ks.capture != nil {
		ks.capture.walkAll()
	}
}

// Release ends the copy-on-write window of this snapshot (lock held).
func (s *Snapshot) Release() {
	if s.done {
		return
	}
	ks := s.ks
	if s.walking {
		// Abandoned before its capture finished: complete the walk so the
		// gen invariant holds for the next snapshot (rare: a saver that
		// failed before reading anything).
		s.walkAll()
	}
	s.done = true
	for i, a := range ks.active {
		if a == s {
			ks.active = append(ks.active[:i], ks.active[i+1:]...)
			break
		}
	}
	if len(ks.active) == 0 {
		ks.active = nil
	}
	s.dbs = nil
	s.gcRelease()
}

// Keys returns the number of captured keys (an estimate until the capture
// is complete: the number of keys when the snapshot began).
func (s *Snapshot) Keys() int {
	if s.walking {
		return s.estimate
	}
	n := 0
	for _, l := range s.dbs {
		n += l.Len()
	}
	return n
}

// frozen reports whether e belongs to an active snapshot: its flag is set
// and its gen is within the generations of the active snapshots.
func (ks *Keyspace) frozen(e *Entry) bool {
	if len(ks.active) == 0 || e.LRU&flagFrozen == 0 {
		return false
	}
	oldest := ks.active[0].gen
	return e.gen-oldest <= ks.gen-oldest
}

// thaw replaces a frozen entry in db by a deep copy and returns the copy.
func (db *DB) thaw(e *Entry) *Entry {
	ne := e.Clone(e.key)
	ne.LRU = e.LRU &^ (flagFrozen | flagInExpires)
	ne.gen = db.ks.gen
	db.dict.Replace(e, ne)
	if e.expire != 0 {
		at := e.expire
		db.dropTTL(e)
		db.SetExpire(ne, at)
	}
	return ne
}

// Adopt replaces the contents of every database with other's (same number
// of databases): used to swap in a dataset loaded off to the side, so a
// failed load never leaves half a dataset behind.
func (ks *Keyspace) Adopt(other *Keyspace) {
	ks.finishCapture()
	// Adopted entries carry other's generation stamp (and no frozen flag);
	// the next snapshot's generation must differ from it.
	for ks.gen+1 == other.gen || ks.gen+1 == 0 {
		ks.gen++
	}
	for i := range ks.DBs {
		if i >= len(other.DBs) {
			ks.DBs[i].Flush()
			continue
		}
		d, o := ks.DBs[i], other.DBs[i]
		d.dict, d.expires, d.nTTL, d.AvgTTL = o.dict, o.expires, o.nTTL, o.AvgTTL
	}
}
