package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/logx"
	"github.com/genesys-relay/genesys-relay/kinesis"
)

// runTail prints what landed in the stream: every user record (KPL aggregated
// records unpacked) of every shard as one JSON line.
func runTail(ctx context.Context, args []string, e env) int {
	fs, cfgPath := newFlags("tail", "", e)
	stream := fs.String("stream", "", "stream name or ARN (default: kinesis.stream of the config, or the stream of -output)")
	output := fs.String("output", "", "with outputs: in the config, the output whose stream to read")
	region := fs.String("region", "", "AWS region (default: kinesis.region of the config, else AWS_REGION)")
	endpoint := fs.String("endpoint", "", "Kinesis endpoint URL (default: kinesis.endpoint of the config, else KINESIS_ENDPOINT)")
	from := fs.String("from", "trim-horizon", "where to start: trim-horizon (oldest), latest (only new records), an RFC 3339 time, or a duration ago (15m)")
	limit := fs.Int("n", 0, "stop after this many records (0: no limit)")
	follow := fs.Bool("follow", false, "keep printing records as they arrive, until interrupted")
	poll := fs.Duration("poll", time.Second, "with -follow, how often a shard with nothing new is read again")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "genesys-relay tail: unexpected argument %q (the stream is -stream NAME)\n", fs.Arg(0))
		return exitInvalid
	}
	pos, err := kinesis.ParsePosition(*from, time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay tail: -from: %v\n", err)
		return exitInvalid
	}
	if *limit < 0 {
		fmt.Fprintln(e.stderr, "genesys-relay tail: -n must not be negative")
		return exitInvalid
	}

	// The stream comes from the config unless -stream names it and no config was
	// asked for.
	target := tailTarget{stream: *stream, region: *region, endpoint: *endpoint}
	if *stream == "" || configChosen(fs) {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
			return exitInvalid
		}
		k := cfg.Kinesis
		switch o, ok := cfg.Outputs[*output]; {
		case ok:
			k = o
		case *output != "" || (len(cfg.Outputs) > 0 && *stream == ""):
			fmt.Fprintf(e.stderr, "genesys-relay tail: -output: want one of the config's outputs (%s), got %q\n",
				strings.Join(slices.Sorted(maps.Keys(cfg.Outputs)), ", "), *output)
			return exitInvalid
		}
		target = target.over(k)
	} else if target.endpoint == "" {
		target.endpoint = os.Getenv("KINESIS_ENDPOINT")
	}
	if target.stream == "" {
		fmt.Fprintln(e.stderr, "genesys-relay tail: no stream: set kinesis.stream in the config or -stream")
		return exitInvalid
	}

	log := logx.New(e.stderr, logx.Options{Level: slog.LevelWarn})
	client, err := kinesis.NewClient(ctx, target.region, target.endpoint, awsconfig.WithLogger(logx.AWS(log)))
	if err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay tail: %v\n", err)
		return exitFailed
	}
	out := bufio.NewWriter(e.stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	err = kinesis.Tail(ctx, client, kinesis.TailOptions{Stream: target.stream, From: pos, Limit: *limit, Follow: *follow, Poll: *poll},
		func(r kinesis.TailRecord) error {
			if err := enc.Encode(newTailLine(r)); err != nil {
				return err
			}
			return out.Flush()
		})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return exitOK // interrupted
	}
	fmt.Fprintf(e.stderr, "genesys-relay tail: %v\n", err)
	return exitFailed
}

// configChosen reports whether a config file was asked for (-c, -config or
// RELAY_CONFIG), rather than the default relay.yaml.
func configChosen(fs *flag.FlagSet) bool {
	chosen := os.Getenv("RELAY_CONFIG") != ""
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "c" || f.Name == "config" {
			chosen = true
		}
	})
	return chosen
}

// tailTarget is the stream tail reads and how to reach it.
type tailTarget struct{ stream, region, endpoint string }

// over fills what the flags left empty from the config's kinesis section.
func (t tailTarget) over(k config.Kinesis) tailTarget {
	if t.stream == "" {
		t.stream = k.Stream
	}
	if t.region == "" {
		t.region = k.Region
	}
	if t.endpoint == "" {
		t.endpoint = k.Endpoint
	}
	return t
}

// tailLine is the JSON line of one record. The record's data is written as JSON
// when it is JSON (record), as a string when it is other text (data), and base64
// otherwise (data_base64).
type tailLine struct {
	Shard           string          `json:"shard"`
	Sequence        string          `json:"sequence_number"`
	SubSequence     *int            `json:"sub_sequence_number,omitempty"`
	PartitionKey    string          `json:"partition_key"`
	ExplicitHashKey string          `json:"explicit_hash_key,omitempty"`
	Arrival         string          `json:"arrival"`
	Record          json.RawMessage `json:"record,omitempty"`
	Data            *string         `json:"data,omitempty"`
	DataBase64      *string         `json:"data_base64,omitempty"`
}

func newTailLine(r kinesis.TailRecord) tailLine {
	l := tailLine{Shard: r.Shard, Sequence: r.Sequence, PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey,
		Arrival: r.Arrival.UTC().Format(time.RFC3339Nano)}
	if r.SubSequence >= 0 {
		l.SubSequence = &r.SubSequence
	}
	switch d := bytes.TrimSpace(r.Data); {
	case len(d) > 0 && json.Valid(d):
		l.Record = d
	case utf8.Valid(r.Data):
		s := string(r.Data)
		l.Data = &s
	default:
		s := base64.StdEncoding.EncodeToString(r.Data)
		l.DataBase64 = &s
	}
	return l
}
