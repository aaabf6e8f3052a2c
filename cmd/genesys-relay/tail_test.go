package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestTailKinesisLocal: events replayed through the relay (KPL aggregation on) into
// kinesis-local come back from `tail` as one JSON line per event, with shard,
// sequence number, partition key, arrival time and the record itself as JSON; text
// and binary records as data and data_base64.
func TestTailKinesisLocal(t *testing.T) {
	endpoint := testx.KinesisEndpoint(t)
	kc := testx.KinesisClient(endpoint)
	stream := testx.NewStream(t, kc, 2)
	t.Setenv("KINESIS_ENDPOINT", "")
	t.Setenv("KINESIS_STREAM_NAME", "")
	t.Setenv("RELAY_CONFIG", "")
	// The example's filter and key, with KPL aggregation on, into the test stream.
	example, err := os.ReadFile("../../examples/relay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(example), "\nkinesis:\n")
	cfg := writeFile(t, "relay.yaml", head+"\nkinesis:\n  stream: "+stream+"\n  region: us-east-1\n  endpoint: "+endpoint+"\n  aggregate: true\n")

	code, out, errs := runCmd(t, "", "replay", "-c", cfg, "../../testdata/seed-events.jsonl")
	if code != exitFailed || !strings.Contains(out+errs, "11 forwarded") {
		// The seed's samples include 3 invalid events, so replay exits 1.
		t.Fatalf("replay: exit %d\n%s%s", code, out, errs)
	}

	code, out, errs = runCmd(t, "", "tail", "-c", cfg)
	if code != exitOK {
		t.Fatalf("tail: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d lines, want the 11 forwarded events:\n%s", len(lines), out)
	}
	ids := map[string]bool{}
	for _, l := range lines {
		var v struct {
			Shard        string
			Sequence     string `json:"sequence_number"`
			PartitionKey string `json:"partition_key"`
			Arrival      string
			Record       *struct {
				FilterReason string         `json:"filter_reason"`
				TraceID      string         `json:"trace_id"`
				Original     map[string]any `json:"original_event"`
			}
			Data *string
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		if !strings.HasPrefix(v.Shard, "shardId-") || v.Sequence == "" || len(v.PartitionKey) != 16 || v.Arrival == "" {
			t.Errorf("line lacks shard, sequence number, partition key or arrival: %s", l)
		}
		if v.Record == nil || v.Data != nil || v.Record.FilterReason != "passed_all_filters" || v.Record.Original == nil {
			t.Errorf("record not written as the relay's JSON record: %s", l)
			continue
		}
		ids[v.Record.TraceID] = true
	}
	if len(ids) != 11 {
		t.Errorf("%d distinct events, want 11", len(ids))
	}

	// -n, and -stream without a config; text and binary records.
	for _, data := range [][]byte{[]byte("plain text"), {0xff, 0x00, 0xfe}} {
		if _, err := kc.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("KINESIS_ENDPOINT", endpoint)
	code, out, errs = runCmd(t, "", "tail", "-stream", stream)
	if code != exitOK {
		t.Fatalf("tail -stream: exit %d: %s", code, errs)
	}
	if !strings.Contains(out, `"data":"plain text"`) || !strings.Contains(out, `"data_base64":"`+base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe})+`"`) {
		t.Errorf("text and binary records:\n%s", out)
	}
	code, out, _ = runCmd(t, "", "tail", "-stream", stream, "-n", "3")
	if n := strings.Count(out, "\n"); code != exitOK || n != 3 {
		t.Errorf("-n 3: exit %d, %d lines", code, n)
	}

	// Errors: a stream that does not exist; a -from that means nothing.
	code, _, errs = runCmd(t, "", "tail", "-stream", "no-such-stream")
	if code != exitFailed || !strings.Contains(errs, `"no-such-stream" not found`) {
		t.Errorf("missing stream: exit %d: %s", code, errs)
	}
	code, _, errs = runCmd(t, "", "tail", "-stream", stream, "-from", "yesterday")
	if code != exitInvalid || !strings.Contains(errs, "-from") {
		t.Errorf("bad -from: exit %d: %s", code, errs)
	}
}

// TestTailOutput: with outputs:, tail reads the stream of the output -output
// names, and without -output (or with an unknown one) it says which outputs
// there are instead of guessing.
func TestTailOutput(t *testing.T) {
	endpoint := testx.KinesisEndpoint(t)
	kc := testx.KinesisClient(endpoint)
	a, b := testx.NewStream(t, kc, 1), testx.NewStream(t, kc, 1)
	t.Setenv("KINESIS_ENDPOINT", "")
	t.Setenv("KINESIS_STREAM_NAME", "")
	t.Setenv("RELAY_CONFIG", "")
	cfg := writeFile(t, "relay.yaml", `filter: {sources: ["aws.partner/genesys.com/*"]}
kinesis: {region: us-east-1, endpoint: "`+endpoint+`"}
outputs:
  conv: {stream: `+a+`}
  pres: {stream: `+b+`}
routes:
  - {name: conv, to: conv, when: 'event["detail-type"].startsWith("v2.detail.events.conversation.")'}
  - {name: pres, to: pres, when: 'event["detail-type"].endsWith(".presence")'}
`)
	code, out, errs := runCmd(t, "", "replay", "-c", cfg,
		"../../examples/testdata/genesys-customer-start.json", "../../examples/testdata/genesys-user-presence.json")
	if code != exitOK {
		t.Fatalf("replay: exit %d\n%s%s", code, out, errs)
	}
	for output, want := range map[string]string{"conv": "v2.detail.events.conversation.", "pres": ".presence"} {
		code, out, errs := runCmd(t, "", "tail", "-c", cfg, "-output", output)
		if code != exitOK {
			t.Fatalf("tail -output %s: exit %d: %s", output, code, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], want) {
			t.Errorf("tail -output %s: %d lines, want the one event whose topic has %q:\n%s", output, len(lines), want, out)
		}
	}
	for _, args := range [][]string{{}, {"-output", "nope"}} {
		code, _, errs := runCmd(t, "", append([]string{"tail", "-c", cfg}, args...)...)
		if code != exitInvalid || !strings.Contains(errs, "conv, pres") {
			t.Errorf("tail %v: exit %d, %q; want exit %d naming the outputs", args, code, errs, exitInvalid)
		}
	}
}
