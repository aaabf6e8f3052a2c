// Command relay-bench measures genesys-relay end to end on one machine: HTTP in,
// Kinesis out, with the relay in a process of its own so that only its CPU is
// counted.
//
// It builds the relay (or takes -relay), starts a fast Kinesis-compatible
// endpoint in this process (internal/kinesistest in Discard mode, reading
// bodies with kinesisfast, with an optional -kinesis-latency), writes a config from examples/relay.yaml pointing
// at it, starts the relay as a child process, waits for /readyz, and drives it
// with -c concurrent senders, each sending one event and waiting for the answer
// as EventBridge does, for -d after a -warmup. It prints events/s, latency
// percentiles, PutRecords calls per 1,000 forwarded events, the relay's
// CPU-seconds per event (from /proc/<pid>/stat), its peak RSS (VmHWM) and the
// answers by status, as a table and as one JSON line.
//
//	go run ./cmd/relay-bench                      # the relay, 64 senders, 10 s, 1 KB forwarded event
//	go run ./cmd/relay-bench -kinesis-latency 5ms # with 5 ms per PutRecords call
//	go run ./cmd/relay-bench -mode floor          # trivial HTTP servers (net/http, fasthttp, nbio), measured the same way
//	go run ./cmd/relay-bench -cpuprofile cpu.pprof # the relay in this process, profiled (labels proc=relay)
//	go run ./cmd/relay-bench -mode shapes         # CPU and peak RSS per pathological 1 MB body, alone and 64 at once
//	go run ./cmd/relay-bench -tls -new-conn       # HTTPS, a new connection per request (resuming TLS sessions)
//	go run ./cmd/relay-bench -mode idle -tls -idle-conns 10000 # peak RSS holding 10,000 idle TLS connections
//
// It is a command of the bench module: run it from bench/, or from the
// repository's root as go -C bench run ./cmd/relay-bench. It finds the
// repository upwards (the go.mod of the product's module, past bench/go.mod),
// or give -repo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type options struct {
	mode           string
	relayBin       string
	repo           string
	config         string
	event          string
	events         string
	senders        int
	client         string
	duration       time.Duration
	warmup         time.Duration
	kinesisLatency time.Duration
	sets           setFlags
	env            setFlags
	cpuProfile     string
	memProfile     string
	keep           bool
	jsonOnly       bool
	nbioPollers    int
	shapes         string
	shapeSize      int
	shapeRounds    int
	tls            bool
	newConn        bool
	resume         bool
	floors         string
	idleConns      int
	// Set by run: the senders' transport and, with -tls, the certificate.
	tr                transport
	certFile, keyFile string
}

