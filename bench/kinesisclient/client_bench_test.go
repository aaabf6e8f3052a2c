package kinesisclient

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/genesys-relay/genesys-relay/bench/kinesisfast"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	relaykinesis "github.com/genesys-relay/genesys-relay/kinesis"
)

// benchServerEnv makes the test binary serve kinesistest instead of testing:
// BenchmarkPutRecordsClient runs its endpoint in a process of its own, so
// that the CPU it measures is the client's alone.
const benchServerEnv = "GENESYS_RELAY_KINESIS_BENCH_SERVER"

// TestBenchEndpointProcess is the endpoint process of BenchmarkPutRecordsClient:
// kinesistest in Discard mode, reading bodies with kinesisfast, which answers
// at once. It prints its URL and
// serves until its standard input closes.
func TestBenchEndpointProcess(t *testing.T) {
	if os.Getenv(benchServerEnv) != "1" {
		t.Skip("runs only as the endpoint of BenchmarkPutRecordsClient")
	}
	srv := kinesistest.New(kinesistest.Options{
		Streams: []string{"events"}, ShardsPerStream: 4, Discard: true, DecodePut: kinesisfast.Decode,
	})
	fmt.Println(srv.URL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Close()
}

// startBenchEndpoint starts TestBenchEndpointProcess in a child process and
// returns its URL.
func startBenchEndpoint(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchEndpointProcess$")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("endpoint process: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return line[:len(line)-1]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPutRecordsClient compares the SDK's PutRecords with Direct end to
// end: 64 records of 1 KB per call (random data, 16-character partition keys
// as the relay's fnv64a hash gives), over loopback HTTP to kinesistest in a
// separate process that answers at once. One op is one call; cpu-ns/record is
// this process's CPU time (user and system, with net/http and the garbage
// collector) per record, allocs/record and B/record its allocations.
func BenchmarkPutRecordsClient(b *testing.B) {
	const records, size = 64, 1024
	url := startBenchEndpoint(b)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_KINESIS": "",
	} {
		b.Setenv(k, v)
	}
	sdk, err := relaykinesis.NewClient(context.Background(), "", url)
	if err != nil {
		b.Fatal(err)
	}
	direct, err := relaykinesis.NewDirect(sdk)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	recs := make([]types.PutRecordsRequestEntry, records)
	for i := range recs {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		recs[i] = types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(fmt.Sprintf("%016x", r.Uint64()))}
	}
	in := &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: recs}

	for _, c := range []struct {
		name string
		api  relaykinesis.PutRecordsAPI
	}{{"sdk", sdk}, {"direct", direct}} {
		call := func(b *testing.B) {
			out, err := c.api.PutRecords(context.Background(), in)
			if err != nil {
				b.Fatal(err)
			}
			if len(out.Records) != records || aws.ToInt32(out.FailedRecordCount) != 0 {
				b.Fatalf("%d results, %d failed", len(out.Records), aws.ToInt32(out.FailedRecordCount))
			}
		}
		// One call at a time, and 8 at once (the Writer makes up to
		// max_in_flight calls at once; a busy relay rarely idles between them).
		for _, callers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/callers=%d", c.name, callers), func(b *testing.B) {
				for range 20 { // warm connections and pools
					call(b)
				}
				runtime.GC()
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				cpu0 := cpuTime()
				var n atomic.Int64
				if callers == 1 {
					for b.Loop() {
						call(b)
						n.Add(1)
					}
				} else {
					b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							call(b)
							n.Add(1)
						}
					})
				}
				cpu := cpuTime() - cpu0
				runtime.ReadMemStats(&ms1)
				per := float64(n.Load() * records)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/record")
				b.ReportMetric(float64(cpu.Nanoseconds())/per, "cpu-ns/record")
				b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/per, "allocs/record")
				b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/per, "B/record")
			})
		}
	}
}
