package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/genesys-relay/genesys-relay/bench/kinesisfast"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
)

const benchStream = "bench"

// newKinesis starts the Kinesis-compatible endpoint in this process: it keeps
// counters only and reads bodies with kinesisfast, so it costs little of the
// CPU the relay shares with it.
func newKinesis(o options) *kinesistest.Server {
	return kinesistest.New(kinesistest.Options{
		Streams:   []string{benchStream},
		Discard:   true,
		DecodePut: kinesisfast.Decode,
		Faults:    kinesistest.Faults{Latency: o.kinesisLatency},
	})
}

// benchRelay measures the relay binary as a child process.
func benchRelay(ctx context.Context, o options, tmp string, events [][]byte) (result, error) {
	ks := newKinesis(o)
	defer ks.Close()
	ch, url, err := startRelay(ctx, o, tmp, ks)
	if err != nil {
		return result{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = ch.stop()
		}
	}()
	r, err := measure(ctx, o, "relay", ch.cmd.Process.Pid, url, events, ks)
	if err != nil {
		return r, err
	}
	stopped = true
	if err := ch.stop(); err != nil {
		return r, fmt.Errorf("relay did not stop cleanly: %w\n%s", err, ch.logTail())
	}
	return r, nil
}

// startRelay starts the relay binary (built unless -relay) in front of ks and
// waits until it is ready; it returns the child and the ingest URL.
func startRelay(ctx context.Context, o options, tmp string, ks *kinesistest.Server) (*child, string, error) {
	bin := o.relayBin
	if bin == "" {
		var err error
		if bin, err = buildRelay(o.repo, tmp); err != nil {
			return nil, "", err
		}
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	cfgData, err := relayConfig(o, listen, ks.URL(), benchStream)
	if err != nil {
		return nil, "", err
	}
	cfgPath := filepath.Join(tmp, "relay.yaml")
	if err := os.WriteFile(cfgPath, cfgData, 0o600); err != nil {
		return nil, "", err
	}
	cfg, err := config.Parse(cfgData, noEnv)
	if err != nil {
		return nil, "", fmt.Errorf("benchmark config: %w", err)
	}
	ch, err := startChild(bin, []string{"serve", "-c", cfgPath}, o.env, filepath.Join(tmp, "relay.log"))
	if err != nil {
		return nil, "", err
	}
	if err := ch.waitReady(ctx, o.tr, o.tr.scheme()+"://"+listen+"/readyz"); err != nil {
		_ = ch.stop()
		return nil, "", fmt.Errorf("relay: %w", err)
	}
	return ch, o.tr.scheme() + "://" + listen + cfg.HTTP.Path, nil
}

// benchFloor measures a trivial HTTP server in a child process, the same way as
// the relay: the cost of HTTP alone on this machine. server is "net/http",
// "fasthttp", "nbio" (nbhttp, handlers on its goroutine pool) or "nbio-inline"
// (handlers on the poller goroutines).
func benchFloor(ctx context.Context, o options, valid bool, server string, events [][]byte) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	listen, err := freeAddr()
	if err != nil {
		return result{}, err
	}
	args := []string{floorCommand, "-listen", listen}
	name := "floor-read"
	if valid {
		args = append(args, "-valid")
		name = "floor-json.Valid"
	}
	switch server {
	case "net/http":
	case "fasthttp":
		args = append(args, "-fasthttp")
		name = "fasthttp-" + name
	case "nbio":
		args = append(args, "-nbio", "pool", "-nbio-pollers", strconv.Itoa(o.nbioPollers))
		name = "nbio-" + name
	case "nbio-inline":
		args = append(args, "-nbio", "inline", "-nbio-pollers", strconv.Itoa(o.nbioPollers))
		name = "nbio-inline-" + name
	default:
		return result{}, fmt.Errorf("floor server %q", server)
	}
	if o.tls {
		if strings.HasPrefix(server, "nbio") {
			return result{}, fmt.Errorf("floor server %q: no TLS floor with nbio; -floors net/http,fasthttp", server)
		}
		args = append(args, "-tls-cert", o.certFile, "-tls-key", o.keyFile)
	}
	logPath := filepath.Join(os.TempDir(), fmt.Sprintf("relay-bench-floor-%d.log", os.Getpid()))
	defer os.Remove(logPath)
	ch, err := startChild(self, args, nil, logPath)
	if err != nil {
		return result{}, err
	}
	defer ch.stop()
	if err := ch.waitReady(ctx, o.tr, o.tr.scheme()+"://"+listen+"/readyz"); err != nil {
		return result{}, fmt.Errorf("floor server: %w", err)
	}
	return measure(ctx, o, name, ch.cmd.Process.Pid, o.tr.scheme()+"://"+listen+"/eventbridge", events, nil)
}

