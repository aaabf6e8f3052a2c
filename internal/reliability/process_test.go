package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// build is the relay binary, built once per test run by relayBinary.
var build struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// relayBinary builds cmd/genesys-relay and returns its path. It is built
// without the race detector even under -race: the tests of the binary measure
// timing and memory, which the detector distorts 5-10x, and the in-process
// tests run the same code under the detector.
func relayBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		if build.dir, build.err = os.MkdirTemp("", "genesys-relay-bin-"); build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "genesys-relay")
		args := []string{"build", "-o", build.path}
		// go test puts its own GOROOT/bin first on the test's PATH.
		goTool, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("find the go command: %w", err)
			return
		}
		cmd := exec.Command(goTool, append(args, "github.com/genesys-relay/genesys-relay/cmd/genesys-relay")...)
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// child is `genesys-relay serve` running as a process of its own.
type child struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	url  string // the ingest URL
	logs *lineLog

	done     chan struct{} // closed when the process has exited
	exitedAt time.Time
	state    *os.ProcessState
}

// startChild runs the relay binary with the config at cfgPath, dummy AWS
// credentials and nothing else from the AWS environment, and waits until it
// listens. The process is killed when the test ends.
func startChild(t testing.TB, cfgPath string) *child {
	t.Helper()
	c := &child{done: make(chan struct{}), logs: &lineLog{listening: make(chan string, 1)}}
	c.cmd = exec.Command(relayBinary(t), "serve", "-c", cfgPath)
	c.cmd.Env = childEnv()
	c.cmd.Stdout = io.Discard
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = c.cmd.Wait()
		c.exitedAt = time.Now()
		c.state = c.cmd.ProcessState
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("relay log (last lines):\n%s", c.logs.tail(40))
		}
	})
	select {
	case addr := <-c.logs.listening:
		c.base = "http://" + addr
		c.url = c.base + "/eventbridge"
	case <-c.done:
		t.Fatalf("relay exited before listening: %v\n%s", c.state, c.logs.tail(40))
	case <-time.After(30 * time.Second):
		t.Fatalf("relay not listening after 30s\n%s", c.logs.tail(40))
	}
	return c
}

func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(name, "AWS_") && name != "AWS_CA_BUNDLE") || strings.HasPrefix(name, "RELAY_") ||
			strings.HasPrefix(name, "KINESIS_") || strings.HasPrefix(name, "SQS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true")
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// exited reports whether the process has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for the process to exit.
func (c *child) waitExit(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// memory returns the process's resident set size and its peak (VmRSS and
// VmHWM of /proc/<pid>/status) in bytes.
func (c *child) memory() (rss, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, nil
}

// lineLog keeps the relay's JSON log lines and reports the address of the
// "listening" line.
type lineLog struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	lines     []string
	listening chan string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.Reset()
			l.buf.WriteString(line) // an incomplete line waits for the rest
			break
		}
		l.lines = append(l.lines, strings.TrimSpace(line))
		var m struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "listening" {
			select {
			case l.listening <- m.Addr:
			default:
			}
		}
	}
	return len(p), nil
}

func (l *lineLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

// between returns the time between the first log lines whose "msg" is from
// and to, by the relay's own clock, or -1 when either is missing.
func (l *lineLog) between(from, to string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t0, t1 time.Time
	for _, line := range l.lines {
		var m struct {
			Time time.Time
			Msg  string
		}
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		switch {
		case m.Msg == from && t0.IsZero():
			t0 = m.Time
		case m.Msg == to && t1.IsZero():
			t1 = m.Time
		}
	}
	if t0.IsZero() || t1.IsZero() {
		return -1
	}
	return t1.Sub(t0)
}

// contains reports whether a log line contains s.
func (l *lineLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}
