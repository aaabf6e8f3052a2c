package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/shapes"
)

// shapeResult is the measurement of one pathological shape: the relay's CPU
// per request and peak RSS, with one sender and with -c at once, against the
// CPU json.Valid needs for the same bytes.
type shapeResult struct {
	Shape         string         `json:"shape"`
	Bytes         int            `json:"bytes"`
	Statuses      map[string]int `json:"statuses"`
	ValidMS       float64        `json:"json_valid_cpu_ms"`
	IdleRSSMB     float64        `json:"idle_rss_mb"`
	AloneCPUMS    float64        `json:"alone_cpu_ms_per_request"`
	AloneRSSMB    float64        `json:"alone_peak_rss_mb"`
	Senders       int            `json:"senders"`
	ConcCPUMS     float64        `json:"concurrent_cpu_ms_per_request"`
	ConcRSSMB     float64        `json:"concurrent_peak_rss_mb"`
	ConcMaxMS     float64        `json:"concurrent_max_answer_ms"`
	FirstError    string         `json:"first_error,omitempty"`
	LoadAverage1m string         `json:"loadavg_1m"`
}

// benchShapes measures, for each shape of internal/shapes (-shapes to choose),
// a fresh relay process (first, for comparison, a fasthttp server that only
// checks an ordinary body with json.Valid): its idle RSS; -shape-rounds requests of the shape's
// body, one at a time (CPU per request, peak RSS); then -c senders sending it
// -shape-rounds times each at once (CPU per request, peak RSS, slowest
// answer). The relay's CPU is the sum of its threads' run time
// (/proc/<pid>/task/*/schedstat, nanoseconds). json.Valid is timed in this
// process over the same bytes.
func benchShapes(ctx context.Context, o options, tmp string) error {
	ks := newKinesis(o)
	defer ks.Close()
	bin := o.relayBin
	if bin == "" {
		var err error
		if bin, err = buildRelay(o.repo, tmp); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	relay := func(listen string) (*child, error) {
		cfgData, err := relayConfig(o, listen, ks.URL(), benchStream)
		if err != nil {
			return nil, err
		}
		cfgPath := filepath.Join(tmp, "relay.yaml")
		if err := os.WriteFile(cfgPath, cfgData, 0o600); err != nil {
			return nil, err
		}
		return startChild(bin, []string{"serve", "-c", cfgPath}, o.env, filepath.Join(tmp, "relay.log"))
	}
	floor := func(listen string) (*child, error) {
		return startChild(self, []string{floorCommand, "-listen", listen, "-fasthttp", "-valid"}, nil, filepath.Join(tmp, "floor.log"))
	}
	// The floor: what reading an ordinary body over HTTP and json.Valid cost
	// in a process of their own, measured the same way.
	r, err := benchShape(ctx, o, "floor: fasthttp, json.Valid (ordinary)", shapes.All[0].Build(o.shapeSize), floor)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	results := []shapeResult{r}
	for _, sh := range shapes.All {
		if o.shapes != "" && !slices.Contains(strings.Split(o.shapes, ","), sh.Name) {
			continue
		}
		r, err := benchShape(ctx, o, sh.Name, sh.Build(o.shapeSize), relay)
		if err != nil {
			return fmt.Errorf("%s: %w", sh.Name, err)
		}
		results = append(results, r)
		if !o.jsonOnly {
			fmt.Fprintf(os.Stderr, "relay-bench: %s done\n", sh.Name)
		}
	}
	reportShapes(os.Stdout, results, o.jsonOnly)
	return nil
}

// benchShape measures the server that start starts on a free address with
// body.
func benchShape(ctx context.Context, o options, name string, body []byte, start func(listen string) (*child, error)) (shapeResult, error) {
	r := shapeResult{Shape: name, Bytes: len(body), Statuses: map[string]int{}, Senders: o.senders}
	r.ValidMS = validCPU(body).Seconds() * 1000
	listen, err := freeAddr()
	if err != nil {
		return r, err
	}
	ch, err := start(listen)
	if err != nil {
		return r, err
	}
	defer ch.stop()
	if err := ch.waitReady(ctx, o.tr, o.tr.scheme()+"://"+listen+"/readyz"); err != nil {
		return r, err
	}
	pid := ch.cmd.Process.Pid
	url := o.tr.scheme() + "://" + listen + "/eventbridge"
	client := o.tr.httpClient()
	client.Timeout = 0 // a slow answer is measured, not cut short
	if t, ok := client.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost, t.MaxConnsPerHost = o.senders, o.senders
	}
	defer client.CloseIdleConnections()
	rss := func() float64 { b, _ := peakRSS(pid); return float64(b) / (1 << 20) }
	r.IdleRSSMB = rss()

	var mu sync.Mutex
	var latencies []time.Duration
	send := func() {
		start := time.Now()
		code, err := post(ctx, client, url, body)
		d := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		latencies = append(latencies, d)
		if err != nil {
			r.Statuses["error"]++
			if r.FirstError == "" {
				r.FirstError = err.Error()
			}
			return
		}
		r.Statuses[strconv.Itoa(code)]++
	}

	// One request first, not counted: the relay's first large body grows
	// its heap and buffers.
	if _, err := post(ctx, client, url, body); err != nil {
		return r, err
	}
	c0, err := cpuNanos(pid)
	if err != nil {
		return r, err
	}
	for range o.shapeRounds {
		send()
	}
	c1, _ := cpuNanos(pid)
	r.AloneCPUMS = float64(c1-c0) / 1e6 / float64(o.shapeRounds)
	r.AloneRSSMB = rss()

	latencies = latencies[:0]
	var wg sync.WaitGroup
	for range o.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range o.shapeRounds {
				send()
			}
		}()
	}
	wg.Wait()
	c2, _ := cpuNanos(pid)
	r.ConcCPUMS = float64(c2-c1) / 1e6 / float64(o.senders*o.shapeRounds)
	r.ConcRSSMB = rss()
	r.ConcMaxMS = float64(slices.Max(latencies).Microseconds()) / 1000
	r.LoadAverage1m = loadAverage()
	return r, nil
}

