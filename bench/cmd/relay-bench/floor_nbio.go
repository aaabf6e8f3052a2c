package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
)

// serveNbioFloor serves the net/http floor's handler with github.com/lesismal/nbio's
// nbhttp: an event loop (epoll, level-triggered) on pollers goroutines reads
// and parses every connection; the parsed request, its body already buffered,
// goes to the handler. By default the handler runs on nbhttp's goroutine pool
// (one job at a time per connection), so it may block, as the relay's does
// while it waits for Kinesis. inline runs it on the poller goroutine itself:
// no hand-off, but a handler that blocks stalls every connection of that
// poller.
//
// Limits as close to the other floors as nbhttp has them: 1 MiB of body (a
// longer one closes the connection, nbhttp answers no 413), 64 KiB more for
// the header block, 6 s to write an answer, 120 s for a connection to send its
// next request. nbhttp has no header or body read timeout of its own: the
// keep-alive read deadline is the only one. It does not answer Expect:
// 100-continue either (curl waits 1 s, then sends the body).
//
// pollers 0 picks 1 with the pool (nbhttp's own default below 8 CPUs: the
// handlers' goroutines get the other core) and one per CPU inline, where the
// pollers do all the work.
func serveNbioFloor(ln net.Listener, h http.Handler, inline bool, pollers int) error {
	if pollers <= 0 {
		pollers = 1
		if inline {
			pollers = runtime.NumCPU()
		}
	}
	logging.SetLevel(logging.LevelError)
	conf := nbhttp.Config{
		Name:            "floor",
		Addrs:           []string{ln.Addr().String()},
		Listen:          func(string, string) (net.Listener, error) { return ln, nil },
		NPoller:         pollers,
		Handler:         h,
		MaxHTTPBodySize: 1 << 20,
		ReadLimit:       1<<20 + 64<<10,
		WriteTimeout:    6 * time.Second,
		KeepaliveTime:   120 * time.Second,
	}
	if inline {
		conf.ServerExecutor = func(f func()) { f() }
	}
	engine := nbhttp.NewEngine(conf)
	if err := engine.Start(); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return engine.Shutdown(ctx)
}
