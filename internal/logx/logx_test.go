package logx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go/logging"

	"github.com/genesys-relay/genesys-relay/internal/logx"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// occurrences sums what the lines with message msg stand for (count, or 1).
func occurrences(lines []map[string]any, msg string) (n, written int) {
	for _, l := range lines {
		if l["msg"] != msg {
			continue
		}
		written++
		if c, ok := l["count"].(float64); ok {
			n += int(c)
		} else {
			n++
		}
	}
	return n, written
}

func TestDurationsAsText(t *testing.T) {
	var b testx.Buffer
	log := logx.New(&b, logx.Options{})
	log.Info("shutting down", "timeout", 20*time.Second, "linger", 10*time.Millisecond)
	l := b.JSONLines(t)[0]
	if l["timeout"] != "20s" || l["linger"] != "10ms" {
		t.Errorf("durations written as %v and %v; want \"20s\" and \"10ms\"", l["timeout"], l["linger"])
	}
}

// TestLimitOneLinePerCause: a flood of one warning is written as its first line and,
// at the end of the interval (here: at Flush), one line that counts the rest; other
// causes and lines below warn are not affected.
func TestLimitOneLinePerCause(t *testing.T) {
	var b testx.Buffer
	log := logx.New(&b, logx.Options{Interval: time.Hour})
	other := log.With("stream", "b")
	for i := range 1000 {
		log.Warn("kinesis: PutRecords failed, retrying", "i", i)
		log.Info("info line", "i", i)
		if i%10 == 0 {
			other.Warn("kinesis: PutRecords failed, retrying", "i", i)
		}
	}
	log.Error("another cause")
	logx.Flush(log)
	log.Warn("after flush")
	log.Warn("after flush")

	lines := b.JSONLines(t)
	if n, w := occurrences(lines, "info line"); n != 1000 || w != 1000 {
		t.Errorf("info lines: %d written, want 1000", w)
	}
	var flood, floodOther []map[string]any
	for _, l := range lines {
		if l["msg"] == "kinesis: PutRecords failed, retrying" {
			if l["stream"] == "b" {
				floodOther = append(floodOther, l)
			} else {
				flood = append(flood, l)
			}
		}
	}
	if len(flood) != 2 || len(floodOther) != 2 {
		t.Fatalf("%d and %d lines for the two flooding loggers; want 2 each (first, then the count)", len(flood), len(floodOther))
	}
	if _, ok := flood[0]["count"]; ok || flood[0]["i"] != 0.0 {
		t.Errorf("first line %v; want it as logged", flood[0])
	}
	if flood[1]["count"] != 999.0 || flood[1]["i"] != 999.0 {
		t.Errorf("second line %v; want the latest occurrence with count 999", flood[1])
	}
	if floodOther[1]["count"] != 99.0 {
		t.Errorf("other logger's second line %v; want count 99", floodOther[1])
	}
	if n, w := occurrences(lines, "another cause"); n != 1 || w != 1 {
		t.Errorf("a single error: %d lines", w)
	}
	if _, w := occurrences(lines, "after flush"); w != 2 {
		t.Errorf("after Flush every line is written; got %d of 2", w)
	}
}

// TestLimitAddsCounts: a line that already counts occurrences (a caller limiting its
// own lines) adds its count.
func TestLimitAddsCounts(t *testing.T) {
	var b testx.Buffer
	log := logx.New(&b, logx.Options{Interval: time.Hour})
	for range 3 {
		log.Warn("kinesis: records refused", "count", 5)
	}
	logx.Flush(log)
	lines := b.JSONLines(t)
	if n, w := occurrences(lines, "kinesis: records refused"); n != 15 || w != 2 {
		t.Errorf("%d lines standing for %d; want 2 lines for 15: %v", w, n, lines)
	}
}

// TestLimitWritesHeldLineAtIntervalEnd: without Flush, the held line is written when
// its interval ends, and nothing is lost.
func TestLimitWritesHeldLineAtIntervalEnd(t *testing.T) {
	var b testx.Buffer
	log := logx.New(&b, logx.Options{Interval: 20 * time.Millisecond})
	for range 50 {
		log.Warn("flood")
	}
	if !testx.Eventually(20*time.Second, func() bool { n, _ := occurrences(b.JSONLines(t), "flood"); return n == 50 }) {
		t.Fatalf("held lines not written: %v", b.JSONLines(t))
	}
	// However the 50 fell into intervals, each interval wrote at most two lines
	// (its first, and the count of the rest).
	if _, w := occurrences(b.JSONLines(t), "flood"); w > 50 {
		t.Errorf("%d lines for 50 warnings", w)
	}
}

// TestAWSWarningsThroughSlog: a warning of the AWS SDK itself (here: a response
// whose Date header it cannot parse) is a JSON line of the relay's logger.
func TestAWSWarningsThroughSlog(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Date", "not a date")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"StreamDescriptionSummary":{"StreamName":"s","StreamStatus":"ACTIVE"}}`))
	}))
	defer srv.Close()
	var b testx.Buffer
	log := logx.New(&b, logx.Options{})
	c := kinesis.New(kinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		Logger:      logx.AWS(log),
	})
	if _, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range b.JSONLines(t) {
		if strings.Contains(l["msg"].(string), "Date header") && l["level"] == "WARN" && l["source"] == "aws-sdk" {
			found = true
		}
	}
	if !found {
		t.Errorf("no SDK warning in the log: %v", b.JSONLines(t))
	}
	// Debug output of the SDK stays at debug level.
	logx.AWS(log).Logf(logging.Debug, "request %d", 1)
	for _, l := range b.JSONLines(t) {
		if l["msg"] == "aws sdk: request 1" {
			t.Errorf("SDK debug line written at info level: %v", l)
		}
	}
}

// TestFlushAll: what every logger holds back is written by FlushAll, as the command
// does before it exits.
func TestFlushAll(t *testing.T) {
	var a, b testx.Buffer
	la, lb := logx.New(&a, logx.Options{Interval: time.Hour}), logx.New(&b, logx.Options{Interval: time.Hour})
	for range 3 {
		la.Warn("a")
		lb.Warn("b")
	}
	logx.FlushAll()
	if n, w := occurrences(a.JSONLines(t), "a"); n != 3 || w != 2 {
		t.Errorf("logger a: %d lines for %d occurrences", w, n)
	}
	if n, w := occurrences(b.JSONLines(t), "b"); n != 3 || w != 2 {
		t.Errorf("logger b: %d lines for %d occurrences", w, n)
	}
}
