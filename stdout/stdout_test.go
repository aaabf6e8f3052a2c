package stdout

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/genesys-relay/genesys-relay"
)

func TestPutWritesOneLinePerRecord(t *testing.T) {
	var b strings.Builder
	s := New(&b)
	recs := []relay.Record{
		{PartitionKey: "k1", Data: []byte(`{"a":1}`)},
		{PartitionKey: `k"2`, ExplicitHashKey: "42", Data: []byte(`{"b":12345678901234567890}`)},
	}
	for _, r := range recs {
		if err := s.Put(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"partition_key":"k1","data":{"a":1}}` + "\n" +
		`{"partition_key":"k\"2","explicit_hash_key":"42","data":{"b":12345678901234567890}}` + "\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %s", l)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorIsRetryable(t *testing.T) {
	err := New(failWriter{}).Put(context.Background(), relay.Record{PartitionKey: "k", Data: []byte("{}")})
	if err == nil || !relay.Retryable(err) || !errors.Is(err, relay.ErrUnavailable) {
		t.Fatalf("err %v: want a retryable ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(failWriter{}).Put(ctx, relay.Record{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
