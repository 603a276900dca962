package app

import (
	"fmt"
	"os"

	"github.com/vigil-kv/vigil/internal/config"
)

// RunSentinel runs `vigil sentinel sentinel.conf [options]`.
func RunSentinel(args []string) int {
	for _, a := range args {
		switch a {
		case "-v", "--version":
			fmt.Println(VersionLine())
			return 0
		case "-h", "--help":
			fmt.Print(ServerUsage)
			return 0
		}
	}
	p, err := ParseServerArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p.Sentinel = true
	cfg, err := LoadConfig(p, os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		return 1
	}
	if p.TestConfig {
		fmt.Println("Configuration OK")
		return 0
	}
	return RunSentinelWithConfig(cfg, p)
}

// RunSentinelWithConfig is replaced when the Sentinel shell is linked in.
var RunSentinelWithConfig = func(cfg *config.Config, p ParsedArgs) int {
	fmt.Fprintln(os.Stderr, "Sentinel mode is not available in this build")
	return 1
}
