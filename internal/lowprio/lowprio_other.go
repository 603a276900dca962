//go:build !linux

package lowprio

import "time"

func lowerThread(int) {}

func threadNice() (int, error) { return 0, nil }

// Napper is time.Sleep outside Linux.
type Napper struct{}

func NewNapper() *Napper { return nil }

func (*Napper) Nap(d time.Duration) { time.Sleep(d) }

func (*Napper) Close() {}

// processCPU is not measured outside Linux: the work then counts as
// uncontended and is paced only by its probes.
func processCPU() time.Duration { return 0 }
