package sqsin

import (
	"context"
	"errors"
	"testing"
	"time"
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

	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	if _, err := NewClient(ctx, "", ""); err == nil {
		t.Error("NewClient without any region succeeded")
	}
}
