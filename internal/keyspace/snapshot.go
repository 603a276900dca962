package keyspace

// Point-in-time snapshots without fork().
//
// Redis forks and lets the kernel copy pages on write. Go can't fork safely,
// so vigil copies on write per entry instead:
//
//   - BeginSnapshot (under the keyspace lock) captures, per database, the
//     list of live entries with their expiry, and marks each captured entry
//     frozen (a flag bit in Entry.LRU). That walk is the only stop-the-world
//     part: a few ms per million keys, and no value is copied.
//   - From then on a frozen entry is never modified in place: a command that
//     wants to change one gets it through DB.LookupWrite, which first
//     replaces it in the table with a deep copy and hands out the copy.
//     Set/Delete replace or unlink the pointer and never touch the old
//     object's value. So the saver can read the captured entries without the
//     lock while clients keep writing, and only entries written during the
//     save are duplicated (extra memory = what changed, not the dataset).
//   - Release ends the copy-on-write window once the saver has read
//     everything, clearing the flags (after the last concurrent snapshot).
//
// The saver reads only Key, Type, Str and Coll of captured entries (and the
// expiry captured with them), never fields the live table may still update
// (next, LRU, expire).

// SnapEntry is one captured key.
type SnapEntry struct {
	E      *Entry
	Expire int64
}

// Snapshot is a consistent, immutable view of the keyspace.
type Snapshot struct {
	ks   *Keyspace
	DBs  [][]SnapEntry // per database id
	done bool
}

// BeginSnapshot captures the keyspace (lock held). Keys already expired are
// left out.
func (ks *Keyspace) BeginSnapshot() *Snapshot {
	now := ks.Now()
	s := &Snapshot{ks: ks, DBs: make([][]SnapEntry, len(ks.DBs))}
	for i, db := range ks.DBs {
		list := make([]SnapEntry, 0, db.dict.Len())
		db.dict.ForEach(func(e *Entry) bool {
			if e.expire != 0 && e.expire <= now {
				return true
			}
			e.LRU |= flagFrozen
			list = append(list, SnapEntry{E: e, Expire: e.expire})
			return true
		})
		s.DBs[i] = list
	}
	ks.snapshots++
	return s
}

// Release ends the copy-on-write window of this snapshot (lock held).
func (s *Snapshot) Release() {
	if s.done {
		return
	}
	s.done = true
	ks := s.ks
	ks.snapshots--
	ks.pendingThaw = append(ks.pendingThaw, s.DBs...)
	if ks.snapshots == 0 {
		// No snapshot needs these entries frozen any more.
		for _, list := range ks.pendingThaw {
			for _, se := range list {
				se.E.LRU &^= flagFrozen
			}
		}
		ks.pendingThaw = nil
	}
	s.DBs = nil
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
	return ks.snapshots > 0 && e.LRU&flagFrozen != 0
}

// thaw replaces a frozen entry in db by a deep copy and returns the copy.
func (db *DB) thaw(e *Entry) *Entry {
	ne := e.Clone(e.key)
	ne.LRU = e.LRU &^ (flagFrozen | flagInExpires)
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
	for i := range ks.DBs {
		if i >= len(other.DBs) {
			ks.DBs[i].Flush()
			continue
		}
		d, o := ks.DBs[i], other.DBs[i]
		d.dict, d.expires, d.nTTL, d.AvgTTL = o.dict, o.expires, o.nTTL, o.AvgTTL
	}
}