// measure drives url and reads the CPU time and peak RSS of process pid, and the
// endpoint's counters (when ks is set), at the edges of the measured window.
func measure(ctx context.Context, o options, name string, pid int, url string, events [][]byte, ks *kinesistest.Server) (result, error) {
	hz, _ := clockTicks()
	var t0, t1 int64
	var k0, k1 kinesistest.Stats
	var s0, s1 time.Duration
	var werr error
	w := window{
		start: func() {
			t0, werr = cpuTicks(pid)
			s0 = selfCPU()
			if ks != nil {
				k0 = ks.Stats()
			}
		},
		stop: func() {
			var err error
			if t1, err = cpuTicks(pid); err != nil && werr == nil {
				werr = err
			}
			s1 = selfCPU()
			if ks != nil {
				k1 = ks.Stats()
			}
		},
	}
	l := drive(ctx, url, events, o.senders, o.client == "raw", o.tr, o.resume, o.warmup, o.duration, w)
	if werr != nil {
		return result{}, fmt.Errorf("reading /proc/%d: %w", pid, werr)
	}
	rss, err := peakRSS(pid)
	if err != nil {
		return result{}, err
	}
	cpu := float64(t1-t0) / float64(hz)
	return newResult(name, o, l, cpu, rss, s1-s0, k0, k1, ks != nil), nil
}

// benchInProcess runs the relay in this process, for a CPU profile. Every
// goroutine carries a pprof label: proc=relay (the daemon and everything it
// starts), proc=load (the senders), proc=kinesis (the endpoint). The CPU
// figures are those of the whole process.
func benchInProcess(ctx context.Context, o options, tmp string, events [][]byte) (result, error) {
	for _, kv := range []string{"AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"} {
		k, v, _ := cut(kv)
		os.Setenv(k, v)
	}
	var ks *kinesistest.Server
	pprof.Do(ctx, pprof.Labels("proc", "kinesis"), func(context.Context) { ks = newKinesis(o) })
	defer ks.Close()
	cfgData, err := relayConfig(o, "127.0.0.1:0", ks.URL(), benchStream)
	if err != nil {
		return result{}, err
	}
	cfg, err := config.Parse(cfgData, noEnv)
	if err != nil {
		return result{}, fmt.Errorf("benchmark config: %w", err)
	}
	addr := make(chan net.Addr, 1)
	dctx, stopRelay := context.WithCancel(ctx)
	defer stopRelay()
	done := make(chan error, 1)
	go pprof.Do(dctx, pprof.Labels("proc", "relay"), func(ctx context.Context) {
		done <- daemon.Run(ctx, daemon.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler),
			Listening: func(a, _ net.Addr) { addr <- a }})
	})
	var url string
	select {
	case a := <-addr:
		url = "http://" + a.String() + cfg.HTTP.Path
	case err := <-done:
		return result{}, fmt.Errorf("relay: %w", err)
	}
	f, err := os.Create(o.cpuProfile)
	if err != nil {
		return result{}, err
	}
	defer f.Close()
	var s0, s1 time.Duration
	var k0, k1 kinesistest.Stats
	var profErr error
	if o.memProfile != "" {
		runtime.MemProfileRate = 64 << 10
	}
	w := window{
		start: func() {
			profErr = pprof.StartCPUProfile(f)
			s0, k0 = selfCPU(), ks.Stats()
			if o.memProfile != "" {
				runtime.GC() // the profile then counts from here: diff against a base
				writeHeapProfile(o.memProfile + ".base")
			}
		},
		stop: func() {
			s1, k1 = selfCPU(), ks.Stats()
			pprof.StopCPUProfile()
			if o.memProfile != "" {
				writeHeapProfile(o.memProfile)
			}
		},
	}
	var l load
	pprof.Do(ctx, pprof.Labels("proc", "load"), func(ctx context.Context) {
		l = drive(ctx, url, events, o.senders, o.client == "raw", o.tr, o.resume, o.warmup, o.duration, w)
	})
	stopRelay()
	if err := <-done; err != nil {
		return result{}, fmt.Errorf("relay: %w", err)
	}
	if profErr != nil {
		return result{}, profErr
	}
	rss, _ := peakRSS(os.Getpid())
	r := newResult("relay-in-process", o, l, (s1 - s0).Seconds(), rss, s1-s0, k0, k1, true)
	fmt.Fprintf(os.Stderr, "relay-bench: CPU profile in %s; CPU figures are the whole process (relay, load, endpoint):\n"+
		"  go tool pprof -tagfocus proc=relay -top %s\n", o.cpuProfile, o.cpuProfile)
	return r, nil
}

func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay-bench:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "relay-bench:", err)
	}
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// noEnv resolves no variable: the benchmark's config is what it wrote.
func noEnv(string) (string, bool) { return "", false }
