package httpin_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/httpin"
	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// dropAll answers every event: dropped.
type dropAll struct{}

func (dropAll) Handle(context.Context, []byte) (relay.Result, error) {
	return relay.Result{Decision: relay.Drop, Reason: "fuzz"}, nil
}

// rawSecret is the API key every fuzzed request carries in a header.
const rawSecret = "k-7d41e0b9c3"

// FuzzRawRequest writes arbitrary bytes, as the request line and the rest of a
// request whose header block carries an API key, on a connection to a real
// server on loopback, then closes its sending side. Whatever the bytes: the
// server stays up; every answer is a JSON object with a status of the HTTP
// contract; neither the answers nor the server's logs (debug level) hold the
// key. The handler answers every event it gets.
func FuzzRawRequest(f *testing.F) {
	logs := &testx.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := httpin.New(dropAll{}, httpin.Options{
		MaxBodyBytes:     4 << 10,
		MaxInFlightBytes: 8 << 10,
		RequestTimeout:   time.Second,
		MaxInFlight:      4,
		Auth:             httpin.NewAuth("X-Api-Key", []string{rawSecret}, "", ""),
		Logger:           log,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv := httpin.NewServer(h, httpin.ServerOptions{Path: "/eventbridge", Logger: log})
	go func() { _ = srv.Serve(ln) }()
	f.Cleanup(srv.Close)

	for _, seed := range [][2]string{
		{"POST /eventbridge HTTP/1.1", "Host: x\r\nContent-Length: 2\r\n\r\n{}"},
		{"POST /eventbridge HTTP/1.1", "Host: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"},
		{"POST /eventbridge HTTP/1.1", "Host: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
		{"POST /eventbridge HTTP/1.1", "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n2\n{}\n0\n\n"},
		{"POST /eventbridge HTTP/1.1", "Host: x\nContent-Length: 2\n\n{}"},
		{"POST /eventbridge HTTP/1.1", "Host: x\r\nContent-Length: 2000000\r\n\r\n{}"},
		{"POST /eventbridge HTTP/1.1", "Host: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"},
		{"POST /eventbridge HTTP/1.1 extra", "Host: x\r\n\r\n"},
		{"CONNECT example.com:443 HTTP/1.1", "Host: example.com:443\r\n\r\n"},
		{"OPTIONS * HTTP/1.1", "Host: x\r\n\r\n"},
		{"GET /a/../b HTTP/1.1", "Host: x\r\n\r\n"},
		{"POST /eventbridge HTTP/1.0", "Content-Length: 2\r\n\r\n{}"},
		{"POST /eventbridge HTTP/1.1", "Host: x\r\nContent-Length: 2\r\n\r\n{}POST /eventbridge HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\n{"},
	} {
		f.Add([]byte(seed[0]), []byte(seed[1]))
	}
	addr := ln.Addr().String()
	f.Fuzz(func(t *testing.T, line, rest []byte) {
		req := append(append(append([]byte{}, line...), "\r\nX-Api-Key: "+rawSecret+"\r\n"...), rest...)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			_, _ = conn.Write(req)
			_ = conn.(*net.TCPConn).CloseWrite()
		}()
		got, err := io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no end to the answers within 10 s (got %q)", got)
		}
		if bytes.Contains(got, []byte(rawSecret)) {
			t.Fatalf("answer holds the API key: %q", got)
		}
		br := bufio.NewReader(bytes.NewReader(got))
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break // the end, or an answer cut short by a reset
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				break
			}
			if resp.StatusCode == http.StatusContinue {
				continue
			}
			switch resp.StatusCode {
			case 200, 400, 401, 404, 405, 413, 429, 431, 503:
			default:
				t.Fatalf("status %d %q is not in the HTTP contract", resp.StatusCode, body)
			}
			var m map[string]any
			if resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &m) != nil {
				t.Fatalf("answer %d %q (%s) is not a JSON object", resp.StatusCode, body, resp.Header.Get("Content-Type"))
			}
		}
		if l := logs.Take(); bytes.Contains(l, []byte(rawSecret)) {
			t.Fatalf("logs hold the API key: %s", l)
		}
	})
}
