package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// load is what the senders saw during the measured window.
type load struct {
	elapsed   time.Duration
	answers   int64 // HTTP answers, any status
	forwarded int64 // 200 {"status":"forwarded",...}
	statuses  map[int]int64
	transport int64 // requests without an HTTP answer
	firstErr  string
	latencies []time.Duration // of every answer, sorted
}

// window is called when the measurement starts and ends, to take snapshots.
type window struct {
	start, stop func()
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseDone
)

// drive runs c senders against url, each sending one event and waiting for its
// answer, for warmup then d. Only requests that start within the measured window
// count; w.start and w.stop run at its edges.
func drive(ctx context.Context, url string, events [][]byte, c int, rawClient bool, t transport, resume bool, warmup, d time.Duration, w window) load {
	tr := &http.Transport{
		TLSClientConfig:       t.clientTLS(resume),
		DisableKeepAlives:     t.newConn,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2 * c,
		MaxIdleConnsPerHost:   c,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		DisableCompression:    true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var phase atomic.Int32
	per := make([]senderStats, c)
	var wg sync.WaitGroup
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var raw *rawConn
			if rawClient {
				var err error
				if raw, err = newRawConn(url, events, t.clientTLS(resume), t.newConn); err != nil {
					per[i].firstErr = err.Error()
					return
				}
				defer raw.close()
			}
			per[i].run(ctx, client, raw, url, events, i, &phase)
		}()
	}

	sleep(ctx, warmup)
	w.start()
	t0 := time.Now()
	phase.Store(phaseMeasure)
	sleep(ctx, d)
	phase.Store(phaseDone)
	elapsed := time.Since(t0)
	w.stop()
	wg.Wait()

	l := load{elapsed: elapsed, statuses: map[int]int64{}}
	n := 0
	for i := range per {
		n += len(per[i].lat)
	}
	l.latencies = make([]time.Duration, 0, n)
	for i := range per {
		s := &per[i]
		l.answers += int64(len(s.lat))
		l.forwarded += s.forwarded
		l.transport += s.transport
		for code, k := range s.statuses {
			l.statuses[code] += k
		}
		if l.firstErr == "" {
			l.firstErr = s.firstErr
		}
		l.latencies = append(l.latencies, s.lat...)
	}
	slices.Sort(l.latencies)
	return l
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// senderStats belongs to one sender; merged after the run.
type senderStats struct {
	lat       []time.Duration
	forwarded int64
	transport int64
	statuses  map[int]int64
	firstErr  string
}

// reqBody is a reusable request body. The reader must be one net/http knows
// to be in memory (a *bytes.Reader, here behind io.NopCloser): for any other
// type it writes the header block and the body in two writes, so every request
// reaches the relay as two TCP segments, which no load generator or HTTP
// client with a small in-memory body does, and the relay's kernel answers the
// first with an ACK of its own.
type reqBody struct {
	r  bytes.Reader
	rc io.ReadCloser
}

func newReqBody() *reqBody {
	b := new(reqBody)
	b.rc = io.NopCloser(&b.r)
	return b
}

var forwardedPrefix = []byte(`{"status":"forwarded"`)

// run sends until the phase is done. The request, its body and the answer
// buffer are reused, so the sender itself allocates little.
func (s *senderStats) run(ctx context.Context, client *http.Client, raw *rawConn, url string, events [][]byte, first int, phase *atomic.Int32) {
	s.lat = make([]time.Duration, 0, 1024)
	s.statuses = map[int]int64{}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		s.firstErr = err.Error()
		return
	}
	req.Header.Set("Content-Type", "application/json")
	body := newReqBody()
	var answer bytes.Buffer
	for i := first; ; i++ {
		p := phase.Load()
		if p == phaseDone || ctx.Err() != nil {
			return
		}
		n := i % len(events)
		start := time.Now()
		var status int
		var err error
		if raw != nil {
			status, err = raw.do(ctx, n, &answer)
		} else {
			status, err = s.post(client, req, body, events[n], &answer)
		}
		lat := time.Since(start)
		if err != nil {
			if p == phaseMeasure && ctx.Err() == nil {
				s.transport++
				if s.firstErr == "" {
					s.firstErr = err.Error()
				}
			}
			time.Sleep(10 * time.Millisecond) // do not spin on a refused connection
			continue
		}
		if p != phaseMeasure {
			continue
		}
		s.lat = append(s.lat, lat)
		s.statuses[status]++
		if status == http.StatusOK && bytes.HasPrefix(answer.Bytes(), forwardedPrefix) {
			s.forwarded++
		}
	}
}

// post sends ev with net/http's client, reusing req and body, and reads the
// answer into answer.
func (s *senderStats) post(client *http.Client, req *http.Request, body *reqBody, ev []byte, answer *bytes.Buffer) (int, error) {
	body.r.Reset(ev)
	req.Body, req.ContentLength = body.rc, int64(len(ev))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	answer.Reset()
	_, err = answer.ReadFrom(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// percentile is the nearest-rank percentile p (0 < p <= 100) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
