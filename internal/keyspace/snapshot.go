package keyspace

// Point-in-time snapshots without fork().
//
// Redis forks and lets the kernel copy pages on write. Go can't fork safely,
// so vigil copies on write per entry instead:
//
//   - BeginSnapshot (under the keyspace lock) records the current version
//     stamp S and captures, per database, the list of live entries with their
//     expiry. That walk is the only stop-the-world part: a few ms per million
//     keys, and no value is copied.
//   - From then on, every entry with Version <= S is frozen: a command that
//     wants to modify one in place gets it through DB.LookupWrite, which
//     first replaces it in the table with a deep copy (new version) and hands
//     out the copy. Set/Delete replace or unlink the pointer and never touch
//     the old object. So the saver can read the captured entries without the
//     lock while clients keep writing, and only entries written during the
//     save are duplicated (extra memory = what changed, not the dataset).
//   - Release ends the copy-on-write window once the saver has read
//     everything.
//
// The saver reads only Key, Type, Str, Coll of captured entries (and the
// expiry captured with them), never fields the live table may still update
// (next, LRU, expIdx).

// SnapEntry is one captured key.
type SnapEntry struct {
	E      *Entry
	Expire int64
}

// Snapshot is a consistent, immutable view of the keyspace.
type Snapshot struct {
	ks   *Keyspace
	Seq  uint64
	DBs  [][]SnapEntry // per database id
	done bool
}

// BeginSnapshot captures the keyspace (lock held). Keys already expired are
// left out.
func (ks *Keyspace) BeginSnapshot() *Snapshot {
	now := ks.Now()
	s := &Snapshot{ks: ks, Seq: ks.versionSeq, DBs: make([][]SnapEntry, len(ks.DBs))}
	for i, db := range ks.DBs {
		list := make([]SnapEntry, 0, db.dict.Len())
		db.dict.ForEach(func(e *Entry) bool {
			if e.expire != 0 && e.expire <= now {
				return true
			}
			list = append(list, SnapEntry{E: e, Expire: e.expire})
			return true
		})
		s.DBs[i] = list
	}
	ks.snapshots++
	if s.Seq > ks.snapSeq {
		ks.snapSeq = s.Seq
	}
	// Entries created from now on get versions > Seq; make sure the very
	// next stamp is strictly greater even if nothing changed.
	ks.versionSeq++
	return s
}

// Release ends the copy-on-write window of this snapshot (lock held).
func (s *Snapshot) Release() {
	if s.done {
		return
	}
	s.done = true
	s.ks.snapshots--
	if s.ks.snapshots == 0 {
		s.ks.snapSeq = 0
	}
}

// Keys returns the number of captured keys.
func (s *Snapshot) Keys() int {
	n := 0
	for _, l := range s.DBs {
		n += len(l)
	}
	return n
}

// frozen reports whether e belongs to an active snapshot.
func (ks *Keyspace) frozen(e *Entry) bool {
	return ks.snapshots > 0 && e.Version <= ks.snapSeq
}

// thaw replaces a frozen entry in db by a deep copy and returns the copy.
func (db *DB) thaw(e *Entry) *Entry {
	ne := e.Clone(e.key)
	ne.LRU = e.LRU
	ne.Version = db.ks.NextVersion()
	db.dict.Replace(e, ne)
	if e.expIdx >= 0 {
		ne.expire = e.expire
		ne.expIdx = e.expIdx
		db.expires[ne.expIdx] = ne
		e.expIdx = -1
	}
	return ne
}

// Adopt replaces the contents of every database with other's (same number
// of databases): used to swap in a dataset loaded off to the side, so a
// failed load never leaves half a dataset behind.
func (ks *Keyspace) Adopt(other *Keyspace) {
	for i := range ks.DBs {
		if i >= len(other.DBs) {
			ks.DBs[i].Flush()
			continue
		}
		d, o := ks.DBs[i], other.DBs[i]
		d.dict, d.expires, d.AvgTTL = o.dict, o.expires, o.AvgTTL
	}
	if other.versionSeq > ks.versionSeq {
		ks.versionSeq = other.versionSeq
	}
	ks.versionSeq++
}
