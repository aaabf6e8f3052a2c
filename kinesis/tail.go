package kinesis

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TailAPI is what Tail needs of the SDK client.
type TailAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

var _ TailAPI = (*kinesis.Client)(nil)

// Position is where Tail starts reading each shard.
type Position struct {
	Type types.ShardIteratorType // TRIM_HORIZON, LATEST or AT_TIMESTAMP
	At   time.Time               // for AT_TIMESTAMP
}

// ParsePosition reads a --from value: "trim-horizon" (the oldest record kept),
// "latest" (only records written from now on), an RFC 3339 time, or a duration
// ("15m": records that arrived in the last 15 minutes).
func ParsePosition(s string, now time.Time) (Position, error) {
	switch strings.ToLower(s) {
	case "trim-horizon", "trim_horizon", "oldest":
		return Position{Type: types.ShardIteratorTypeTrimHorizon}, nil
	case "latest", "now":
		return Position{Type: types.ShardIteratorTypeLatest}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return Position{Type: types.ShardIteratorTypeAtTimestamp, At: t}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return Position{Type: types.ShardIteratorTypeAtTimestamp, At: now.Add(-d)}, nil
	}
	return Position{}, fmt.Errorf("%q is not latest, trim-horizon, an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (15m)", s)
}

// TailOptions configure Tail.
type TailOptions struct {
	// Stream is the stream's name or ARN.
	Stream string
	From   Position
	// Limit stops Tail after this many user records (0: no limit).
	Limit int
	// Follow keeps reading records as they arrive until ctx ends; without it Tail
	// returns once every shard is read up to its tip.
	Follow bool
	// Poll is the wait before reading again a shard that had nothing new
	// (default 1 s; Kinesis allows 5 reads a second per shard).
	Poll time.Duration
}

// TailRecord is one user record read back from the stream.
type TailRecord struct {
	Shard    string
	Sequence string
	// SubSequence is the record's index inside a KPL aggregated record, -1 for a
	// record that was not aggregated.
	SubSequence int
	UserRecord
	Arrival time.Time // ApproximateArrivalTimestamp of the Kinesis record
}

// minRead is the least time between two reads of one shard: Kinesis allows five
// GetRecords calls a second per shard.
const minRead = 200 * time.Millisecond

// shardReader is the read state of one shard.
type shardReader struct {
	id       string
	iter     *string
	lastSeq  string // the last sequence number read, to renew an expired iterator
	atTip    bool   // the last read returned everything there was
	done     bool   // closed and read to its end
	failures int    // transient failures in a row
}

