package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

// checkLine is one line of `check` output.
type checkLine struct {
	ID           *string         `json:"id"`
	Decision     string          `json:"decision"`
	Reason       *string         `json:"reason"`
	PartitionKey *string         `json:"partition_key"`
	Record       json.RawMessage `json:"record,omitempty"`
	Error        string          `json:"error,omitempty"`
	RuleError    string          `json:"rule_error,omitempty"`
	FieldErrors  []string        `json:"field_errors,omitempty"`
	KeyFallback  bool            `json:"partition_key_fallback,omitempty"`
}

func runCheck(_ context.Context, args []string, e env) int {
	fs, cfgPath := newFlags("check", "[FILE|-]...", e)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, p, ok := load(*cfgPath, e.stderr)
	if !ok || !checkTLS(cfg, e.stderr) {
		return exitInvalid
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	code := exitOK
	for _, path := range fs.Args() {
		events, err := readEvents(path, e.stdin)
		if err != nil {
			fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
			code = exitFailed
			continue
		}
		for _, raw := range events {
			if err := enc.Encode(evaluateLine(p, raw)); err != nil {
				fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
				return exitFailed
			}
		}
	}
	return code
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
	if out.Decision == relay.Forward {
		l.PartitionKey = &out.Record.PartitionKey
		l.Record = out.Record.Data
		l.FieldErrors = out.FieldErrs
		l.KeyFallback = out.KeyFallback
	}
	return l
}
