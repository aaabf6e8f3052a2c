package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/internal/kinesistest"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// TestMain lets a test run this package's binary as the real command, a process of
// its own that receives real signals: with GENESYS_RELAY_RUN_MAIN=1 the test binary
// is genesys-relay.
func TestMain(m *testing.M) {
	if os.Getenv("GENESYS_RELAY_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// proc is genesys-relay running as a child process.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	errb bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errb.Write(b)
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errb.String()
}

// startRelay runs `genesys-relay args...` with env added to a copy of the test's
// environment; the process is killed when the test ends.
func startRelay(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(append(os.Environ(), "GENESYS_RELAY_RUN_MAIN=1"), env...)
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("genesys-relay did not exit; stderr:\n%s", p.stderr())
	}
	return p.cmd.ProcessState.ExitCode()
}

// logLines decodes the process's stderr, which must hold only JSON lines.
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stderr line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func serveConfig(t *testing.T, endpoint, stream string) string {
	return writeFile(t, "relay.yaml", `
listen: "127.0.0.1:0"
shutdown_timeout: 7s
filter:
  sources: ["genesys.cloud"]
  rules: [{name: any, require: "true"}]
kinesis:
  stream: `+stream+`
  region: us-east-1
  endpoint: `+endpoint+`
`)
}

// awsTestEnv is a clean AWS environment with static test credentials.
var awsTestEnv = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null",
	"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "KINESIS_ENDPOINT=", "KINESIS_STREAM_NAME=", "RELAY_LISTEN="}

// TestServeShutdownNamesSignal: SIGTERM to a running relay ends it with exit 0, and
// the shutdown line names the signal and writes its timeout as a duration.
func TestServeShutdownNamesSignal(t *testing.T) {
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"signal"}})
	defer srv.Close()
	p := startRelay(t, awsTestEnv, "serve", "-c", serveConfig(t, srv.URL(), "signal"))
	if !testx.Eventually(60*time.Second, func() bool {
		if strings.Contains(p.stderr(), `"msg":"listening"`) {
			return true
		}
		select {
		case <-p.done:
			t.Fatalf("exited; stderr:\n%s", p.stderr())
		default:
		}
		return false
	}) {
		t.Fatalf("not listening; stderr:\n%s", p.stderr())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d after SIGTERM; stderr:\n%s", code, p.stderr())
	}
	var stopping map[string]any
	for _, l := range logLines(t, p.stderr()) {
		if l["msg"] == "shutting down" {
			stopping = l
		}
	}
	if stopping["signal"] != "SIGTERM" || stopping["timeout"] != "7s" {
		t.Errorf("shutting down line %v; want signal SIGTERM and timeout \"7s\"", stopping)
	}
}

// TestServeStartupErrorOnce: a start-up failure (the stream does not exist) is
// written once, as a JSON log line, and the exit status says it failed.
func TestServeStartupErrorOnce(t *testing.T) {
	srv := kinesistest.New(kinesistest.Options{Streams: []string{"other"}})
	defer srv.Close()
	p := startRelay(t, awsTestEnv, "serve", "-c", serveConfig(t, srv.URL(), "missing-stream"))
	if code := p.wait(t); code != exitFailed {
		t.Errorf("exit %d; want %d", code, exitFailed)
	}
	errs := p.stderr()
	if n := strings.Count(errs, `not found in region`); n != 1 {
		t.Errorf("the error appears %d times; want once:\n%s", n, errs)
	}
	var failed []map[string]any
	for _, l := range logLines(t, errs) {
		if l["level"] == "ERROR" {
			failed = append(failed, l)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0]["err"].(string), `"missing-stream" not found`) {
		t.Errorf("error lines %v; want one naming the stream", failed)
	}
}
