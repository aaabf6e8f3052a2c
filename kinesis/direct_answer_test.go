package kinesis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/genesys-relay/genesys-relay/internal/testx"
)

// rawAnswerServer answers every HTTP request on its connections with the
// bytes of answer (a status line, headers and a body, written as they are),
// then closes the connection (the answers say Connection: close). It returns
// its URL.
func rawAnswerServer(t *testing.T, answer func(w *bufio.Writer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, r.Body)
				w := bufio.NewWriter(c)
				answer(w)
				_ = w.Flush()
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// allocatedDuring returns the bytes allocated on the heap while f ran.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func oneRecord() *kinesis.PutRecordsInput {
	return &kinesis.PutRecordsInput{StreamName: aws.String("events"), Records: []types.PutRecordsRequestEntry{
		{Data: []byte("x"), PartitionKey: aws.String("k")},
	}}
}

// TestDirectAnswerSizeBounded: an answer's Content-Length is no reason to
// reserve memory beyond what a PutRecords answer can be (maxAnswerBytes), and
// an answer longer than that, announced or not, fails the call instead of
// being read to its end.
func TestDirectAnswerSizeBounded(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	const small = `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`
	for _, tc := range []struct {
		name   string
		answer func(w *bufio.Writer)
	}{
		{"900 MB claimed", func(w *bufio.Writer) {
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", 900<<20, small)
		}},
		{"900 MB claimed by an error answer", func(w *bufio.Writer) {
			fmt.Fprintf(w, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/x-amz-json-1.1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n{}", 900<<20)
		}},
		{"2 MiB chunked", func(w *bufio.Writer) {
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n")
			chunk := strings.Repeat(" ", 64<<10)
			for range 32 {
				fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk)
			}
			fmt.Fprintf(w, "%x\r\n%s\r\n0\r\n\r\n", len(small), small)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, d := bothClients(t, rawAnswerServer(t, tc.answer))
			var err error
			n := allocatedDuring(func() { _, err = d.PutRecords(context.Background(), oneRecord()) })
			if err == nil {
				t.Fatal("the call succeeded")
			}
			if classify(err) != classRetry {
				t.Errorf("classified %v: %v", classify(err), err)
			}
			if n > 8<<20 {
				t.Errorf("%d MB allocated for the answer", n>>20)
			}
		})
	}
}

// TestDirectLargestAnswer: the largest answer Kinesis can give (500 failed
// records with long messages) is read, and its buffer is not kept for reuse.
func TestDirectLargestAnswer(t *testing.T) {
	testx.AWSEnv(t, "us-east-1")
	msg := strings.Repeat("m", maxAnswerEntryBytes-len(`{"ErrorCode":"KMSAccessDeniedException","ErrorMessage":""},`))
	var b strings.Builder
	b.WriteString(`{"EncryptionType":"KMS","FailedRecordCount":500,"Records":[`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"ErrorCode":"KMSAccessDeniedException","ErrorMessage":"` + msg + `"}`)
	}
	b.WriteString(`]}`)
	body := b.String()
	if len(body) > maxAnswerBytes {
		t.Fatalf("test answer of %d bytes exceeds the bound", len(body))
	}
	_, d := bothClients(t, rawAnswerServer(t, func(w *bufio.Writer) {
		fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}))
	in := oneRecord()
	for range 499 {
		in.Records = append(in.Records, in.Records[0])
	}
	for range 4 {
		out, err := d.PutRecords(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) != 500 || aws.ToString(out.Records[499].ErrorMessage) != msg {
			t.Fatalf("%d records decoded", len(out.Records))
		}
	}
	for range 8 {
		if b := d.respBufs.Get().(*[]byte); cap(*b) > maxPooledAnswerBytes {
			t.Fatalf("a buffer of %d bytes was pooled", cap(*b))
		}
	}
}
