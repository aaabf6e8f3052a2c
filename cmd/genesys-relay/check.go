package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/internal/jsonx"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

// checkLine is one line of `check` output.
type checkLine struct {
	// At is where the event came from: file:line.
	At           string
	ID           *string
	Decision     string
	Reason       *string
	PartitionKey *string
	// Routes are the routes a forwarded event takes; PartitionKey is the
	// first one's.
	Routes []routeLine
	// Record is the record's bytes as Kinesis gets them.
	Record      json.RawMessage
	Error       string
	RuleError   string
	FieldErrors []string
	KeyFallback bool
	RouteErrors []string
}

// routeLine is one route a forwarded event takes; partition_key at the top
// of the line is the first route's.
type routeLine struct {
	Route        string
	Stream       string
	PartitionKey string
}

func runCheck(ctx context.Context, args []string, e env) int {
	fs, cfgPath := newFlags("check", "[FILE|-]...", e)
	summary := fs.Bool("summary", false, "instead of a line per event, count the events per decision and reason, with their share and an example")
	diff := fs.String("diff", "", "compare with the config `OLD.yaml`: list the events whose decision, reason or partition key differ, with totals")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, p, ok := loadChecked(*cfgPath, e.stderr)
	if !ok || !checkTLS(cfg, e.stderr) {
		return exitInvalid
	}
	if *summary || *diff != "" {
		var old *pipeline.Processor
		if *diff != "" {
			if _, old, ok = load(*diff, e.stderr); !ok {
				return exitInvalid
			}
		}
		return runSummary(ctx, fs.Args(), p, old, *summary, e)
	}
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	var b []byte
	code := exitOK
	for _, path := range fs.Args() {
		c := eachEvent(ctx, path, e, func(raw []byte, in *eventReader, line int) {
			l := evaluateLine(p, raw)
			l.At = in.Name + ":" + strconv.Itoa(line)
			b = l.appendJSON(b[:0])
			b = append(b, '\n')
			_, _ = w.Write(b)
		})
		code = max(code, c)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
		return exitFailed
	}
	return code
}

// eachEvent calls f for each event of path ("-" is stdin) until ctx ends. It
// prints what keeps it from reading the input, or that the input holds no
// event, and returns the exit code that calls for.
func eachEvent(ctx context.Context, path string, e env, f func(raw []byte, in *eventReader, line int)) int {
	in, err := openEvents(path, e.stdin)
	if err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
		return exitFailed
	}
	defer in.Close()
	n := 0
	for {
		raw, line, err := in.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
			return exitFailed
		}
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return exitFailed
		}
		f(raw, in, line)
	}
	if n == 0 {
		fmt.Fprintf(e.stderr, "genesys-relay: %s: no events (the input is empty)\n", in.Name)
		return exitFailed
	}
	return exitOK
}

// evaluateLine evaluates one event offline: nothing is written anywhere.
func evaluateLine(p *pipeline.Processor, raw []byte) checkLine {
	out, err := p.Evaluate(raw)
	l := checkLine{Decision: out.Decision.String()}
	if out.ID != "" {
		l.ID = &out.ID
	}
	if err != nil {
		why := relay.RejectReason(err)
		l.Decision, l.Reason, l.Error = "reject", &why, err.Error()
		return l
	}
	l.Reason = &out.Reason
	if out.RuleErr != nil {
		l.RuleError = out.RuleErr.Error()
	}
	for _, re := range out.RouteErrs {
		l.RouteErrors = append(l.RouteErrors, re.Err.Error())
	}
	for _, r := range out.Routes() {
		info := p.Routes()[r.Route]
		l.Routes = append(l.Routes, routeLine{Route: info.Name, Stream: info.Stream, PartitionKey: r.Record.PartitionKey})
	}
	if out.Decision == relay.Forward {
		l.PartitionKey = &out.Record.PartitionKey
		l.Record = out.Record.Data
		l.FieldErrors = out.FieldErrs
		l.KeyFallback = out.KeyFallback
	}
	return l
}

// appendJSON appends l as one JSON object. It is written by hand, not with
// encoding/json, which would compact the record: the record's bytes go out as
// they are, original_event byte for byte as received.
func (l *checkLine) appendJSON(b []byte) []byte {
	b = append(b, '{')
	if l.At != "" {
		b = append(b, `"at":`...)
		b = jsonx.AppendString(b, l.At)
		b = append(b, ',')
	}
	b = append(b, `"id":`...)
	b = appendNullable(b, l.ID)
	b = append(b, `,"decision":`...)
	b = jsonx.AppendString(b, l.Decision)
	b = append(b, `,"reason":`...)
	b = appendNullable(b, l.Reason)
	b = append(b, `,"partition_key":`...)
	b = appendNullable(b, l.PartitionKey)
	if len(l.Routes) > 0 {
		b = append(b, `,"routes":[`...)
		for i, r := range l.Routes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"route":`...)
			b = jsonx.AppendString(b, r.Route)
			b = append(b, `,"stream":`...)
			b = jsonx.AppendString(b, r.Stream)
			b = append(b, `,"partition_key":`...)
			b = jsonx.AppendString(b, r.PartitionKey)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if l.Record != nil {
		b = append(b, `,"record":`...)
		b = append(b, l.Record...)
	}
	for _, f := range [...]struct{ name, v string }{{"error", l.Error}, {"rule_error", l.RuleError}} {
		if f.v != "" {
			b = append(b, ',')
			b = jsonx.AppendString(b, f.name)
			b = append(b, ':')
			b = jsonx.AppendString(b, f.v)
		}
	}
	b = appendStrings(b, "field_errors", l.FieldErrors)
	if l.KeyFallback {
		b = append(b, `,"partition_key_fallback":true`...)
	}
	b = appendStrings(b, "route_errors", l.RouteErrors)
	return append(b, '}')
}

// appendStrings appends ,"name":[...] when list is not empty.
func appendStrings(b []byte, name string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, ',')
	b = jsonx.AppendString(b, name)
	b = append(b, ":["...)
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonx.AppendString(b, s)
	}
	return append(b, ']')
}

func appendNullable(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsonx.AppendString(b, *s)
}
