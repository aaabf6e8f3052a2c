// Package daemon runs `genesys-relay serve`: it builds the sink, the pipeline and
// the inputs from a config, serves until its context ends, reloads rules on request,
// and drains in-flight work on the way out. It never touches signals: the command
// turns them into a context and a reload channel, so tests can embed the daemon.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/httpin"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

// Options are what Run needs besides the config.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	// Registry receives every metric; nil creates one with the Go and process
	// collectors.
	Registry *prometheus.Registry
	// Reload asks for the config file to be read again (SIGHUP). A bad new config is
	// logged and the running one kept.
	Reload <-chan struct{}
	// Sink replaces the configured sinks (tests): every output writes to it;
	// nil builds one per output from the config.
	Sink relay.Sink
	// Stdout is where sink: stdout writes (default os.Stdout).
	Stdout io.Writer
	// Listening, if set, is called with the bound addresses once they accept.
	Listening func(ingest, metrics net.Addr)
	// TLSWatchInterval is how often http.tls's files are checked for a change
	// (default 5 s).
	TLSWatchInterval time.Duration
}

// Run serves until ctx ends, then stops accepting, finishes in-flight requests,
// flushes the sink and returns within cfg.ShutdownTimeout.
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if cfg.HTTP.RequestTimeout >= 5*time.Second {
		log.Warn("http.request_timeout is not below EventBridge's 5 s timeout: callers may time out before hearing 503", "request_timeout", cfg.HTTP.RequestTimeout)
	}

	proc, err := pipeline.New(cfg)
	if err != nil {
		return err
	}
	sinks, dests, closeSinks, err := buildSinks(ctx, o, reg, log)
	if err != nil {
		return err
	}
	rl, err := pipeline.NewRelayTo(proc, sinks, reg, log)
	if err != nil {
		_ = closeSinks(context.Background())
		return err
	}

	certs, err := newCertificates(cfg.HTTP.TLS, reg, log)
	if err != nil {
		_ = closeSinks(context.Background())
		return err
	}
	keeper := &authKeeper{reg: reg, log: log}
	auth, commitAuth, err := keeper.build(cfg.HTTP.Auth)
	if err != nil {
		_ = closeSinks(context.Background())
		return err
	}
	commitAuth(true)
	defer keeper.close()

	var ready atomic.Bool
	ingest := httpin.New(rl.Input("http"), httpin.Options{
		MaxBodyBytes:     cfg.HTTP.MaxBodyBytes,
		RequestTimeout:   cfg.HTTP.RequestTimeout,
		MaxInFlight:      cfg.HTTP.MaxInFlight,
		MaxInFlightBytes: cfg.HTTP.MaxInFlightBytes,
		Auth:             auth,
		Registerer:       reg,
		Logger:           log,
	})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "genesys_relay", Name: "config_reloads_total",
		Help: "Config reloads, by result (a failed reload keeps the running config)."}, []string{"result"})
	reg.MustRegister(reloads)
	// Both results exist from the start, so that an alert on errors has a series.
	reloads.WithLabelValues("ok")
	reloads.WithLabelValues("error")
	// A request for an unknown path is answered 404 and counted with the ingest
	// answers.
	notFound := notFoundHandler(ingest.Count)
	ops := opsMux(reg, &ready, notFound)
	var other http.Handler = ops
	if cfg.MetricsListen != "" {
		other = notFound
	}

	lnIngest, err := httpin.Listen(cfg.Listen)
	if err != nil {
		_ = closeSinks(context.Background())
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	srvOpts := httpin.ServerOptions{Path: cfg.HTTP.Path, Other: other, Logger: log}
	if certs != nil {
		srvOpts.TLS = certs.Config()
	}
	ingestSrv := httpin.NewServer(ingest, srvOpts)
	servers := []server{ingestSrv}
	listeners := []net.Listener{lnIngest}
	metricsAddr := lnIngest.Addr()
	if cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			lnIngest.Close()
			_ = closeSinks(context.Background())
			return fmt.Errorf("listen %s: %w", cfg.MetricsListen, err)
		}
		servers = append(servers, opsServer{newServer(ops, cfg, log)})
		listeners = append(listeners, ln)
		metricsAddr = ln.Addr()
	}

	var wg sync.WaitGroup
	errc := make(chan error, len(servers)+1)
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(listeners[i]); err != nil {
				errc <- fmt.Errorf("http server %s: %w", listeners[i].Addr(), err)
			}
		}()
	}
	inputCtx, stopInputs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopInputs()
	if certs != nil {
		every := o.TLSWatchInterval
		if every <= 0 {
			every = tlsWatchInterval
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			certs.Watch(inputCtx, every)
		}()
	}
	if cfg.SQS.QueueURL != "" {
		run, err := newSQS(ctx, cfg, rl.Input("sqs"), reg, log)
		if err != nil {
			for _, srv := range servers {
				srv.Close()
			}
			_ = closeSinks(context.Background())
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(inputCtx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("sqs consumer: %w", err)
			}
		}()
	}
	ready.Store(true)
	log.Info("listening", append([]any{"addr", lnIngest.Addr().String(), "path", cfg.HTTP.Path,
		"metrics_addr", metricsAddr.String(), "tls", certs != nil}, sinkAttrs(cfg.Sink, dests)...)...)
	if o.Listening != nil {
		o.Listening(lnIngest.Addr(), metricsAddr)
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			runErr = err
			break loop
		case <-o.Reload:
			reload(cfg, rl, ingest, keeper, log, reloads)
			if certs != nil {
				_ = certs.Reload() // a failure is logged and counted; the running certificate stays
			}
		}
	}

	// Drain: stop answering ready, stop accepting, let in-flight requests finish (they
	// wait for the sink), stop the queue consumer, then flush the sink.
	ready.Store(false)
	log.Info("shutting down", append(stopCause(ctx, runErr), "timeout", cfg.ShutdownTimeout)...)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			log.Error("http shutdown incomplete", "err", err)
			srv.Close()
		}
	}
	stopInputs()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		log.Error("inputs did not stop before the shutdown timeout")
	}
	if err := closeSinks(sctx); err != nil {
		log.Error("sink flush incomplete", "err", err)
		if runErr == nil {
			runErr = fmt.Errorf("flush on shutdown: %w", err)
		}
	}
	log.Info("stopped")
	return runErr
}

