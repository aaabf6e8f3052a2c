package kinesistest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// errBadBase64 reports a Data member that is not valid base64.
var errBadBase64 = errors.New("member Data is not valid base64")

// putRecords serves PutRecords, or PutRecord when single is set.
func (s *Server) putRecords(w http.ResponseWriter, r *http.Request, body []byte, single bool) {
	req := s.reqs.Get().(*putRequest)
	defer s.reqs.Put(req)
	answered := false
	defer func() {
		if !answered { // also when the call is abandoned by a panic
			s.failedCalls.Add(1)
		}
	}()
	req.streamName, req.streamARN, req.dryRun, req.hasRecords = nil, nil, false, false

	parse := parsePutRecords
	if single {
		parse = parsePutRecord
	}
	if err := parse(body, req); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	s.received.Add(int64(len(req.records)))
	if err := s.decodeData(req.records); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	st, status, code, msg := s.validatePut(req, single)
	if status != 0 {
		writeError(w, status, code, msg)
		return
	}

	f := s.faults.Load()
	d := s.decide(f, true, req.records)
	if !s.wait(r.Context(), w, f, d) {
		return
	}
	if d.status != 0 {
		writeError(w, d.status, d.code, faultMessage(d.code, st, st.shardIDs[0], s.opts.AccountID))
		return
	}
	if single && req.records[0].fault == recordNoResult {
		s.failedRecords.Add(1)
		writeJSON(w, []byte(`{"EncryptionType":"NONE"}`))
		answered = true
		return
	}
	if single && req.records[0].fault != recordOK {
		e := &req.records[0]
		if e.fault == recordThrottled {
			code = "ProvisionedThroughputExceededException"
			status = http.StatusBadRequest
		} else {
			code = "InternalFailure"
			status = http.StatusInternalServerError
		}
		writeError(w, status, code, faultMessage(code, st, st.shardIDs[e.shard], s.opts.AccountID))
		return
	}

	base := s.store(st, req.records)
	out := s.bufs.Get().(*bytes.Buffer)
	defer s.bufs.Put(out)
	out.Reset()
	if single {
		e := &req.records[0]
		b := append(out.AvailableBuffer(), `{"EncryptionType":"NONE","SequenceNumber":"`...)
		b = appendSeq(b, base+1)
		b = append(b, `","ShardId":"`...)
		b = append(b, st.shardIDs[e.shard]...)
		b = append(b, `"}`...)
		out.Write(b)
	} else {
		s.appendPutRecordsResult(out, st, req.records, base)
	}
	if d.drop {
		abandon() // stored, but the client never learns it
	}
	writeJSON(w, out.Bytes())
	answered = true
}

// decodeData sets the decoded size of each record's data and, unless the
// server discards records, the decoded data itself.
func (s *Server) decodeData(recs []entry) error {
	for i := range recs {
		e := &recs[i]
		if !e.hasData {
			continue
		}
		if s.opts.Discard {
			n, ok := base64Len(e.data)
			if !ok {
				return fmt.Errorf("%w (record %d)", errBadBase64, i)
			}
			e.dataSize = n
			continue
		}
		dst := make([]byte, base64.StdEncoding.DecodedLen(len(e.data)))
		n, err := base64.StdEncoding.Decode(dst, e.data)
		if err != nil {
			return fmt.Errorf("%w (record %d)", errBadBase64, i)
		}
		e.decoded, e.dataSize = dst[:n], n
	}
	return nil
}

// base64Len returns the decoded length of padded standard base64 text
// without decoding it; ok is false when the length cannot be valid.
func base64Len(b []byte) (n int, ok bool) {
	if len(b)%4 != 0 {
		return 0, false
	}
	n = len(b) / 4 * 3
	if len(b) > 0 && b[len(b)-1] == '=' {
		n--
		if b[len(b)-2] == '=' {
			n--
		}
	}
	return n, true
}

