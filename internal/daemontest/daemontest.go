// Package daemontest runs the serve daemon in process for tests: started on the
// addresses its config names (127.0.0.1:0 for a free port), stopped when the test
// ends, with the bound URLs at hand.
package daemontest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
)

// Running is a started daemon.
type Running struct {
	// Base is the ingest listener's URL, e.g. http://127.0.0.1:1234.
	Base string
	// URL is Base plus the ingest path.
	URL string
	// Metrics is the URL of the listener serving /metrics, /healthz and /readyz.
	Metrics string

	stop func() error
}

// Stop ends the daemon and returns daemon.Run's error; later calls return the same.
func (r *Running) Stop() error { return r.stop() }

// Start runs daemon.Run(o) until the test ends or Stop is called. It fails the
// test if the daemon does not listen within 20 s.
func Start(t testing.TB, o daemon.Options) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 1)
	o.Listening = func(in, m net.Addr) { addrs <- [2]net.Addr{in, m} }
	errc := make(chan error, 1)
	go func() { errc <- daemon.Run(ctx, o) }()
	r := &Running{}
	select {
	case a := <-addrs:
		r.Base, r.Metrics = "http://"+a[0].String(), "http://"+a[1].String()
		r.URL = r.Base + o.Config.HTTP.Path
	case err := <-errc:
		cancel()
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("daemon did not start within 20s")
	}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-errc:
			case <-time.After(30 * time.Second):
				stopErr = fmt.Errorf("daemon did not stop within 30s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = r.stop() })
	return r
}
