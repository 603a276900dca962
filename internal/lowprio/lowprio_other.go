//go:build !linux

package lowprio

import "time"

func lowerThread(int) {}

func threadNice() (int, error) { return 0, nil }

func yieldThread() {}

func sleepThread(d time.Duration) { time.Sleep(d) }
