package kinesistest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// putRecords serves PutRecords, or PutRecord when single is set.
func (s *Server) putRecords(w http.ResponseWriter, r *http.Request, body []byte, single bool) {
	req := s.reqs.Get().(*PutRequest)
	defer s.reqs.Put(req)
	answered := false
	defer func() {
		if !answered { // also when the call is abandoned by a panic
			s.failedCalls.Add(1)
		}
	}()
	*req = PutRequest{Records: req.Records[:0]}
	decode := s.opts.DecodePut
	if decode == nil {
		decode = decodePut
	}
	if err := decode(body, single, req); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	s.received.Add(int64(len(req.Records)))
	for i := range req.Records {
		req.Records[i].fault, req.Records[i].shard = recordOK, 0
	}
	st, status, code, msg := s.validatePut(req, single)
	if status != 0 {
		writeError(w, status, code, msg)
		return
	}

	f := s.faults.Load()
	d := s.decide(f, true, req.Records)
	if !s.wait(r.Context(), w, f, d) {
		return
	}
	if d.status != 0 {
		writeError(w, d.status, d.code, faultMessage(d.code, st, st.shardIDs[0], s.opts.AccountID))
		return
	}
	if single && req.Records[0].fault == recordNoResult {
		s.failedRecords.Add(1)
		writeJSON(w, []byte(`{"EncryptionType":"NONE"}`))
		answered = true
		return
	}
	if single && req.Records[0].fault != recordOK {
		e := &req.Records[0]
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

	base := s.store(st, req.Records)
	out := s.bufs.Get().(*bytes.Buffer)
	defer s.bufs.Put(out)
	out.Reset()
	if single {
		e := &req.Records[0]
		b := append(out.AvailableBuffer(), `{"EncryptionType":"NONE","SequenceNumber":"`...)
		b = appendSeq(b, base+1)
		b = append(b, `","ShardId":"`...)
		b = append(b, st.shardIDs[e.shard]...)
		b = append(b, `"}`...)
		out.Write(b)
	} else {
		s.appendPutRecordsResult(out, st, req.Records, base)
	}
	if d.drop {
		abandon() // stored, but the client never learns it
	}
	writeJSON(w, out.Bytes())
	answered = true
}

// store assigns sequence numbers to the records that did not fail and
// stores them. It returns the sequence number before the first one.
func (s *Server) store(st *stream, recs []PutEntry) uint64 {
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
		sum := sha256.Sum256(e.Data)
		if _, dup := s.seen[sum]; dup {
			s.duplicates.Add(1)
		} else {
			s.seen[sum] = struct{}{}
		}
		s.log = append(s.log, Record{
			Stream:          st.name,
			ShardID:         st.shardIDs[e.shard],
			PartitionKey:    string(e.PartitionKey),
			ExplicitHashKey: string(e.ExplicitHashKey),
			Data:            e.Data,
			SequenceNumber:  string(appendSeq(nil, seq)),
			Arrival:         now,
		})
	}
	return base
}

// appendPutRecordsResult writes the PutRecords response body.
func (s *Server) appendPutRecordsResult(out *bytes.Buffer, st *stream, recs []PutEntry, base uint64) {
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
func (s *Server) validatePut(req *PutRequest, single bool) (st *stream, status int, code, msg string) {
	var v violations
	prefix := "records."
	switch {
	case single:
		prefix = ""
	case !req.HasRecords:
		v.add("Value null at 'records' failed to satisfy constraint: Member must not be null")
	case len(req.Records) == 0:
		v.add("Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(req.Records) > MaxRecordsPerRequest:
		v.add(fmt.Sprintf("Value at 'records' failed to satisfy constraint: Member must have length less than or equal to %d", MaxRecordsPerRequest))
	}
	total := 0
	for i := range req.Records {
		e := &req.Records[i]
		// at names the record in messages, as Coral does (1-based).
		at := func() string {
			if single {
				return ""
			}
			return prefix + strconv.Itoa(i+1) + ".member."
		}
		switch {
		case !e.HasData:
			v.add("Value null at '" + at() + "data' failed to satisfy constraint: Member must not be null")
		case e.Size > s.opts.MaxRecordBytes:
			v.add(fmt.Sprintf("Value at '%sdata' failed to satisfy constraint: Member must have length less than or equal to %d", at(), s.opts.MaxRecordBytes))
		}
		switch n := utf8.RuneCount(e.PartitionKey); {
		case !e.HasKey:
			v.add("Value null at '" + at() + "partitionKey' failed to satisfy constraint: Member must not be null")
		case n < 1:
			v.add("Value '' at '" + at() + "partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1")
		case n > 256:
			v.add("Value at '" + at() + "partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256")
		}
		if e.HasHash && !hashKeyPattern(e.ExplicitHashKey) {
			v.add("Value '" + jsonSafe(e.ExplicitHashKey) + "' at '" + at() + "explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})")
		}
		total += e.Size + len(e.PartitionKey)
	}
	if msg := v.message(); msg != "" {
		return nil, http.StatusBadRequest, "ValidationException", msg
	}
	if !single && total > s.opts.MaxRequestBytes {
		return nil, http.StatusBadRequest, "InvalidArgumentException",
			fmt.Sprintf("Records size exceeds %d MB limit", s.opts.MaxRequestBytes>>20)
	}
	st, status, code, msg = s.lookup(req.StreamName, req.StreamARN)
	if status != 0 {
		return nil, status, code, msg
	}
	for i := range req.Records {
		e := &req.Records[i]
		shard, ok := st.shardFor(e.PartitionKey, e.ExplicitHashKey, e.HasHash)
		if !ok {
			return nil, http.StatusBadRequest, "InvalidArgumentException",
				"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was " + jsonSafe(e.ExplicitHashKey)
		}
		e.shard = shard
	}
	if req.DryRun {
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
