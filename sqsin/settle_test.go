package sqsin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	relay "github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// outcomeHandler decides by body: forward, drop, retry, invalid, toolarge, panic.
var outcomeHandler = handlerFunc(func(_ context.Context, raw []byte) (relay.Result, error) {
	switch string(raw) {
	case "forward":
		return relay.Result{Decision: relay.Forward}, nil
	case "drop":
		return relay.Result{Decision: relay.Drop, Reason: "excluded_event_code"}, nil
	case "retry":
		return relay.Result{}, fmt.Errorf("kinesis: %w", relay.ErrUnavailable)
	case "overloaded":
		return relay.Result{}, relay.ErrOverloaded
	case "invalid":
		return relay.Result{}, relay.Invalid("not_envelope", "body is not an EventBridge envelope")
	case "toolarge":
		return relay.Result{}, fmt.Errorf("record of 2 MiB: %w", relay.ErrPermanent)
	case "panic":
		panic("boom")
	}
	return relay.Result{}, errors.New("unexpected body " + string(raw))
})

func TestOutcomes(t *testing.T) {
	all := []string{"forward", "drop", "retry", "overloaded", "invalid", "toolarge", "panic"}
	tests := []struct {
		name          string
		deleteInvalid bool
		retryDelay    time.Duration
		wantDeleted   []string
		wantChanged   map[string]int32
		wantDeleteCnt float64
	}{
		{
			name:          "default keeps failures for the redrive policy",
			wantDeleted:   []string{"drop", "forward"},
			wantDeleteCnt: 2,
		},
		{
			name:          "DeleteInvalid deletes what can never succeed",
			deleteInvalid: true,
			wantDeleted:   []string{"drop", "forward", "invalid", "toolarge"},
			wantDeleteCnt: 4,
		},
		{
			name:          "RetryDelay shortens the visibility of what was kept",
			retryDelay:    1500 * time.Millisecond,
			wantDeleted:   []string{"drop", "forward"},
			wantChanged:   map[string]int32{"retry": 2, "overloaded": 2, "invalid": 2, "toolarge": 2, "panic": 2},
			wantDeleteCnt: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeSQS{receives: [][]types.Message{messages(all...)}}
			reg := prometheus.NewRegistry()
			c, err := New(api, outcomeHandler, Options{
				QueueURL: "q", Workers: 1, DeleteInvalid: tt.deleteInvalid, RetryDelay: tt.retryDelay,
				Registerer: reg, Logger: quiet,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := runUntil(t, c, func() bool { _, _, _, d := api.snapshot(); return d > 0 }); err != nil {
				t.Fatalf("Run: %v", err)
			}
			deleted, changed, _, deleteCalls := api.snapshot()
			slices.Sort(deleted)
			if !slices.Equal(deleted, tt.wantDeleted) {
				t.Errorf("deleted %v, want %v", deleted, tt.wantDeleted)
			}
			if deleteCalls != 1 {
				t.Errorf("%d DeleteMessageBatch calls, want 1", deleteCalls)
			}
			if len(tt.wantChanged) > 0 || len(changed) > 0 {
				if fmt.Sprint(changed) != fmt.Sprint(tt.wantChanged) {
					t.Errorf("visibility changed %v, want %v", changed, tt.wantChanged)
				}
			}
			for _, m := range []struct {
				name   string
				labels []string
				want   float64
			}{
				{"genesys_relay_sqs_messages_received_total", nil, 7},
				{"genesys_relay_sqs_messages_deleted_total", nil, tt.wantDeleteCnt},
				{"genesys_relay_sqs_messages_failed_total", []string{"why", "retryable"}, 3},
				{"genesys_relay_sqs_messages_failed_total", []string{"why", "permanent"}, 2},
				{"genesys_relay_sqs_delete_failures_total", nil, 0},
				{"genesys_relay_sqs_in_flight_messages", nil, 0},
			} {
				if got := testx.Value(t, reg, m.name, m.labels...); got != m.want {
					t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
				}
			}
		})
	}
}

func TestDeletePartialFailure(t *testing.T) {
	api := &fakeSQS{
		receives: [][]types.Message{messages("forward", "drop", "gone")},
		deleteFailed: map[string]failure{
			"drop": {senderFault: false, times: 1}, // SQS-side: retried and deleted
			"gone": {senderFault: true, times: 9},  // e.g. receipt handle expired: not retried
		},
	}
	h := handlerFunc(func(context.Context, []byte) (relay.Result, error) { return relay.Result{Decision: relay.Forward}, nil })
	reg := prometheus.NewRegistry()
	c, err := New(api, h, Options{QueueURL: "q", Workers: 1, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, c, func() bool {
		return testx.Value(t, reg, "genesys_relay_sqs_delete_failures_total") == 1
	}); err != nil {
		t.Fatal(err)
	}
	deleted, _, _, calls := api.snapshot()
	slices.Sort(deleted)
	if !slices.Equal(deleted, []string{"drop", "forward"}) || calls != 2 {
		t.Errorf("deleted %v in %d calls, want [drop forward] in 2", deleted, calls)
	}
	if got := testx.Value(t, reg, "genesys_relay_sqs_messages_deleted_total"); got != 2 {
		t.Errorf("messages_deleted_total = %v, want 2", got)
	}
}

func TestDeleteCallFailure(t *testing.T) {
	api := &fakeSQS{receives: [][]types.Message{messages("forward", "drop")}, deleteErr: errors.New("503")}
	reg := prometheus.NewRegistry()
	c, err := New(api, outcomeHandler, Options{QueueURL: "q", Workers: 1, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, c, func() bool {
		return testx.Value(t, reg, "genesys_relay_sqs_delete_failures_total") == 2
	}); err != nil {
		t.Fatal(err)
	}
	if got := testx.Value(t, reg, "genesys_relay_sqs_messages_deleted_total"); got != 0 {
		t.Errorf("messages_deleted_total = %v, want 0", got)
	}
}
