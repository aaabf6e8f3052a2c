package reliability

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// streamName is the stream of examples/relay.yaml, which every test uses.
const streamName = "genesys-interactions-stream"

// size picks the full count for the default run and a smaller one under -short
// or the race detector.
func size(full, reduced int) int {
	if testing.Short() || raceEnabled {
		return reduced
	}
	return full
}

// awsEnv gives the SDK dummy credentials and hides any endpoint or profile the
// environment sets, so that the relay reaches only the test server.
func awsEnv(t testing.TB) {
	t.Helper()
	testx.AWSEnv(t, "us-east-1")
	for _, v := range []string{"RELAY_LISTEN", "RELAY_METRICS_LISTEN", "RELAY_SINK", "KINESIS_STREAM_NAME", "KINESIS_ENDPOINT", "SQS_QUEUE_URL"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

// --- events ---

// event is a seed-shaped event that examples/relay.yaml forwards; its partition
// key is keyOf(queue).
func event(id, queue string) []byte {
	return []byte(fmt.Sprintf(`{"version":"0","id":%q,"detail-type":"Genesys Cloud Interaction Event","source":"genesys.cloud",`+
		`"account":"123456789012","time":"2026-11-27T12:00:00Z","region":"us-east-1","resources":[],`+
		`"detail":{"eventCode":"interaction.wrapup","id":"evt","interaction":{"id":"i-%s","type":"voice","state":"connected",`+
		`"routing":{"queue":{"id":%q,"name":"Sales"}},"customAttributes":{"customer_tier":"enterprise","priority_score":"85"}}}}`,
		id, id, queue))
}

// keyOf is the partition key examples/relay.yaml gives an event of queue.
func keyOf(queue string) string {
	h := fnv.New64a()
	h.Write([]byte(queue))
	return hex.EncodeToString(h.Sum(nil))
}

// traceID returns the trace_id of a record written by the relay.
func traceID(data []byte) string {
	// The relay writes trace_id last (no enrich.fields in the examples): look
	// there first, as decoding every record of a 256 KiB event is slow.
	if i := bytes.LastIndex(data, []byte(`"trace_id":"`)); i >= 0 {
		rest := data[i+len(`"trace_id":"`):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 && bytes.IndexByte(rest[:j], '\\') < 0 && string(rest[j:]) == `"}` {
			return string(rest[:j])
		}
	}
	var r struct {
		TraceID string `json:"trace_id"`
	}
	if json.Unmarshal(data, &r) != nil {
		return ""
	}
	return r.TraceID
}

// storedIDs counts the records of the log by trace id.
func storedIDs(recs []kinesistest.Record) map[string]int {
	m := make(map[string]int, len(recs))
	for _, r := range recs {
		m[traceID(r.Data)]++
	}
	return m
}

// --- configuration ---

// writeConfig writes examples/relay.yaml with its tests removed, listening on a
// free port, with the given settings (dotted keys, e.g. "http.max_in_flight")
// replaced or added, and returns the file's path.
func writeConfig(t testing.TB, set map[string]any) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "relay.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	deleteKey(root, "tests")
	setKey(t, root, "listen", "127.0.0.1:0")
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		setKey(t, root, k, set[k])
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "relay.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadConfig is writeConfig followed by config.Load, for a daemon in process.
func loadConfig(t testing.TB, set map[string]any) *config.Config {
	t.Helper()
	cfg, err := config.Load(writeConfig(t, set))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

func setKey(t testing.TB, m *yaml.Node, path string, v any) {
	t.Helper()
	key, rest, nested := strings.Cut(path, ".")
	var val *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			val = m.Content[i+1]
		}
	}
	if val == nil {
		val = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val)
	}
	if nested {
		setKey(t, val, rest, v)
		return
	}
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		t.Fatal(err)
	}
	*val = n
}

// --- the Kinesis side ---

// tapServer is a kinesistest.Server behind a listener of its own that logs every
// PutRecords call: when it started and ended, the trace ids it carried and which
// of them were stored. The record log says what landed; the call log says how
// often each record was sent, which proves that only failed records are sent
// again.
type tapServer struct {
	*kinesistest.Server
	url string
	hs  *http.Server

	busy  atomic.Int64                  // PutRecords calls being served
	gate  atomic.Pointer[chan struct{}] // when set, PutRecords calls wait for it to close
	held  atomic.Int64                  // calls waiting at the gate
	quiet atomic.Bool                   // no call log (it costs the test's CPU)

	mu    sync.Mutex
	calls []putCall
}