// store assigns sequence numbers to the records that did not fail and
// stores them. It returns the sequence number before the first one.
func (s *Server) store(st *stream, recs []entry) uint64 {
	var n, failed uint64
	for i := range recs {
		if recs[i].fault == recordOK {
			n++
		} else {
			failed++
		}
	}
	s.failedRecords.Add(int64(failed))
	s.stored.Add(int64(n))
	if s.opts.Discard {
		return s.seq.Add(n) - n
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	base := s.seq.Add(n) - n
	seq := base
	for i := range recs {
		e := &recs[i]
		if e.fault != recordOK {
			continue
		}
		seq++
		sum := sha256.Sum256(e.decoded)
		if _, dup := s.seen[sum]; dup {
			s.duplicates.Add(1)
		} else {
			s.seen[sum] = struct{}{}
		}
		s.log = append(s.log, Record{
			Stream:          st.name,
			ShardID:         st.shardIDs[e.shard],
			PartitionKey:    string(e.key),
			ExplicitHashKey: string(e.hashKey),
			Data:            e.decoded,
			SequenceNumber:  string(appendSeq(nil, seq)),
			Arrival:         now,
		})
	}
	return base
}

// appendPutRecordsResult writes the PutRecords response body.
func (s *Server) appendPutRecordsResult(out *bytes.Buffer, st *stream, recs []entry, base uint64) {
	failed := 0
	for i := range recs {
		if recs[i].fault != recordOK {
			failed++
		}
	}
	b := append(out.AvailableBuffer(), `{"EncryptionType":"NONE","FailedRecordCount":`...)
	b = strconv.AppendInt(b, int64(failed), 10)
	b = append(b, `,"Records":[`...)
	seq := base
	for i := range recs {
		e := &recs[i]
		if i > 0 {
			b = append(b, ',')
		}
		switch e.fault {
		case recordOK:
			seq++
			b = append(b, `{"SequenceNumber":"`...)
			b = appendSeq(b, seq)
			b = append(b, `","ShardId":"`...)
			b = append(b, st.shardIDs[e.shard]...)
			b = append(b, `"}`...)
		case recordThrottled:
			b = append(b, `{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"`...)
			b = append(b, faultMessage("ProvisionedThroughputExceededException", st, st.shardIDs[e.shard], s.opts.AccountID)...)
			b = append(b, `"}`...)
		case recordNoResult:
			b = append(b, `{}`...)
		default:
			b = append(b, `{"ErrorCode":"InternalFailure","ErrorMessage":"Internal service failure."}`...)
		}
	}
	b = append(b, "]}"...)
	out.Write(b)
}

// appendSeq appends a 56-digit sequence number, shaped like Kinesis's.
func appendSeq(b []byte, n uint64) []byte {
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], n, 10)
	b = append(b, "49"...)
	for range 54 - len(d) {
		b = append(b, '0')
	}
	return append(b, d...)
}

// faultMessage is the message real Kinesis sends with code. Stream and
// shard names contain no characters that need JSON escaping.
func faultMessage(code string, st *stream, shardID, account string) string {
	const role = ":assumed-role/genesys-relay/session"
	switch code {
	case "ProvisionedThroughputExceededException":
		return "Rate exceeded for shard " + shardID + " in stream " + st.name + " under account " + account + "."
	case "InternalFailure":
		return "Internal service failure."
	case "ServiceUnavailable":
		return "Service unavailable."
	case "AccessDeniedException":
		return "User: arn:aws:sts::" + account + role + " is not authorized to perform: kinesis:PutRecords on resource: " +
			st.arn + " because no identity-based policy allows the kinesis:PutRecords action"
	case "ExpiredTokenException":
		return "The security token included in the request is expired"
	case "UnrecognizedClientException":
		return "The security token included in the request is invalid."
	case "KMSAccessDeniedException":
		return "User: arn:aws:sts::" + account + role + " is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:" +
			st.region() + ":" + account + ":key/0d6a7f3e-5c6b-4a8e-9f1a-2b3c4d5e6f70 (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)"
	case "KMSDisabledException":
		return "arn:aws:kms:" + st.region() + ":" + account + ":key/0d6a7f3e-5c6b-4a8e-9f1a-2b3c4d5e6f70 is disabled. (Service: AWSKMS; Status Code: 400; Error Code: DisabledException)"
	case "KMSNotFoundException":
		return "Key 'arn:aws:kms:" + st.region() + ":" + account + ":key/0d6a7f3e-5c6b-4a8e-9f1a-2b3c4d5e6f70' does not exist (Service: AWSKMS; Status Code: 400; Error Code: NotFoundException)"
	}
	return code + " (injected by kinesistest)."
}

