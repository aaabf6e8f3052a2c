package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

func exampleConfig(t testing.TB, name string) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Tests = nil
	return cfg
}

type answer struct {
	code int
	body map[string]any
}

func post(t testing.TB, client *http.Client, url string, body []byte) answer {
	t.Helper()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Errorf("POST: %v", err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("answer %d is not JSON: %q", resp.StatusCode, b)
	}
	return answer{resp.StatusCode, m}
}

// TestServeToKinesisLocal sends every seed sample event over HTTP through serve into
// kinesis-local (the real SDK over HTTP), reads the stream back and checks that
// exactly the forwarded events arrived, once each, with the seed's partition keys and
// the received detail bytes verbatim.
func TestServeToKinesisLocal(t *testing.T) {
	endpoint := testx.KinesisEndpoint(t)
	kc := testx.KinesisClient(endpoint)
	stream := testx.NewStream(t, kc, 2)

	cfg := exampleConfig(t, "relay.yaml")
	cfg.Kinesis.Stream, cfg.Kinesis.Endpoint, cfg.Kinesis.Region = stream, endpoint, "us-east-1"
	d := daemontest.Start(t, daemon.Options{Config: cfg})

	events := testx.ReadLines(t, "../../testdata/seed-events.jsonl")
	expected := testx.ReadLines(t, "../../testdata/seed-expected.jsonl")
	type want struct {
		ID, Decision string
		Reason       *string
		PartitionKey *string `json:"partition_key"`
	}
	forwarded := map[string]want{} // trace id → expectation
	details := map[string]json.RawMessage{}
	// A loaded machine may answer 503 (not written in time); the sender sends
	// again, as EventBridge does, and the event may then be in the stream twice.
	var mu sync.Mutex
	unavailable := map[string]int{}
	retryUntil := time.Now().Add(3 * time.Minute)
	var wg sync.WaitGroup
	for i := range events {
		var w want
		if err := json.Unmarshal(expected[i], &w); err != nil {
			t.Fatal(err)
		}
		if w.Decision == "forward" {
			forwarded[w.ID] = w
			var env struct{ Detail json.RawMessage }
			_ = json.Unmarshal(events[i], &env)
			details[w.ID] = env.Detail
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := post(t, http.DefaultClient, d.URL, events[i])
			for a.code == http.StatusServiceUnavailable && time.Now().Before(retryUntil) {
				mu.Lock()
				unavailable[w.ID]++
				mu.Unlock()
				a = post(t, http.DefaultClient, d.URL, events[i])
			}
			switch w.Decision {
			case "forward":
				if a.code != 200 || a.body["status"] != "forwarded" || a.body["partition_key"] != *w.PartitionKey {
					t.Errorf("event %s: %d %v, want 200 forwarded %s", w.ID, a.code, a.body, *w.PartitionKey)
				}
			case "drop":
				if a.code != 200 || a.body["status"] != "dropped" || a.body["reason"] != *w.Reason {
					t.Errorf("event %s: %d %v, want 200 dropped %s", w.ID, a.code, a.body, *w.Reason)
				}
			case "reject":
				if msg, _ := a.body["error"].(string); a.code != 400 || msg == "" {
					t.Errorf("event %s: %d %v, want 400 with an error", w.ID, a.code, a.body)
				}
			}
		}()
	}
	wg.Wait()
	if err := d.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := testx.ReadAll(ctx, kc, stream)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		var rec struct {
			OriginalEvent json.RawMessage `json:"original_event"`
			FilterReason  string          `json:"filter_reason"`
			ProcessedAt   string          `json:"processed_at"`
			SourceRegion  string          `json:"source_region"`
			TraceID       string          `json:"trace_id"`
		}
		if err := json.Unmarshal(r.Data, &rec); err != nil {
			t.Fatalf("record is not JSON: %v: %q", err, r.Data)
		}
		seen[rec.TraceID]++
		w, ok := forwarded[rec.TraceID]
		if !ok {
			t.Errorf("record for %s arrived but the event should not be forwarded", rec.TraceID)
			continue
		}
		if r.PartitionKey != *w.PartitionKey {
			t.Errorf("record %s: partition key %s, want %s", rec.TraceID, r.PartitionKey, *w.PartitionKey)
		}
		if rec.FilterReason != "passed_all_filters" || rec.SourceRegion == "" {
			t.Errorf("record %s: reason %q region %q", rec.TraceID, rec.FilterReason, rec.SourceRegion)
		}
		if _, err := time.Parse(time.RFC3339Nano, rec.ProcessedAt); err != nil {
			t.Errorf("record %s: processed_at %q: %v", rec.TraceID, rec.ProcessedAt, err)
		}
		if !bytes.Contains(r.Data, []byte(`{"original_event":`+string(details[rec.TraceID])+`,`)) {
			t.Errorf("record %s: original_event is not the received detail verbatim:\n%s", rec.TraceID, r.Data)
		}
	}
	resent := 0
	for id := range forwarded {
		resent += unavailable[id]
		if seen[id] < 1 || seen[id] > 1+unavailable[id] {
			t.Errorf("event %s arrived %d times, want once (answered 503 %d times first)", id, seen[id], unavailable[id])
		}
	}
	t.Logf("%d events sent, %d forwarded, %d records in the stream, %d sends answered 503 and repeated", len(events), len(forwarded), len(recs), resent)
	if len(recs) < len(forwarded) || len(recs) > len(forwarded)+resent {
		t.Errorf("%d records in the stream, want %d (and up to %d more after 503s)", len(recs), len(forwarded), resent)
	}
}

// TestOpsEndpoints checks health, readiness, metrics and the 404/405 rows of the
// HTTP contract on a running daemon (stdout sink: no AWS).
func TestOpsEndpoints(t *testing.T) {
	cfg := exampleConfig(t, "relay.yaml")
	cfg.Sink = "stdout"
	d := daemontest.Start(t, daemon.Options{Config: cfg, Stdout: io.Discard})
	for _, c := range []struct {
		method, path string
		code         int
		contains     string
	}{
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/readyz", 200, "ready"},
		{"GET", "/metrics", 200, "genesys_relay_events_received_total"},
		{"GET", "/eventbridge", 405, "not allowed"},
		{"POST", "/nope", 404, "not found"},
		{"POST", "/eventbridge", 400, "empty"},
	} {
		req, _ := http.NewRequest(c.method, d.Base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.contains) {
			t.Errorf("%s %s: %d %q, want %d containing %q", c.method, c.path, resp.StatusCode, b, c.code, c.contains)
		}
	}
}
