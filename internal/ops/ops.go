// Package ops holds vigil's operator commands: `vigil plan` (a deployment
// bundle for the tutorial's Linode layout), `vigil up` (the same topology as
// local child processes on 127.0.0.1), `vigil status` (a patronictl-style
// table of data nodes and Sentinels) and the later `drill` and `switchover`.
//
// Every command is a func(args []string) int wired from cmd/vigil: flags
// with --help and an example, a one-line "vigil CMD: reason" on failure,
// and progress lines on anything slow. Nothing here dials or binds outside
// the addresses the user names (vigil up only ever uses 127.0.0.1).
package ops

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Stdout and Stderr are where commands write; tests replace them.
var (
	Stdout io.Writer = os.Stdout
	Stderr io.Writer = os.Stderr
)

// errHelp means --help was printed: exit 0.
var errHelp = flag.ErrHelp

// command describes one subcommand for --help.
type command struct {
	name    string // "plan"
	usage   string // "vigil plan TOPOLOGY.yaml --out DIR [flags]"
	summary string // one paragraph
	example string // shell lines
}

// newFlags returns a FlagSet whose usage text has the summary, the flags
// and an example; errors are reported by the caller as one line.
func (c command) newFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("vigil "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := Stdout
		fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n", c.usage, strings.TrimSpace(c.summary))
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		fmt.Fprintf(w, "\nExample:\n%s\n", indent(strings.TrimSpace(c.example), "  "))
	}
	return fs
}

// parse parses flags interspersed with positional arguments (Go's flag
// package stops at the first positional one).
func (c command) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	usage := fs.Usage
	fs.Usage = func() {} // flag calls Usage on every error; only --help shows it
	defer func() { fs.Usage = usage }()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return nil, errHelp
			}
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// fail prints "vigil NAME: err" as one line and returns exit code 1 (2 for
// usage errors).
func (c command) fail(err error) int {
	if errors.Is(err, errHelp) {
		return 0
	}
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
	fmt.Fprintf(Stderr, "vigil %s: %s\n", c.name, msg)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(Stderr, "Run 'vigil %s --help' for usage.\n", c.name)
		return 2
	}
	return 1
}

// usageError marks bad flags or arguments (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

// listFlag is a repeatable flag that also accepts comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type flagT = flag.Flag