// validatePut checks a write request as Kinesis does and resolves its
// stream. A non-zero status means the request fails with code and msg.
func (s *Server) validatePut(req *putRequest, single bool) (st *stream, status int, code, msg string) {
	var v violations
	prefix := "records."
	switch {
	case single:
		prefix = ""
	case !req.hasRecords:
		v.add("Value null at 'records' failed to satisfy constraint: Member must not be null")
	case len(req.records) == 0:
		v.add("Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(req.records) > MaxRecordsPerRequest:
		v.add(fmt.Sprintf("Value at 'records' failed to satisfy constraint: Member must have length less than or equal to %d", MaxRecordsPerRequest))
	}
	total := 0
	for i := range req.records {
		e := &req.records[i]
		// at names the record in messages, as Coral does (1-based).
		at := func() string {
			if single {
				return ""
			}
			return prefix + strconv.Itoa(i+1) + ".member."
		}
		switch {
		case !e.hasData:
			v.add("Value null at '" + at() + "data' failed to satisfy constraint: Member must not be null")
		case e.dataSize > s.opts.MaxRecordBytes:
			v.add(fmt.Sprintf("Value at '%sdata' failed to satisfy constraint: Member must have length less than or equal to %d", at(), s.opts.MaxRecordBytes))
		}
		switch n := utf8.RuneCount(e.key); {
		case !e.hasKey:
			v.add("Value null at '" + at() + "partitionKey' failed to satisfy constraint: Member must not be null")
		case n < 1:
			v.add("Value '' at '" + at() + "partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1")
		case n > 256:
			v.add("Value at '" + at() + "partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256")
		}
		if e.hasHash && !hashKeyPattern(e.hashKey) {
			v.add("Value '" + jsonSafe(e.hashKey) + "' at '" + at() + "explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})")
		}
		total += e.dataSize + len(e.key)
	}
	if msg := v.message(); msg != "" {
		return nil, http.StatusBadRequest, "ValidationException", msg
	}
	if !single && total > s.opts.MaxRequestBytes {
		return nil, http.StatusBadRequest, "InvalidArgumentException",
			fmt.Sprintf("Records size exceeds %d MB limit", s.opts.MaxRequestBytes>>20)
	}
	st, status, code, msg = s.lookup(req.streamName, req.streamARN)
	if status != 0 {
		return nil, status, code, msg
	}
	for i := range req.records {
		e := &req.records[i]
		shard, ok := st.shardFor(e.key, e.hashKey, e.hasHash)
		if !ok {
			return nil, http.StatusBadRequest, "InvalidArgumentException",
				"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " + jsonSafe(e.hashKey)
		}
		e.shard = shard
	}
	if req.dryRun {
		return nil, http.StatusBadRequest, "DryRunOperationException", "The request would have succeeded, but the DryRun parameter was set."
	}
	return st, 0, "", ""
}

// hashKeyPattern matches 0|([1-9]\d{0,38}).
func hashKeyPattern(b []byte) bool {
	if len(b) == 0 || len(b) > 39 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// jsonSafe shortens a client value for an error message; the message is
// escaped when written.
func jsonSafe(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// violations collects constraint violations in Coral's message format.
type violations struct {
	list []string
}

func (v *violations) add(msg string) { v.list = append(v.list, msg) }

func (v *violations) message() string {
	switch n := len(v.list); n {
	case 0:
		return ""
	case 1:
		return "1 validation error detected: " + v.list[0]
	default:
		if n > 10 {
			v.list = v.list[:10]
		}
		return strconv.Itoa(n) + " validation errors detected: " + strings.Join(v.list, "; ")
	}
}