// server is what Run starts and stops: the ingest server (fasthttp) and,
// on its own listener, the ops server (net/http).
type server interface {
	Serve(net.Listener) error // nil once shut down
	Shutdown(context.Context) error
	Close()
}

type opsServer struct{ *http.Server }

func (s opsServer) Serve(ln net.Listener) error {
	if err := s.Server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s opsServer) Close() { _ = s.Server.Close() }

// newServer is the ops listener's server (metrics_listen).
func newServer(h http.Handler, cfg *config.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		// A body must arrive within the request timeout: a client that never
		// finishes its body holds a connection, not the relay.
		ReadTimeout:    cfg.HTTP.RequestTimeout,
		WriteTimeout:   cfg.HTTP.RequestTimeout + 2*time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// reload re-reads the config file and swaps in its rules and routes and the
// accepted credentials (so that a key removed in a rotation stops working).
// A file whose outputs differ from the running ones is refused as a whole:
// outputs are built at start-up. Other settings than filter, partition_key,
// enrich, routes and http.auth need a restart; a change to them is logged.
// (The files of http.tls are read again by the caller.)
func reload(cur *config.Config, rl *pipeline.Relay, ingest *httpin.Handler, keeper *authKeeper, log *slog.Logger, reloads *prometheus.CounterVec) {
	if cur.Path == "" {
		log.Warn("reload requested but the config was not loaded from a file")
		return
	}
	next, err := config.Load(cur.Path)
	if err == nil && (len(cur.Outputs) > 0 || len(next.Outputs) > 0) && !maps.Equal(cur.EffectiveOutputs(), next.EffectiveOutputs()) {
		err = errors.New("outputs changed: they take effect only after a restart")
	}
	if err == nil {
		var p *pipeline.Processor
		var auth *httpin.Auth
		var commit func(use bool)
		if p, err = pipeline.New(next); err == nil {
			auth, commit, err = keeper.build(next.HTTP.Auth)
		}
		if err == nil {
			if err = rl.Swap(p); err != nil {
				commit(false)
			}
		}
		if err == nil {
			ingest.SetAuth(auth)
			commit(true)
			reloads.WithLabelValues("ok").Inc()
			log.Info("config reloaded", "path", cur.Path, "rules", len(next.Filter.Rules), "routes", len(next.Routes))
			nh, ch := next.HTTP, cur.HTTP
			nh.Auth, ch.Auth = config.Auth{}, config.Auth{}
			if next.Listen != cur.Listen || nh != ch || next.Kinesis != cur.Kinesis || next.Sink != cur.Sink || next.SQS != cur.SQS {
				log.Warn("listen, http (except auth), sink, kinesis and sqs settings changed in the file take effect only after a restart")
			}
			return
		}
	}
	reloads.WithLabelValues("error").Inc()
	log.Error("config reload failed; keeping the running config", "path", cur.Path, "err", err)
}

// opsMux serves /healthz (the process is up), /readyz (accepting events) and
// /metrics; notFound answers every other path.
func opsMux(reg *prometheus.Registry, ready *atomic.Bool, notFound http.Handler) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	m.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready\n")
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	m.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	m.Handle("/", notFound)
	return m
}

// notFoundHandler answers 404 and tells count.
func notFoundHandler(count func(code int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"not found"}`+"\n")
		count(http.StatusNotFound)
	})
}
