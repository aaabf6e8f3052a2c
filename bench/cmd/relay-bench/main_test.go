package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay/config"
)

func TestRelayConfig(t *testing.T) {
	repo, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	o := options{repo: repo, config: "examples/relay.yaml", sets: setFlags{"kinesis.linger=3ms", "kinesis.max_in_flight=4", "http.max_in_flight=10"}}
	data, err := relayConfig(o, "127.0.0.1:1234", "http://127.0.0.1:9", "bench")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data, noEnv)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	k := cfg.Kinesis
	if cfg.Listen != "127.0.0.1:1234" || k.Endpoint != "http://127.0.0.1:9" || k.Stream != "bench" || k.Region != "us-east-1" ||
		k.Linger != 3*time.Millisecond || k.MaxInFlight != 4 || cfg.HTTP.MaxInFlight != 10 || cfg.Sink != "kinesis" {
		t.Errorf("config %+v", cfg)
	}
	if len(cfg.Tests) != 0 || len(cfg.Filter.Rules) != 5 {
		t.Errorf("%d tests, %d rules; want the example's rules without its tests", len(cfg.Tests), len(cfg.Filter.Rules))
	}
}

// TestFindRepo: from bench/'s own module, the repository is the directory of
// the product's go.mod, the one holding cmd/genesys-relay.
func TestFindRepo(t *testing.T) {
	repo, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if repo != want {
		t.Fatalf("findRepo() = %s, want %s", repo, want)
	}
	if _, err := os.Stat(filepath.Join(repo, "cmd", "genesys-relay", "main.go")); err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{
		"// c\nmodule github.com/genesys-relay/genesys-relay\n\ngo 1.26\n": productModule,
		"module \"github.com/genesys-relay/genesys-relay/bench\"\n":        productModule + "/bench",
		"go 1.26\n": "",
	} {
		if got := modulePath([]byte(text)); got != want {
			t.Errorf("modulePath(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for p, want := range map[float64]time.Duration{50: 50, 90: 90, 99: 99, 100: 100, 0.1: 1} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing")
	}
}

func TestCPUTicksAndRSS(t *testing.T) {
	if _, err := cpuTicks(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if rss, err := peakRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("peak RSS %d, %v", rss, err)
	}
	if hz, _ := clockTicks(); hz <= 0 {
		t.Fatalf("clock ticks %d", hz)
	}
}

// TestRawClient sends two requests on one connection to a server answering
// by hand, and reads the answers.
func TestRawClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 2)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		for i := 0; i < 2; i++ {
			var req bytes.Buffer
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				req.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			body := make([]byte, 2)
			if _, err := r.Read(body); err != nil {
				return
			}
			got <- req.String() + string(body)
			conn.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 22\r\n\r\n{\"status\":\"forwarded\"}"))
		}
	}()
	c, err := newRawConn("http://"+ln.Addr().String()+"/eventbridge", [][]byte{[]byte("{}")}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var answer bytes.Buffer
	for i := 0; i < 2; i++ {
		status, err := c.do(t.Context(), 0, &answer)
		if err != nil || status != 200 || answer.String() != `{"status":"forwarded"}` {
			t.Fatalf("answer %d %q, %v", status, answer.String(), err)
		}
		req := <-got
		if !strings.HasPrefix(req, "POST /eventbridge HTTP/1.1\r\n") || !strings.Contains(req, "Content-Length: 2\r\n") || !strings.HasSuffix(req, "\r\n\r\n{}") {
			t.Fatalf("request %q", req)
		}
	}
}

// TestCPUNanos: the run time of this process's threads grows as it works.
func TestCPUNanos(t *testing.T) {
	a, err := cpuNanos(os.Getpid())
	if err != nil || a <= 0 {
		t.Fatalf("cpuNanos = %d, %v", a, err)
	}
	x := 0
	for i := range 50_000_000 {
		x ^= i
	}
	b, err := cpuNanos(os.Getpid())
	if err != nil || b <= a {
		t.Fatalf("cpuNanos %d then %d (%v) after work (%d)", a, b, err, x)
	}
}

func TestReportShapes(t *testing.T) {
	var b bytes.Buffer
	reportShapes(&b, []shapeResult{{Shape: "top-keys", Bytes: 1000, Statuses: map[string]int{"200": 3, "400": 1}, ValidMS: 1,
		AloneCPUMS: 2.5, Senders: 64, LoadAverage1m: "1.00"}}, false)
	out := b.String()
	for _, want := range []string{"| top-keys | 200×3 400×1 | 1.0 | 2.5 | 2.5 |", "64 at once", `"shape":"top-keys"`} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
