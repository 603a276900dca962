//go:build !linux

package lowprio

func lowerThread(int) {}

func threadNice() (int, error) { return 0, nil }
