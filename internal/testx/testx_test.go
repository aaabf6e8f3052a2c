package testx

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// recorder is a testing.TB that records a failure instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestEventually(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		if !Eventually(time.Minute, func() bool { calls++; return calls == 3 }) || calls != 3 {
			t.Errorf("cond holding at the third call: %d calls", calls)
		}
		start := time.Now()
		if Eventually(time.Second, func() bool { return false }) {
			t.Error("a condition that never holds held")
		}
		if waited := time.Since(start); waited < time.Second || waited > time.Second+maxPause {
			t.Errorf("gave up after %s, want the 1s timeout", waited)
		}
		// Checked once more after the deadline.
		start = time.Now()
		if !Eventually(time.Second, func() bool { return time.Since(start) > time.Second }) {
			t.Error("a condition holding at the deadline did not count")
		}
	})
}

func TestWaitForFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{TB: t}
		WaitFor(r, time.Second, "nothing", func() bool { return false })
		if r.failed != "timed out after 1s waiting for nothing" {
			t.Errorf("failure %q", r.failed)
		}
		r.failed = ""
		WaitFor(r, time.Second, "something", func() bool { return true })
		if r.failed != "" {
			t.Errorf("failed with the condition holding: %q", r.failed)
		}
	})
}

// registry has a counter vector, a gauge and a histogram.
func registry() (*prometheus.Registry, prometheus.Histogram) {
	reg := prometheus.NewPedanticRegistry()
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"a", "b"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "g"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "h"})
	reg.MustRegister(vec, g, h)
	vec.WithLabelValues("1", "2").Add(3)
	vec.WithLabelValues("1", "3").Add(4)
	g.Set(-2.5)
	h.Observe(1)
	h.Observe(2)
	return reg, h
}

func TestMetrics(t *testing.T) {
	reg, h := registry()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	for name, g := range map[string]prometheus.Gatherer{"registry": reg, "scraped": Scrape(t, srv.URL)} {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				labels []string
				want   float64
				ok     bool
			}{
				{[]string{"b", "3"}, 4, true},
				{[]string{"a", "1", "b", "2"}, 3, true},
				{[]string{"a", "2"}, 0, false},
			} {
				if v, ok := Lookup(t, g, "x_total", c.labels...); v != c.want || ok != c.ok {
					t.Errorf("Lookup x_total %q = %v, %v; want %v, %v", c.labels, v, ok, c.want, c.ok)
				}
			}
			if v := Value(t, g, "g"); v != -2.5 {
				t.Errorf("Value g = %v", v)
			}
			r := &recorder{TB: t}
			Value(r, g, "x_total", "a", "9")
			if r.failed == "" {
				t.Error("Value of a missing series did not fail")
			}
			for sample, want := range map[string]bool{
				`x_total{a="1",b="2"} 3`: true,
				`x_total{b="2",a="1"} 3`: true,
				`x_total{a="1",b="2"} 4`: false, // another value
				`x_total{a="1"} 3`:       false, // labels are exact
				`g -2.5`:                 true,
				`missing 0`:              false,
			} {
				if got := HasSample(t, g, sample); got != want {
					t.Errorf("HasSample %s = %v", sample, got)
				}
			}
		})
	}
	if n := Observations(t, h); n != 2 {
		t.Errorf("Observations = %d, want 2", n)
	}
}

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { fmt.Fprintf(&b, "{\"n\":%d}\n\n", i) })
	}
	wg.Wait()
	var got []float64
	for _, l := range b.JSONLines(t) {
		got = append(got, l["n"].(float64))
	}
	slices.Sort(got)
	if !slices.Equal(got, []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("lines %v", got)
	}
	if s := string(b.Take()); len(s) != 10*len("{\"n\":0}\n\n") || b.String() != "" {
		t.Errorf("Take %q, then %q left", s, b.String())
	}
	fmt.Fprintln(&b, "not json")
	r := &recorder{TB: t}
	b.JSONLines(r)
	if r.failed == "" {
		t.Error("a line that is not JSON did not fail")
	}
}

func TestReadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, []byte("  {\"a\":1}\n\n\t\n{\"b\":2}  "), 0o600); err != nil {
		t.Fatal(err)
	}
	got := ReadLines(t, path)
	if len(got) != 2 || string(got[0]) != `{"a":1}` || string(got[1]) != `{"b":2}` {
		t.Errorf("lines %q", got)
	}
}

func TestAWSEnv(t *testing.T) {
	t.Setenv("AWS_PROFILE", "someone")
	t.Setenv("AWS_ENDPOINT_URL", "http://elsewhere")
	AWSEnv(t, "eu-west-1")
	for _, k := range []string{"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"} {
		if v, set := os.LookupEnv(k); set {
			t.Errorf("%s=%q is set", k, v)
		}
	}
	if os.Getenv("AWS_REGION") != "eu-west-1" || os.Getenv("AWS_ACCESS_KEY_ID") != "test" {
		t.Errorf("region %q, key %q", os.Getenv("AWS_REGION"), os.Getenv("AWS_ACCESS_KEY_ID"))
	}
	if data, err := os.ReadFile(os.Getenv("AWS_CONFIG_FILE")); err != nil || len(data) != 0 {
		t.Errorf("config file: %q, %v", data, err)
	}
}
