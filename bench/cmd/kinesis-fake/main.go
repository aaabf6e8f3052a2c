// Command kinesis-fake runs the Kinesis-compatible test server of package
// internal/kinesistest as a process of its own, so that a benchmark can
// measure genesys-relay without the endpoint sharing its process, and so
// that faults can be injected into a running relay. With -discard (the
// default) it reads write calls with kinesisfast, in place, and keeps
// counters only.
//
// It prints its URL on the first line of standard output, counters on
// standard error every -stats interval, and final counters on SIGINT or
// SIGTERM. Faults can be changed while it runs:
//
//	curl -X PUT -d '{"ThrottleRate":0.1}' $URL/_kinesistest/faults
//	curl $URL/_kinesistest/stats
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/genesys-relay/genesys-relay/bench/kinesisfast"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
)

func main() {
	var (
		opts    kinesistest.Options
		f       kinesistest.Faults
		streams string
		every   time.Duration
	)
	flag.StringVar(&opts.Addr, "addr", "127.0.0.1:4567", "listen address")
	flag.StringVar(&streams, "streams", kinesistest.DefaultStream, "comma-separated stream names")
	flag.IntVar(&opts.ShardsPerStream, "shards", 1, "shards per stream")
	flag.StringVar(&opts.Region, "region", kinesistest.DefaultRegion, "region in stream ARNs")
	flag.BoolVar(&opts.Discard, "discard", true, "count records without keeping them")
	flag.Uint64Var(&opts.Seed, "seed", 1, "seed of the fault draws")
	flag.IntVar(&opts.MaxRecordBytes, "max-record-bytes", kinesistest.DefaultMaxRecordBytes, "largest data blob accepted")
	flag.IntVar(&opts.MaxRequestBytes, "max-request-bytes", kinesistest.DefaultMaxRequestBytes, "largest PutRecords payload accepted")
	flag.Float64Var(&f.RecordThrottleRate, "record-throttle", 0, "share of records failing with ProvisionedThroughputExceededException")
	flag.Float64Var(&f.RecordInternalFailureRate, "record-internal", 0, "share of records failing with InternalFailure")
	flag.StringVar(&f.Refuse, "refuse", "", "refuse every write with this error code (e.g. AccessDeniedException)")
	flag.Float64Var(&f.RecordNoResultRate, "record-no-result", 0, "share of records not stored, answered {} (no sequence number, no error code)")
	flag.Float64Var(&f.InternalFailureRate, "internal", 0, "share of write calls answered 500 InternalFailure")
	flag.Float64Var(&f.ServiceUnavailableRate, "unavailable", 0, "share of write calls answered 503 ServiceUnavailable")
	flag.Float64Var(&f.ThrottleRate, "throttle", 0, "share of write calls answered 400 ProvisionedThroughputExceededException")
	flag.Float64Var(&f.DropResponseRate, "drop", 0, "share of write calls stored but left without a response")
	flag.DurationVar(&f.Latency, "latency", 0, "latency added to every call")
	flag.DurationVar(&f.Jitter, "jitter", 0, "random extra latency, up to this much")
	flag.Float64Var(&f.HangRate, "hang", 0, "share of calls held without an answer")
	flag.DurationVar(&f.MaxHang, "max-hang", kinesistest.DefaultMaxHang, "how long a held call is held at most")
	flag.DurationVar(&every, "stats", 0, "print counters to standard error at this interval (0: only at exit)")
	flag.Parse()
	opts.Streams = strings.Split(streams, ",")
	opts.Faults = f
	if opts.Discard {
		opts.DecodePut = kinesisfast.Decode
	}

	s := kinesistest.New(opts)
	fmt.Println(s.URL())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	enc := json.NewEncoder(os.Stderr)
	for {
		select {
		case <-tick:
			_ = enc.Encode(s.Stats())
		case <-sig:
			s.Close()
			_ = enc.Encode(s.Stats())
			return
		}
	}
}