// putCall is one PutRecords call seen by a tapServer.
type putCall struct {
	start, end time.Time
	ids        []string   // trace id of each record, in request order
	keys       [][32]byte // SHA-256 of each record's data: a resend has the same
	stored     []bool     // whether each record was stored
	status     int        // 0 when the call was aborted without an answer
}

// newTap starts a kinesistest server with the examples' stream and the given
// faults, and a tap in front of it; both close when the test ends.
func newTap(t testing.TB, seed uint64, f kinesistest.Faults) *tapServer {
	t.Helper()
	tp := &tapServer{Server: kinesistest.New(kinesistest.Options{Streams: []string{streamName}, Seed: seed, Faults: f})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp.url = "http://" + ln.Addr().String()
	tp.hs = &http.Server{Handler: tp, ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardLog}
	go func() { _ = tp.hs.Serve(ln) }()
	t.Cleanup(func() {
		tp.Release()
		tp.Server.Close() // releases held calls
		_ = tp.hs.Close()
	})
	return tp
}

// Hold makes PutRecords calls wait, before Kinesis reads them, until Release.
func (tp *tapServer) Hold() {
	ch := make(chan struct{})
	tp.gate.Store(&ch)
}

// Release lets the held calls, and all later ones, through.
func (tp *tapServer) Release() {
	if ch := tp.gate.Swap(nil); ch != nil {
		close(*ch)
	}
}

// Held returns how many calls wait at the gate.
func (tp *tapServer) Held() int64 { return tp.held.Load() }

// settle waits until no PutRecords call is being served. A call the relay gave
// up on can still be on the server's side after the relay has stopped; the
// record log, the call log and the server's counters agree only after it.
func (tp *tapServer) settle(t testing.TB) {
	t.Helper()
	if !testx.Eventually(time.Minute, func() bool { return tp.busy.Load() == 0 }) {
		t.Errorf("%d PutRecords calls still being served a minute after the relay stopped", tp.busy.Load())
	}
}

// URL is the endpoint the relay is configured with.
func (tp *tapServer) URL() string { return tp.url }

func (tp *tapServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "Kinesis_20131202.PutRecords" {
		tp.Server.ServeHTTP(w, r)
		return
	}
	tp.busy.Add(1)
	defer tp.busy.Add(-1)
	if gate := tp.gate.Load(); gate != nil {
		tp.held.Add(1)
		select {
		case <-*gate:
			tp.held.Add(-1)
		case <-r.Context().Done():
			tp.held.Add(-1)
			panic(http.ErrAbortHandler)
		}
	}
	if tp.quiet.Load() {
		tp.Server.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	c := putCall{start: time.Now()}
	c.ids, c.keys = requestIDs(body)
	rec := &recorder{ResponseWriter: w}
	defer func() { // also when the server aborts the call
		c.end = time.Now()
		c.status = rec.status
		c.stored = responseStored(rec.body.Bytes(), len(c.ids), rec.status)
		tp.mu.Lock()
		tp.calls = append(tp.calls, c)
		tp.mu.Unlock()
	}()
	tp.Server.ServeHTTP(rec, r)
}

// Calls returns the PutRecords calls answered or aborted so far.
func (tp *tapServer) Calls() []putCall {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]putCall(nil), tp.calls...)
}

func requestIDs(body []byte) ([]string, [][32]byte) {
	var req struct {
		Records []struct{ Data []byte }
	}
	if json.Unmarshal(body, &req) != nil {
		return nil, nil
	}
	ids := make([]string, len(req.Records))
	keys := make([][32]byte, len(req.Records))
	for i, r := range req.Records {
		ids[i], keys[i] = traceID(r.Data), sha256.Sum256(r.Data)
	}
	return ids, keys
}

