package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/jsonx"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

// fastRelayCommand is the hidden subcommand that runs the relay's pipeline and
// Kinesis writer behind a fasthttp server: an experiment that measures what
// the relay would cost with fasthttp in place of net/http. It answers forwarded,
// dropped, 400 and 503 like the relay, without auth or the rest of the HTTP
// contract.
const fastRelayCommand = "fasthttp-relay"

func runFastRelay(args []string) int {
	fs := flag.NewFlagSet(fastRelayCommand, flag.ContinueOnError)
	cfgPath := fs.String("c", "relay.yaml", "config")
	if fs.Parse(args) != nil {
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tuneGCLikeServe()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	reg := prometheus.NewRegistry()
	sink, err := daemon.NewSink(ctx, cfg, reg, log, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	proc, err := pipeline.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	h := pipeline.NewRelay(proc, sink, reg, log).Input("http")
	srv := &fasthttp.Server{
		Handler: func(c *fasthttp.RequestCtx) {
			if string(c.Path()) == "/readyz" {
				c.SetBodyString("ready\n")
				return
			}
			if !c.IsPost() || string(c.Path()) != cfg.HTTP.Path {
				c.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			rctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.RequestTimeout)
			res, err := h.Handle(rctx, c.PostBody())
			cancel()
			c.SetContentType("application/json")
			b := c.Response.Body()[:0]
			switch {
			case err != nil && !relay.Retryable(err):
				c.SetStatusCode(fasthttp.StatusBadRequest)
				b = jsonx.AppendString(append(b, `{"error":`...), err.Error())
			case err != nil:
				c.SetStatusCode(fasthttp.StatusServiceUnavailable)
				c.Response.Header.Set("Retry-After", "1")
				b = append(b, `{"error":"not written to Kinesis in time; retry later"`...)
			case res.Decision == relay.Forward:
				b = jsonx.AppendString(append(b, `{"status":"forwarded","partition_key":`...), res.Record.PartitionKey)
			default:
				b = jsonx.AppendString(append(b, `{"status":"dropped","reason":`...), res.Reason)
			}
			c.SetBody(append(b, "}\n"...))
		},
		ReadTimeout:           cfg.HTTP.RequestTimeout,
		WriteTimeout:          cfg.HTTP.RequestTimeout + 2*time.Second,
		IdleTimeout:           120 * time.Second,
		MaxRequestBodySize:    int(cfg.HTTP.MaxBodyBytes),
		NoDefaultServerHeader: true,
	}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown()
	}()
	if err := srv.ListenAndServe(cfg.Listen); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := sink.Close(sctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// tuneGCLikeServe sets the target genesys-relay serve settles on with a small
// live heap.
func tuneGCLikeServe() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
}
