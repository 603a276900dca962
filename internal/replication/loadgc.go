package replication

// loadGCPercent is the GOGC a replica runs with at least while it loads a
// full sync's snapshot (a gcgoal.AtLeast hold, combined with a snapshot's
// room when both are active; released, the percent goes back and the
// trigger is recomputed from the last cycle's live heap, so the old
// dataset dropped by the load is collected right after).
//
// Nearly everything a load allocates stays live, so with GOGC=100 the
// collector runs each time the heap doubles on its way from a few MB to the
// dataset's size and marks the growing dataset again and again (about the
// final heap's size in total) to free almost nothing. On a machine the
// replica shares with its master (vigil up, the benchmarks, small VMs) that
// CPU is taken from the master serving clients while it streams the
// snapshot. At 800 the same load runs about two cycles that mark a small
// fraction of it. The start-up load turns the collector off altogether
// (persist.pauseGCForLoad) because it knows the file's size; a diskless
// sync's size is unknown, so the collector stays on here, and maxmemory's
// memory limit (server/evict.go) still bounds the heap.
const loadGCPercent = 800
