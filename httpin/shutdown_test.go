package httpin

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestShutdownBeforeServe: a server shut down before its Serve got going (a
// SIGTERM right after start-up) still stops: Serve returns instead of accepting
// forever, whichever of the two runs first.
func TestShutdownBeforeServe(t *testing.T) {
	for _, serveFirst := range []bool{false, true} {
		srv := NewServer(New(&countingHandler{res: forwarded}, defaultOptions()), ServerOptions{Path: "/eventbridge"})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		serve := func() { go func() { done <- srv.Serve(ln) }() }
		if serveFirst {
			serve()
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !serveFirst {
			serve()
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			srv.Close()
			t.Fatalf("Serve still accepting 10s after Shutdown (serve first: %v)", serveFirst)
		}
	}
}