func responseStored(body []byte, n, status int) []bool {
	stored := make([]bool, n)
	if status != http.StatusOK {
		return stored
	}
	var resp struct {
		Records []struct{ SequenceNumber, ErrorCode string }
	}
	if json.Unmarshal(body, &resp) != nil || len(resp.Records) != n {
		return stored
	}
	for i, r := range resp.Records {
		stored[i] = r.SequenceNumber != "" && r.ErrorCode == ""
	}
	return stored
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// sendings sums up a call log per record.
type sendings struct {
	attempts, storedN, failedInCalls, failedRecords int
	perRecord                                       map[[32]byte]*sendHistory
}

// sendHistory is what happened to one record (the same data) across calls.
type sendHistory struct {
	id               string // its trace id
	attempts, stored int
	storedAt         time.Time // end of the call that stored it
	lastStart        time.Time // start of the last call that carried it
}

func summarize(calls []putCall) sendings {
	s := sendings{perRecord: map[[32]byte]*sendHistory{}}
	for _, c := range calls {
		for i, key := range c.keys {
			h := s.perRecord[key]
			if h == nil {
				h = &sendHistory{id: c.ids[i]}
				s.perRecord[key] = h
			}
			h.attempts++
			if c.start.After(h.lastStart) {
				h.lastStart = c.start
			}
			s.attempts++
			switch {
			case c.stored[i]:
				s.storedN++
				h.stored++
				h.storedAt = c.end
			case c.status == http.StatusOK:
				s.failedRecords++
			default:
				s.failedInCalls++
			}
		}
	}
	return s
}

// --- the relay in process ---

// --- the sender side ---

// reply is an answer of the relay as a sender sees it.
type reply struct {
	code       int
	status     string // "forwarded" or "dropped" for 200
	key        string // partition_key of a forwarded event
	reason     string
	errMsg     string // "error" of a failure
	retryAfter string
	header     http.Header
	elapsed    time.Duration
	raw        []byte
	err        error // transport error; code is 0
}

// newClient returns a client keeping up to conns connections to the relay.
func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxIdleConns: conns,
		IdleConnTimeout: 30 * time.Second}, Timeout: 30 * time.Second}
}

// send POSTs body to url as EventBridge does; hdr are header name/value pairs.
func send(client *http.Client, url string, body []byte, hdr ...string) reply {
	return do(client, http.MethodPost, url, body, hdr...)
}

func do(client *http.Client, method, url string, body []byte, hdr ...string) reply {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return reply{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return reply{err: err, elapsed: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	r := reply{code: resp.StatusCode, raw: raw, err: err, elapsed: time.Since(start), retryAfter: resp.Header.Get("Retry-After"), header: resp.Header}
	var m struct {
		Status       string `json:"status"`
		PartitionKey string `json:"partition_key"`
		Reason       string `json:"reason"`
		Error        string `json:"error"`
	}
	if json.Unmarshal(raw, &m) == nil {
		r.status, r.key, r.reason, r.errMsg = m.Status, m.PartitionKey, m.Reason, m.Error
	}
	return r
}

// counts is a concurrency-safe tally of answers by status code (0: transport
// error).
type counts struct {
	mu sync.Mutex
	m  map[int]int
}

func (c *counts) add(code int) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[int]int{}
	}
	c.m[code]++
	c.mu.Unlock()
}

func (c *counts) get(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[code]
}

func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.m)
}

// history is a concurrency-safe log of what each event was answered, for
// messages that say it.
type history struct {
	mu sync.Mutex
	m  map[string][]int
}

func (h *history) add(id string, code int) {
	h.mu.Lock()
	if h.m == nil {
		h.m = map[string][]int{}
	}
	h.m[id] = append(h.m[id], code)
	h.mu.Unlock()
}

// of returns the event's answers in order (0: a transport error).
func (h *history) of(id string) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.m[id]...)
}

// count returns how many of the event's answers had the code.
func (h *history) count(id string, code int) int {
	n := 0
	for _, c := range h.of(id) {
		if c == code {
			n++
		}
	}
	return n
}

// says describes the event's answers, e.g. "answered 503, then 200".
func (h *history) says(id string) string {
	codes := h.of(id)
	if len(codes) == 0 {
		return "never answered"
	}
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = strconv.Itoa(c)
		if c == 0 {
			parts[i] = "no answer (connection error)"
		}
	}
	return "answered " + strings.Join(parts, ", then ")
}

// forwardedOK reports whether r is the 200 "forwarded" answer for queue's key.
func forwardedOK(r reply, queue string) bool {
	return r.code == http.StatusOK && r.status == "forwarded" && r.key == keyOf(queue)
}

var discardLog = log.New(io.Discard, "", 0)
