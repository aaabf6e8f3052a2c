package sqsin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/awsconf"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{QueueURL: "q"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.Workers != 4 || o.MaxMessages != 10 || o.WaitTime != 20*time.Second || o.HandleTimeout != 30*time.Second || o.Logger == nil {
		t.Errorf("defaults: %+v", o)
	}
}

func TestOptionsInvalid(t *testing.T) {
	for name, o := range map[string]Options{
		"no queue":                    {},
		"negative workers":            {QueueURL: "q", Workers: -1},
		"too many messages":           {QueueURL: "q", MaxMessages: 11},
		"negative messages":           {QueueURL: "q", MaxMessages: -1},
		"wait above 20s":              {QueueURL: "q", WaitTime: 21 * time.Second},
		"negative visibility":         {QueueURL: "q", VisibilityTimeout: -time.Second},
		"visibility above 12h":        {QueueURL: "q", VisibilityTimeout: 13 * time.Hour},
		"handle timeout too long":     {QueueURL: "q", VisibilityTimeout: 30 * time.Second},
		"handle timeout = visibility": {QueueURL: "q", VisibilityTimeout: 10 * time.Second, HandleTimeout: 10 * time.Second},
		"negative handle timeout":     {QueueURL: "q", HandleTimeout: -1},
		"negative retry delay":        {QueueURL: "q", RetryDelay: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(&fakeSQS{}, outcomeHandler, o)
			if !errors.Is(err, ErrOptions) {
				t.Errorf("New = %v, want ErrOptions", err)
			}
		})
	}
	if _, err := New(nil, outcomeHandler, Options{QueueURL: "q"}); !errors.Is(err, ErrOptions) {
		t.Errorf("New without client = %v", err)
	}
	if _, err := New(&fakeSQS{}, nil, Options{QueueURL: "q"}); !errors.Is(err, ErrOptions) {
		t.Errorf("New without handler = %v", err)
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int32{0: 0, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 20 * time.Second: 20} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	for i, hi := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		hi *= time.Millisecond
		if i == 4 || i == 5 {
			hi = time.Second
		}
		d := b.next()
		if d < hi/2 || d > hi {
			t.Errorf("attempt %d: delay %s outside [%s, %s]", i, d, hi/2, hi)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %s", d)
	}
}

func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if sleep(ctx, time.Hour) {
		t.Fatal("sleep reported a full delay on a cancelled context")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("sleep ignored the context")
	}
}

func TestNewClientEndpoint(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ENDPOINT_URL_SQS", "http://from-env:1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	ctx := context.Background()

	c, err := NewClient(ctx, "eu-west-1", "http://explicit:2")
	if err != nil {
		t.Fatal(err)
	}
	if got := *c.Options().BaseEndpoint; got != "http://explicit:2" {
		t.Errorf("explicit endpoint: BaseEndpoint = %s", got)
	}
	if got := c.Options().Region; got != "eu-west-1" {
		t.Errorf("region = %s", got)
	}
	c, err = NewClient(ctx, "eu-west-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := *c.Options().BaseEndpoint; got != "http://from-env:1" {
		t.Errorf("env endpoint: BaseEndpoint = %s", got)
	}

	if _, ok := c.Options().HTTPClient.(awsconf.HTTPClient); !ok {
		t.Errorf("HTTP client %T is not wrapped by awsconf", c.Options().HTTPClient)
	}
	for _, bad := range []string{"localhost:9324", "ftp://x", "http://"} {
		if _, err := NewClient(ctx, "eu-west-1", bad); err == nil || !strings.Contains(err.Error(), "sqs.endpoint") {
			t.Errorf("NewClient(endpoint %q): %v", bad, err)
		}
	}

	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	if _, err := NewClient(ctx, "", ""); err == nil || !strings.Contains(err.Error(), "sqs.region") {
		t.Errorf("NewClient without any region: %v", err)
	}
}

// TestRegion: sqs.region wins; else the region of an AWS queue URL (the queue
// is there whatever AWS_REGION says, e.g. in Lambda); else the fallback.
func TestRegion(t *testing.T) {
	for _, tc := range []struct{ configured, url, fallback, want string }{
		{"ap-south-1", "https://sqs.eu-west-1.amazonaws.com/1/q", "us-east-1", "ap-south-1"},
		{"", "https://sqs.eu-west-1.amazonaws.com/123456789012/q", "us-east-1", "eu-west-1"},
		{"", "https://sqs-fips.us-gov-west-1.amazonaws.com/1/q", "us-east-1", "us-gov-west-1"},
		{"", "https://sqs.cn-north-1.amazonaws.com.cn/1/q", "us-east-1", "cn-north-1"},
		{"", "https://eu-central-1.queue.amazonaws.com/1/q", "us-east-1", "eu-central-1"},
		{"", "http://127.0.0.1:4101/000000000000/q", "us-east-1", "us-east-1"},
		{"", "http://sqs.eu-west-1.localhost.localstack.cloud:4566/1/q", "us-east-1", "us-east-1"},
		{"", "https://example.com/sqs.eu-west-1.amazonaws.com", "", ""},
		{"", "::bad", "us-east-1", "us-east-1"},
	} {
		if got := Region(tc.configured, tc.url, tc.fallback); got != tc.want {
			t.Errorf("Region(%q, %q, %q) = %q, want %q", tc.configured, tc.url, tc.fallback, got, tc.want)
		}
	}
}
