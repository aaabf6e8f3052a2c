package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// benchIdle measures the relay's memory holding -idle-conns kept-alive
// connections that each sent one event and then stay idle (with -tls, after a
// full TLS handshake each), as thousands of API-destination connections would:
// the relay's RSS before, with them open, and its peak.
func benchIdle(ctx context.Context, o options, tmp string, events [][]byte) (result, error) {
	ks := newKinesis(o)
	defer ks.Close()
	ch, url, err := startRelay(ctx, o, tmp, ks)
	if err != nil {
		return result{}, err
	}
	defer ch.stop()
	pid := ch.cmd.Process.Pid
	before, _, err := memory(pid)
	if err != nil {
		return result{}, err
	}
	conns := make([]*rawConn, o.idleConns)
	var opened, failed atomic.Int64
	var firstErr atomic.Value
	next := atomic.Int64{}
	var wg sync.WaitGroup
	start := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var answer bytes.Buffer
			for {
				i := int(next.Add(1)) - 1
				if i >= len(conns) || ctx.Err() != nil {
					return
				}
				c, err := newRawConn(url, events, o.tr.clientTLS(false), false)
				if err == nil {
					var status int
					if status, err = c.do(ctx, 0, &answer); err == nil && status != 200 {
						err = fmt.Errorf("status %d", status)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					c.close()
					continue
				}
				conns[i] = c
				opened.Add(1)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	sleep(ctx, 2*time.Second) // let the relay settle with every connection idle
	rss, peak, err := memory(pid)
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
	if err != nil {
		return result{}, err
	}
	r := result{Name: fmt.Sprintf("relay-idle-%s-%d", o.tr.scheme(), o.idleConns), Senders: o.idleConns,
		Seconds: took.Seconds(), Events: opened.Load(), TransportErrors: failed.Load(), PeakRSSMB: float64(peak) / (1 << 20),
		Statuses: map[string]int64{}}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstError = e
	}
	fmt.Fprintf(os.Stderr, "relay-bench: %d %s connections opened in %.1f s (%d failed); relay RSS %.1f MB before, %.1f MB with them idle (%.1f KB each), peak %.1f MB\n",
		opened.Load(), o.tr.scheme(), took.Seconds(), failed.Load(), float64(before)/(1<<20), float64(rss)/(1<<20),
		float64(rss-before)/1024/float64(max(opened.Load(), 1)), float64(peak)/(1<<20))
	return r, nil
}

// memory returns VmRSS and VmHWM of pid in bytes.
func memory(pid int) (rss, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		var kb int64
		if _, e := fmt.Sscanf(string(line), "VmRSS: %d kB", &kb); e == nil {
			rss = kb << 10
		}
		if _, e := fmt.Sscanf(string(line), "VmHWM: %d kB", &kb); e == nil {
			peak = kb << 10
		}
	}
	return rss, peak, nil
}
