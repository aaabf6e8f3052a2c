package testx

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Lookup returns the value of the counter, gauge or untyped series of family
// name whose labels include the given pairs (labels alternate names and
// values), and whether there is one. It fails the test if g cannot be gathered.
func Lookup(t testing.TB, g prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("Lookup %s: labels %q are not name, value pairs", name, labels)
	}
	for _, m := range series(t, g, name) {
		if hasLabels(m, labels, false) {
			if v, ok := value(m); ok {
				return v, true
			}
		}
	}
	return 0, false
}

// Value is Lookup's value; it fails the test when there is no such series.
func Value(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := Lookup(t, g, name, labels...)
	if !ok {
		t.Fatalf("no series %s with labels %q", name, labels)
	}
	return v
}

// HasSample reports whether g holds sample, a line of the text format such as
// `genesys_relay_events_dropped_total{reason="no_route"} 0`: a series of that
// name with exactly those labels, whose value is the line's. It fails the test
// if the line cannot be parsed or g cannot be gathered.
func HasSample(t testing.TB, g prometheus.Gatherer, sample string) bool {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(sample + "\n"))
	if err != nil || len(fams) != 1 {
		t.Fatalf("sample %q: %v", sample, err)
	}
	for name, f := range fams {
		if len(f.GetMetric()) != 1 {
			t.Fatalf("sample %q: not one series", sample)
		}
		want := f.GetMetric()[0]
		var labels []string
		for _, lp := range want.GetLabel() {
			labels = append(labels, lp.GetName(), lp.GetValue())
		}
		for _, m := range series(t, g, name) {
			if v, ok := value(m); ok && hasLabels(m, labels, true) && v == want.GetUntyped().GetValue() {
				return true
			}
		}
	}
	return false
}

// Observations is the number of observations of a histogram or summary.
func Observations(t testing.TB, m prometheus.Metric) uint64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	switch {
	case pb.Histogram != nil:
		return pb.Histogram.GetSampleCount()
	case pb.Summary != nil:
		return pb.Summary.GetSampleCount()
	}
	t.Fatalf("metric %v is neither a histogram nor a summary", &pb)
	return 0
}

// Scrape reads url (a /metrics page) once with http.DefaultClient and returns
// its metrics as a Gatherer, for Lookup, Value and HasSample. It fails the test
// if the page cannot be read or parsed.
func Scrape(t testing.TB, url string) prometheus.Gatherer {
	t.Helper()
	return ScrapeWith(t, http.DefaultClient, url)
}

// ScrapeWith is Scrape with client c (for an HTTPS listener, say).
func ScrapeWith(t testing.TB, c *http.Client, url string) prometheus.Gatherer {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, f := range fams {
		out = append(out, f)
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return out, nil })
}

// series returns the series of family name in g.
func series(t testing.TB, g prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

// hasLabels reports whether m has every name=value pair of labels and, when
// exact, no other label.
func hasLabels(m *dto.Metric, labels []string, exact bool) bool {
	if exact && len(m.GetLabel()) != len(labels)/2 {
		return false
	}
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// value is the value of a counter, gauge or untyped series.
func value(m *dto.Metric) (float64, bool) {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}