type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if len(os.Args) > 1 && os.Args[1] == floorCommand {
		os.Exit(runFloorServer(os.Args[2:]))
	}
	var o options
	flag.StringVar(&o.mode, "mode", "relay", "relay: measure genesys-relay; floor: measure trivial HTTP servers (read the body; read and json.Valid; with net/http, fasthttp, nbio's nbhttp with handlers on a goroutine pool, then on its pollers); shapes: the relay's CPU and peak RSS for each pathological JSON shape of internal/shapes, alone and from -c senders at once")
	flag.StringVar(&o.relayBin, "relay", "", "relay binary (default: go build ./cmd/genesys-relay into a temporary directory)")
	flag.StringVar(&o.repo, "repo", "", "repository root (default: the directory holding the go.mod of module "+productModule+", upwards from the working directory)")
	flag.StringVar(&o.config, "config", "examples/relay.yaml", "config whose filter, partition_key and enrich the relay runs (relative to -repo)")
	flag.StringVar(&o.event, "event", "testdata/bench-forward-1k.json", "the event every request sends (relative to -repo)")
	flag.StringVar(&o.events, "events", "", "JSON Lines file of events to send in turn instead of -event (e.g. testdata/seed-events.jsonl)")
	flag.IntVar(&o.senders, "c", 64, "concurrent senders (connections), each waiting for its answer before sending again")
	flag.StringVar(&o.client, "client", "net/http", "the senders' HTTP client: net/http (a Transport keeping -c connections), or raw (one prepared write per request on a kept-alive connection; far less CPU)")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the measurement starts")
	flag.DurationVar(&o.kinesisLatency, "kinesis-latency", 0, "latency the Kinesis endpoint adds to every call")
	flag.Var(&o.sets, "set", "override a config key, e.g. -set kinesis.linger=5ms (repeatable)")
	flag.Var(&o.env, "env", "environment variable for the relay process, e.g. -env GOGC=200 (repeatable)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "run the relay in this process instead of a child and write a CPU profile here; the relay's samples carry the label proc=relay (go tool pprof -tagfocus proc=relay)")
	flag.StringVar(&o.memProfile, "memprofile", "", "with -cpuprofile: also write an allocation profile of the measured window here")
	flag.IntVar(&o.nbioPollers, "nbio-pollers", 0, "-mode floor: poller goroutines of the nbio floor servers (0: 1 when handlers run on the goroutine pool, one per CPU when they run on the pollers)")
	flag.StringVar(&o.shapes, "shapes", "", "-mode shapes: comma-separated shape names (default: all of internal/shapes)")
	flag.IntVar(&o.shapeSize, "shape-size", 1000000, "-mode shapes: bytes of each body")
	flag.IntVar(&o.shapeRounds, "shape-rounds", 10, "-mode shapes: requests of the sender alone, and of each of the -c senders")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (config, relay log)")
	flag.BoolVar(&o.jsonOnly, "json", false, "print only the JSON line")
	flag.BoolVar(&o.tls, "tls", false, "HTTPS: the relay and the floor servers serve a self-signed ECDSA P-256 certificate made for the run")
	flag.BoolVar(&o.newConn, "new-conn", false, "a new connection per request (Connection: close) instead of kept-alive ones")
	flag.BoolVar(&o.resume, "resume", true, "with -tls: senders resume TLS sessions (tickets) on new connections; false: a full handshake each time")
	flag.StringVar(&o.floors, "floors", "net/http,fasthttp,nbio,nbio-inline", "-mode floor: the floor servers to measure, comma-separated (with -tls: net/http and fasthttp only)")
	flag.IntVar(&o.idleConns, "idle-conns", 10000, "-mode idle: connections opened (each sends one event), then held idle while the relay's memory is read")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "relay-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	if o.senders < 1 || o.duration <= 0 {
		return errors.New("-c must be positive and -d longer than 0")
	}
	if o.client != "net/http" && o.client != "raw" {
		return fmt.Errorf("-client %q: want net/http or raw", o.client)
	}
	if o.repo == "" {
		var err error
		if o.repo, err = findRepo(); err != nil {
			return err
		}
	}
	events, err := loadEvents(o)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "relay-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "relay-bench: temporary files in", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	o.tr.newConn = o.newConn
	if o.tls {
		if o.certFile, o.keyFile, o.tr.tls, err = benchCert(tmp); err != nil {
			return err
		}
	}

	var results []result
	switch o.mode {
	case "relay":
		var r result
		if o.cpuProfile != "" {
			r, err = benchInProcess(ctx, o, tmp, events)
		} else {
			r, err = benchRelay(ctx, o, tmp, events)
		}
		if err != nil {
			return err
		}
		results = append(results, r)
	case "idle":
		r, err := benchIdle(ctx, o, tmp, events)
		if err != nil {
			return err
		}
		results = append(results, r)
	case "floor":
		for _, server := range strings.Split(o.floors, ",") {
			for _, valid := range [...]bool{false, true} {
				r, err := benchFloor(ctx, o, valid, server, events)
				if err != nil {
					return err
				}
				results = append(results, r)
			}
		}
	case "shapes":
		return benchShapes(ctx, o, tmp)
	default:
		return fmt.Errorf("-mode %q: want relay, floor, idle or shapes", o.mode)
	}
	report(os.Stdout, results, o.jsonOnly)
	return nil
}

// productModule is the module path of the repository's root go.mod: the
// repository is the directory holding it, not bench/'s own module.
const productModule = "github.com/genesys-relay/genesys-relay"

// findRepo returns the nearest directory upwards from the working directory
// whose go.mod declares productModule.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePath(b) == productModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s in the working directory or above; run from the repository or give -repo", productModule)
		}
		dir = parent
	}
}

// modulePath returns the path of the module directive of go.mod text, or "".
func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

func (o options) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(o.repo, p)
}