// Tail reads the user records of every shard of o.Stream from o.From and calls emit
// for each, de-aggregating KPL records. Each round reads every shard once and emits
// that round's records merged by arrival time, each shard's in its order. It
// returns nil when done (every shard read to its tip, o.Limit records emitted, or
// with Follow, ctx ended), emit's error, or the error that stopped it.
func Tail(ctx context.Context, api TailAPI, o TailOptions, emit func(TailRecord) error) error {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	shards, err := listShards(ctx, api, o.Stream, o.From.Type == types.ShardIteratorTypeLatest)
	if err != nil {
		return err
	}
	readers := make([]*shardReader, 0, len(shards))
	known := map[string]bool{}
	for _, id := range shards {
		known[id] = true
		readers = append(readers, &shardReader{id: id})
	}
	emitted := 0
	for {
		progress := false
		var round [][]TailRecord
		for i := 0; i < len(readers); i++ {
			r := readers[i]
			if r.done {
				continue
			}
			recs, children, err := r.read(ctx, api, o)
			if err != nil {
				if ctx.Err() != nil && o.Follow {
					return nil
				}
				return err
			}
			if len(recs) > 0 {
				progress = true
				round = append(round, recs)
			}
			// A closed shard read to its end names the shards that continue it.
			for _, c := range children {
				if !known[c] {
					known[c] = true
					readers = append(readers, &shardReader{id: c})
				}
			}
		}
		for _, rec := range mergeByArrival(round) {
			if err := emit(rec); err != nil {
				return err
			}
			if emitted++; o.Limit > 0 && emitted >= o.Limit {
				return nil
			}
		}
		if !o.Follow && caughtUp(readers) {
			return nil
		}
		wait := minRead
		if !progress {
			wait = o.Poll
		}
		select {
		case <-ctx.Done():
			if o.Follow {
				return nil
			}
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func caughtUp(readers []*shardReader) bool {
	for _, r := range readers {
		if !r.done && !r.atTip {
			return false
		}
	}
	return true
}

// listShards returns the IDs of the stream's shards; only the open ones when
// openOnly (a closed shard gets no new records).
func listShards(ctx context.Context, api TailAPI, stream string, openOnly bool) ([]string, error) {
	in := &kinesis.ListShardsInput{}
	setStream(stream, &in.StreamName, &in.StreamARN)
	var ids []string
	for {
		out, err := api.ListShards(ctx, in)
		if err != nil {
			if errorCode(err) == "ResourceNotFoundException" {
				return nil, fmt.Errorf("kinesis stream %q not found: %w", stream, err)
			}
			return nil, fmt.Errorf("kinesis: list shards of %q: %w", stream, err)
		}
		for _, s := range out.Shards {
			if openOnly && s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
				continue
			}
			ids = append(ids, aws.ToString(s.ShardId))
		}
		if out.NextToken == nil {
			return ids, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func setStream(stream string, name, arn **string) {
	if strings.HasPrefix(stream, "arn:") {
		*arn = aws.String(stream)
	} else {
		*name = aws.String(stream)
	}
}

// maxTransient bounds the transient failures in a row of one shard without
// Follow; with Follow, Tail keeps trying (with backoff) until its context ends.
const maxTransient = 8

// read reads the next records of the shard. A transient failure (throttling, an
// expired iterator, a 5xx) reads nothing this round.
func (r *shardReader) read(ctx context.Context, api TailAPI, o TailOptions) (recs []TailRecord, children []string, err error) {
	if r.iter == nil {
		if r.iter, err = r.iterator(ctx, api, o); err != nil {
			return r.transient(ctx, o, err)
		}
	}
	limit := int32(10000)
	out, err := api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: r.iter, Limit: aws.Int32(limit)})
	if err != nil {
		if errorCode(err) == "ExpiredIteratorException" {
			r.iter = nil // renewed after the last record read
		}
		return r.transient(ctx, o, err)
	}
	r.failures = 0
	for _, kr := range out.Records {
		r.lastSeq = aws.ToString(kr.SequenceNumber)
		base := TailRecord{Shard: r.id, Sequence: r.lastSeq, SubSequence: -1, Arrival: aws.ToTime(kr.ApproximateArrivalTimestamp),
			UserRecord: UserRecord{PartitionKey: aws.ToString(kr.PartitionKey), Data: kr.Data}}
		users, ok := Deaggregate(kr.Data)
		if !ok {
			recs = append(recs, base)
			continue
		}
		for i, u := range users {
			rec := base
			rec.SubSequence, rec.UserRecord = i, u
			recs = append(recs, rec)
		}
	}
	r.iter = out.NextShardIterator
	if r.iter == nil {
		r.done = true
		for _, c := range out.ChildShards {
			children = append(children, aws.ToString(c.ShardId))
		}
	}
	r.atTip = aws.ToInt64(out.MillisBehindLatest) == 0 && len(out.Records) < int(limit)
	return recs, children, nil
}

// iterator starts the shard where o.From says, or after the last record read.
func (r *shardReader) iterator(ctx context.Context, api TailAPI, o TailOptions) (*string, error) {
	in := &kinesis.GetShardIteratorInput{ShardId: aws.String(r.id), ShardIteratorType: o.From.Type}
	setStream(o.Stream, &in.StreamName, &in.StreamARN)
	switch {
	case r.lastSeq != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(r.lastSeq)
	case o.From.Type == types.ShardIteratorTypeAtTimestamp:
		in.Timestamp = aws.Time(o.From.At)
	}
	out, err := api.GetShardIterator(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("shard %s: get iterator: %w", r.id, err)
	}
	return out.ShardIterator, nil
}

// transient decides about a failed read: throttling and transient failures are
// retried in a later round, up to maxTransient in a row without Follow; anything
// else (no such stream, access denied, invalid) ends Tail.
func (r *shardReader) transient(ctx context.Context, o TailOptions, err error) ([]TailRecord, []string, error) {
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	cls := classify(err)
	if errorCode(err) == "ExpiredIteratorException" {
		cls = classRetry
	}
	if cls != classRetry && cls != classThrottle {
		return nil, nil, fmt.Errorf("kinesis: read shard %s of %q: %w", r.id, o.Stream, err)
	}
	r.failures++
	if !o.Follow && r.failures > maxTransient {
		return nil, nil, fmt.Errorf("kinesis: read shard %s of %q: %d failures in a row: %w", r.id, o.Stream, r.failures, err)
	}
	// Back off: wait a little longer for each failure in a row, within a second.
	select {
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-time.After(min(time.Duration(r.failures)*minRead, time.Second)):
	}
	return nil, nil, nil
}

// mergeByArrival merges the records of several shards by arrival time, keeping
// each shard's records in their order.
func mergeByArrival(lists [][]TailRecord) []TailRecord {
	if len(lists) == 1 {
		return lists[0]
	}
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]TailRecord, 0, n)
	for len(out) < n {
		best := -1
		for i, l := range lists {
			if len(l) > 0 && (best < 0 || l[0].Arrival.Before(lists[best][0].Arrival)) {
				best = i
			}
		}
		out = append(out, lists[best][0])
		lists[best] = lists[best][1:]
	}
	return out
}