// post sends body and returns the answer's status.
func post(ctx context.Context, client *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// validCPU is the CPU time json.Valid takes over b, the least of several runs.
func validCPU(b []byte) time.Duration {
	best := time.Duration(1<<63 - 1)
	for range 5 {
		const n = 10
		start := selfCPU()
		for range n {
			_ = json.Valid(b)
		}
		best = min(best, (selfCPU()-start)/n)
	}
	return best
}

// cpuNanos is the CPU time of process pid: the run time of its threads, from
// /proc/<pid>/task/*/schedstat, in nanoseconds (the ticks of /proc/<pid>/stat
// are 10 ms, too coarse for one request).
func cpuNanos(pid int) (int64, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s/%s/schedstat: %w", dir, t.Name(), err)
		}
		total += ns
	}
	return total, nil
}

// loadAverage is the machine's load average over the last minute.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// reportShapes prints the table (Markdown) and one JSON line per shape.
func reportShapes(w io.Writer, rs []shapeResult, jsonOnly bool) {
	if !jsonOnly && len(rs) > 0 {
		fmt.Fprintf(w, "| shape | answers | json.Valid CPU ms | alone: CPU ms | × json.Valid | peak RSS MB | %d at once: CPU ms each | peak RSS MB | slowest answer ms | load |\n", rs[0].Senders)
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, r := range rs {
			codes := make([]string, 0, len(r.Statuses))
			for c, n := range r.Statuses {
				codes = append(codes, fmt.Sprintf("%s×%d", c, n))
			}
			slices.Sort(codes)
			fmt.Fprintf(w, "| %s | %s | %.1f | %.1f | %.1f | %.0f | %.1f | %.0f | %.0f | %s |\n",
				r.Shape, strings.Join(codes, " "), r.ValidMS, r.AloneCPUMS, r.AloneCPUMS/r.ValidMS, r.AloneRSSMB,
				r.ConcCPUMS, r.ConcRSSMB, r.ConcMaxMS, r.LoadAverage1m)
		}
		fmt.Fprintf(w, "\nbodies of %d bytes or less; RSS before the first request %.0f MB (%s)\n",
			slices.MaxFunc(rs, func(a, b shapeResult) int { return a.Bytes - b.Bytes }).Bytes, rs[len(rs)-1].IdleRSSMB, rs[len(rs)-1].Shape)
	}
	for _, r := range rs {
		b, _ := json.Marshal(r)
		fmt.Fprintln(w, string(b))
	}
}
