package kinesistest

import (
	"crypto/md5"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// stream is an existing stream. It does not change after New.
type stream struct {
	name     string
	arn      string
	created  time.Time
	shardIDs []string
	starts   []*big.Int // first hash key of each shard
	ends     []*big.Int // last hash key of each shard
	width    *big.Int   // hash keys per shard (the last shard takes the rest)
}

// region is the region in the stream's ARN.
func (st *stream) region() string {
	return strings.Split(st.arn, ":")[3]
}

// maxHashKey is 2^128-1, the largest hash key.
var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

func newStream(name string, opts Options, created time.Time) *stream {
	n := opts.ShardsPerStream
	st := &stream{
		name:    name,
		arn:     fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", opts.Region, opts.AccountID, name),
		created: created,
		width:   new(big.Int).Div(new(big.Int).Add(maxHashKey, big.NewInt(1)), big.NewInt(int64(n))),
	}
	for i := range n {
		st.shardIDs = append(st.shardIDs, fmt.Sprintf("shardId-%012d", i))
		start := new(big.Int).Mul(st.width, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, st.width), big.NewInt(1))
		if i == n-1 {
			end = maxHashKey
		}
		st.starts, st.ends = append(st.starts, start), append(st.ends, end)
	}
	return st
}

// shardFor maps a record to a shard by its explicit hash key if it has one,
// else by the MD5 of its partition key. ok is false for a hash key out of
// range.
func (st *stream) shardFor(key, hashKey []byte, hasHash bool) (int, bool) {
	if len(st.shardIDs) == 1 && !hasHash {
		return 0, true
	}
	h := new(big.Int)
	if hasHash {
		if _, ok := h.SetString(string(hashKey), 10); !ok || h.Cmp(maxHashKey) > 0 {
			return 0, false
		}
	} else {
		sum := md5.Sum(key)
		h.SetBytes(sum[:])
	}
	i := int(new(big.Int).Div(h, st.width).Int64())
	return min(i, len(st.shardIDs)-1), true
}

// lookup resolves the stream a request names, by name or by ARN.
func (s *Server) lookup(name, arn []byte) (st *stream, status int, code, msg string) {
	key := string(name)
	if len(name) == 0 {
		if len(arn) == 0 {
			return nil, http.StatusBadRequest, "ValidationException", "Either StreamName or StreamARN must be provided."
		}
		_, key, _ = strings.Cut(string(arn), ":stream/")
	}
	if st := s.streams[key]; st != nil {
		return st, 0, "", ""
	}
	if len(name) == 0 {
		key = string(arn)
	}
	return nil, http.StatusBadRequest, "ResourceNotFoundException",
		"Stream " + jsonSafe([]byte(key)) + " under account " + s.opts.AccountID + " not found."
}

// streamRef is the stream-addressing part of a request.
type streamRef struct {
	StreamName string
	StreamARN  string
}

// streamOf decodes the stream a read-only request names, applies the injected
// latency and hang, and looks the stream up; on false it has answered already.
func (s *Server) streamOf(w http.ResponseWriter, r *http.Request, body []byte) (*stream, bool) {
	var in streamRef
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return nil, false
	}
	f := s.faults.Load()
	if !s.wait(r.Context(), w, f, s.decide(f, false, nil)) {
		return nil, false
	}
	st, status, code, msg := s.lookup([]byte(in.StreamName), []byte(in.StreamARN))
	if status != 0 {
		writeError(w, status, code, msg)
		return nil, false
	}
	return st, true
}

func (s *Server) describeStreamSummary(w http.ResponseWriter, r *http.Request, body []byte) {
	st, ok := s.streamOf(w, r, body)
	if !ok {
		return
	}
	type modeDetails struct {
		StreamMode string
	}
	type metrics struct {
		ShardLevelMetrics []string
	}
	type summary struct {
		StreamName              string
		StreamARN               string
		StreamStatus            string
		StreamModeDetails       modeDetails
		RetentionPeriodHours    int
		StreamCreationTimestamp float64
		EnhancedMonitoring      []metrics
		EncryptionType          string
		OpenShardCount          int
		ConsumerCount           int
		MaxRecordSizeInKiB      int
	}
	out, _ := json.Marshal(struct{ StreamDescriptionSummary summary }{summary{
		StreamName:              st.name,
		StreamARN:               st.arn,
		StreamStatus:            "ACTIVE",
		StreamModeDetails:       modeDetails{StreamMode: "PROVISIONED"},
		RetentionPeriodHours:    24,
		StreamCreationTimestamp: float64(st.created.Unix()),
		EnhancedMonitoring:      []metrics{{ShardLevelMetrics: []string{}}},
		EncryptionType:          "NONE",
		OpenShardCount:          len(st.shardIDs),
		MaxRecordSizeInKiB:      s.opts.MaxRecordBytes / 1024,
	}})
	writeJSON(w, out)
}

func (s *Server) listShards(w http.ResponseWriter, r *http.Request, body []byte) {
	st, ok := s.streamOf(w, r, body)
	if !ok {
		return
	}
	type hashRange struct{ StartingHashKey, EndingHashKey string }
	type seqRange struct{ StartingSequenceNumber string }
	type shard struct {
		ShardId             string
		HashKeyRange        hashRange
		SequenceNumberRange seqRange
	}
	shards := make([]shard, len(st.shardIDs))
	for i, id := range st.shardIDs {
		shards[i] = shard{
			ShardId:             id,
			HashKeyRange:        hashRange{st.starts[i].String(), st.ends[i].String()},
			SequenceNumberRange: seqRange{string(appendSeq(nil, 0))},
		}
	}
	out, _ := json.Marshal(struct{ Shards []shard }{shards})
	writeJSON(w, out)
}

// requestIDs numbers responses for the x-amzn-RequestId header.
var requestIDs atomic.Uint64

func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = []string{"application/x-amz-json-1.1"}
	var b [40]byte
	id := strconv.AppendUint(append(b[:0], "kinesistest-"...), requestIDs.Add(1), 10)
	h["X-Amzn-Requestid"] = []string{string(id)}
}

// writeJSON writes a 200 response with a JSON body.
func writeJSON(w http.ResponseWriter, body []byte) {
	setHeaders(w)
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeError writes an AWS JSON error: {"__type": code, "message": msg}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type,omitempty"`
		Message string `json:"message"`
	}{code, msg})
	setHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
