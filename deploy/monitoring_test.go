// Package deploy holds the tests of the monitoring files in this directory: the
// Prometheus alert rules (checked and unit-tested with promtool) and the Grafana
// dashboard, and that every metric they query exists in /metrics of a running relay.
package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.yaml.in/yaml/v3"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/daemontest"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
	"github.com/genesys-relay/genesys-relay/sqsin"
)

const (
	alertsFile    = "prometheus/alerts.yaml"
	alertTests    = "prometheus/alerts_test.yaml"
	dashboardFile = "grafana/genesys-relay.json"
)

// promtool returns the promtool to run: $PROMTOOL (scripts/test sets it, installing
// promtool with scripts/promtool.sh), else one on PATH. Without one the test is
// skipped, or fails under scripts/test (RELAY_TEST_REQUIRE_EMULATORS=1), so CI cannot
// pass by skipping.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if os.Getenv("RELAY_TEST_REQUIRE_EMULATORS") == "1" {
		t.Fatal("promtool not found (PROMTOOL unset, none on PATH) but RELAY_TEST_REQUIRE_EMULATORS=1 (run scripts/test)")
	}
	t.Skip("promtool not found; scripts/promtool.sh installs it")
	return ""
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestAlertRules: the rules are valid, and their unit tests (one or more per alert)
// pass.
func TestAlertRules(t *testing.T) {
	runPromtool(t, "check", "rules", alertsFile)
	runPromtool(t, "test", "rules", alertTests)

	// Every alert has a unit test that expects it to fire.
	var rules struct {
		Groups []struct{ Rules []struct{ Alert string } }
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	readYAML(t, alertsFile, &rules)
	readYAML(t, alertTests, &tests)
	fired := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fired[a.Alertname] = true
			}
		}
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && !fired[r.Alert] {
				t.Errorf("alert %s has no unit test in %s that makes it fire", r.Alert, alertTests)
			}
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// dashboardExprs returns the PromQL of every panel of the dashboard.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string
		Panels []struct {
			Type, Title string
			Targets     []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" {
		t.Errorf("%s has no uid", dashboardFile)
	}
	var exprs []string
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	return exprs
}

// TestDashboardQueries: every query of the dashboard is valid PromQL, checked by
// promtool as the expressions of recording rules, with Grafana's variables set.
func TestDashboardQueries(t *testing.T) {
	exprs := dashboardExprs(t)
	if len(exprs) < 10 {
		t.Fatalf("%d queries in the dashboard", len(exprs))
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*", "$job", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, _ := json.Marshal(vars.Replace(e)) // a JSON string is a YAML string
		fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %s\n", i, q)
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(f, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", f)
}

// metricNames are the metric names an expression reads: the relay's own and the
// Go process collector's.
var metricNames = regexp.MustCompile(`\b(?:genesys_relay|process|go)_[a-z0-9_]+\b`)

// tlsMetric exists only while the relay terminates TLS itself (http.tls); the
// relay in TestQueriedMetricsExist serves plain HTTP, so it is the one exception.
const tlsMetric = "genesys_relay_tls_certificate_expiry_timestamp_seconds"

// TestQueriedMetricsExist: every metric the dashboard and the alerts query is in
// /metrics of a relay that has just started (Kinesis and SQS configured, no event
// yet): series an alert matches must exist before their first increase.
func TestQueriedMetricsExist(t *testing.T) {
	queried := map[string][]string{} // metric → where
	for _, e := range dashboardExprs(t) {
		for _, m := range metricNames.FindAllString(e, -1) {
			queried[m] = append(queried[m], dashboardFile)
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	readYAML(t, alertsFile, &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range metricNames.FindAllString(r.Expr, -1) {
				queried[m] = append(queried[m], alertsFile+" "+r.Alert)
			}
		}
	}
	if len(queried) < 20 {
		t.Fatalf("only %d metric names found in the queries", len(queried))
	}

	d := startRelay(t)
	reg := testx.Scrape(t, d.Metrics+"/metrics")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for _, f := range fams {
		name := f.GetName()
		exposed[name] = true
		if f.GetType().String() == "HISTOGRAM" || f.GetType().String() == "SUMMARY" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exposed[name+s] = true
			}
		}
	}
	for m, where := range queried {
		if m == tlsMetric {
			continue
		}
		if !exposed[m] {
			slices.Sort(where)
			t.Errorf("%s (queried in %s) is not in /metrics", m, strings.Join(slices.Compact(where), ", "))
		}
	}
	if _, ok := queried[tlsMetric]; !ok {
		t.Errorf("%s is queried nowhere; the TLS expiry alert and panel are missing", tlsMetric)
	}
}

// startRelay runs serve in process with deploy/relay.yaml, writing to the Kinesis
// test server and consuming a fresh queue on the SQS emulator.
func startRelay(t *testing.T) *daemontest.Running {
	t.Helper()
	sqsEndpoint := testx.SQSEndpoint(t)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc, err := sqsin.NewClient(ctx, "us-east-1", sqsEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	q, err := sc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("monitoring-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = sc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
	})

	srv := kinesistest.New(kinesistest.Options{Streams: []string{"monitoring"}})
	t.Cleanup(srv.Close)
	// The config the container image ships (relay.yaml here), on loopback.
	t.Setenv("RELAY_API_KEY", "monitoring-test")
	t.Setenv("KINESIS_STREAM_NAME", "")
	t.Setenv("KINESIS_ENDPOINT", "")
	t.Setenv("RELAY_LISTEN", "")
	cfg, err := config.Load("relay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen, cfg.MetricsListen, cfg.Tests = "127.0.0.1:0", "127.0.0.1:0", nil
	cfg.Kinesis.Stream, cfg.Kinesis.Region, cfg.Kinesis.Endpoint = "monitoring", "us-east-1", srv.URL()
	cfg.SQS.QueueURL, cfg.SQS.Endpoint, cfg.SQS.Region = aws.ToString(q.QueueUrl), sqsEndpoint, "us-east-1"
	// No Registry: the daemon's own, with the Go and process collectors, as in serve.
	return daemontest.Start(t, daemon.Options{Config: cfg})
}
