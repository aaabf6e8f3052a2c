package lambdain

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary act as the function process: it calls Start, which
// talks to the Runtime API at AWS_LAMBDA_RUNTIME_API and never returns.
const childEnv = "RELAY_TEST_LAMBDA_FUNCTION_PROCESS"

type invocation struct {
	id      string
	payload []byte
}

type answer struct {
	id, kind, contentType string // kind is "response" or "error"
	body                  []byte
}

// runtimeAPI is a minimal Lambda Runtime API (and Extensions API, for SIGTERM): it
// hands out invocations in order and collects the function's answers.
func runtimeAPI(t *testing.T, invs []invocation) (*httptest.Server, <-chan answer, *atomic.Bool) {
	queue := make(chan invocation, len(invs))
	for _, inv := range invs {
		queue <- inv
	}
	answers := make(chan answer, len(invs))
	var registered atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-queue:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(10*time.Second).UnixMilli(), 10))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:genesys-relay")
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/{kind}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		answers <- answer{id: r.PathValue("id"), kind: r.PathValue("kind"), contentType: r.Header.Get("Content-Type"), body: body}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2020-01-01/extension/register", func(w http.ResponseWriter, _ *http.Request) {
		registered.Store(true)
		w.Header().Set("Lambda-Extension-Identifier", "ext-1")
		_, _ = w.Write([]byte(`{}`))
	})
	mux.HandleFunc("GET /2020-01-01/extension/event/next", func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // an extension that registered for no events waits forever
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, answers, &registered
}

// stdoutFlusher tells the parent test about every flush.
type stdoutFlusher struct{}

func (stdoutFlusher) Flush(context.Context) error {
	_, err := fmt.Println("flushed")
	return err
}

// TestStartWithRuntimeAPI runs Start in a child process against a fake Runtime API,
// as Lambda would: the answers, their content type, Lambda's error reports, and the
// flush on SIGTERM all go through the real aws-lambda-go machinery.
func TestStartWithRuntimeAPI(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		Start(NewHandler(&pipeline{}, Options{Flusher: stdoutFlusher{}, Logger: quiet}))
		return
	}
	srv, answers, registered := runtimeAPI(t, []invocation{
		{"inv-envelope", []byte(envelope("forward-1"))},
		{"inv-batch", sqsBatch("forward-1", "retry-1", "drop-1", "invalid-1")},
		{"inv-unknown", []byte(`{"foo":1}`)},
		{"inv-invalid", []byte(envelope("invalid-1"))},
	})
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartWithRuntimeAPI$", "-test.v=false")
	cmd.Env = append(os.Environ(), childEnv+"=1", "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"))
	var stderr strings.Builder // the library logs error reports there
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("function process stderr:\n%s", stderr.String())
		}
	})
	flushes := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			flushes <- sc.Text()
		}
	}()

	got := map[string]answer{}
	for range 4 {
		select {
		case a := <-answers:
			got[a.id] = a
		case <-time.After(time.Minute):
			t.Fatalf("the function answered %d of 4 invocations", len(got))
		}
	}
	expect := func(id, kind, contentType, body string) {
		t.Helper()
		a := got[id]
		if a.kind != kind || (contentType != "" && a.contentType != contentType) || !strings.Contains(string(a.body), body) {
			t.Errorf("%s: %s %q %s; want %s %q containing %s", id, a.kind, a.contentType, a.body, kind, contentType, body)
		}
	}
	expect("inv-envelope", "response", "application/json", `{"status":"forwarded","id":"forward-1","partition_key":"pk-forward-1"}`)
	expect("inv-batch", "response", "application/json", `{"batchItemFailures":[{"itemIdentifier":"m-retry-1"},{"itemIdentifier":"m-invalid-1"}]}`)
	expect("inv-unknown", "error", "", `"errorType":"InvalidError"`)
	expect("inv-invalid", "error", "", `"errorType":"EventError"`)
	var report struct {
		Message string `json:"errorMessage"`
	}
	if err := json.Unmarshal(got["inv-invalid"].body, &report); err != nil || !strings.Contains(report.Message, "permanent") {
		t.Errorf("error report for an invalid event: %s", got["inv-invalid"].body)
	}

	for i := range 4 {
		select {
		case <-flushes:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d flushes after 4 invocations", i)
		}
	}
	if !registered.Load() {
		t.Fatal("Start with a Flusher did not register for SIGTERM")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-flushes:
	case <-time.After(30 * time.Second):
		t.Error("no flush on SIGTERM")
	}
}
