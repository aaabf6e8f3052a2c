package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/iox"
)

// floorCommand is the hidden subcommand that runs the floor server as the child.
const floorCommand = "floor-server"

// runFloorServer serves POST /eventbridge with the least an HTTP ingest can do:
// read the body (with the relay's size limit and timeouts) and answer a small
// JSON 200 — and, with -valid, check the body with json.Valid first.
func runFloorServer(args []string) int {
	fs := flag.NewFlagSet(floorCommand, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	valid := fs.Bool("valid", false, "check the body with json.Valid (400 when invalid)")
	fast := fs.Bool("fasthttp", false, "serve with github.com/valyala/fasthttp instead of net/http")
	nbio := fs.String("nbio", "", "serve with github.com/lesismal/nbio's nbhttp instead of net/http: pool (handlers on a goroutine pool) or inline (handlers on the poller goroutines)")
	pollers := fs.Int("nbio-pollers", 0, "with -nbio: poller goroutines (0: 1 with the pool, one per CPU inline)")
	certFile := fs.String("tls-cert", "", "serve HTTPS with this certificate (and -tls-key), with the relay's TLS settings")
	keyFile := fs.String("tls-key", "", "the key of -tls-cert")
	if fs.Parse(args) != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if *certFile != "" {
		cfg, err := floorTLS(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ln = tls.NewListener(ln, cfg)
	}
	answer := []byte(`{"status":"forwarded","partition_key":"09651f69d06b8e05"}` + "\n")
	bad := []byte(`{"error":"body is not valid JSON"}` + "\n")
	if *fast {
		if err := serveFastFloor(ln, *valid, answer, bad); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	mux := floorMux(*valid, answer, bad)
	if *nbio != "" {
		if err := serveNbioFloor(ln, mux, *nbio == "inline", *pollers); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	// The relay's server settings (internal/daemon), so that only the handler differs.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 4 * time.Second,
		WriteTimeout: 6 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() { <-sig; _ = srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// floorMux is the floor's net/http handler: /readyz, and POST /eventbridge
// reading the whole body (at most 1 MiB) into a pooled buffer and answering.
// The net/http and nbio floors both serve it.
func floorMux(valid bool, answer, bad []byte) *http.ServeMux {
	bufs := sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ready\n") })
	mux.HandleFunc("/eventbridge", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		body, err := iox.AppendAll((*bp)[:0], http.MaxBytesReader(w, r.Body, 1<<20))
		*bp = body
		code, out := http.StatusOK, answer
		switch {
		case err != nil:
			code, out = http.StatusRequestEntityTooLarge, bad
		case valid && !json.Valid(body):
			code, out = http.StatusBadRequest, bad
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(out))}
		w.WriteHeader(code)
		_, _ = w.Write(out)
	})
	return mux
}
