package server

import (
	"runtime"

	"github.com/vigil-kv/vigil/internal/commands"
)

// DEBUG GOROUTINES replies with the number of live goroutines, so tests can
// check that blocked clients that go away leave nothing behind.
func init() {
	DebugHooks = append(DebugHooks, func(s *Server, ctx *commands.Ctx, sub string) bool {
		if sub != "goroutines" {
			return false
		}
		ctx.W.Int(int64(runtime.NumGoroutine()))
		return true
	})
}
