// Package pipeline turns one raw EventBridge envelope into a decision and, for
// events that pass, the Kinesis record: decode and validate, run the filter rules,
// choose the partition key, build the enriched record. Relay adds the sink and the
// metrics and is the relay.Handler every input calls.
package pipeline

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/rules"
)

var structValueType = reflect.TypeOf(&structpb.Value{})

// Processor evaluates envelopes against one compiled configuration. It is immutable
// and safe for concurrent use; a reload builds a new one.
type Processor struct {
	Rules           *rules.Set
	includeEnvelope bool
	// Now stamps processed_at; tests replace it.
	Now func() time.Time
}

// New compiles the rules of cfg.
func New(cfg *config.Config) (*Processor, error) {
	set, err := rules.Compile(cfg)
	if err != nil {
		return nil, err
	}
	return &Processor{Rules: set, includeEnvelope: cfg.Enrich.IncludeEnvelope, Now: time.Now}, nil
}

// Outcome is a Result with what an operator needs to know about how it was reached.
type Outcome struct {
	relay.Result
	// RuleErr is the evaluation error that decided a fail-closed drop.
	RuleErr error
	// HashKeyErr is true when the configured explicit hash key failed to evaluate
	// or is not one Kinesis accepts (relay.ValidExplicitHashKey); the record is
	// sent without one.
	HashKeyErr bool
	// FieldErrs are enrichment fields that failed to evaluate (written as null).
	FieldErrs []string
}

// Evaluate decodes raw and decides what to do with it. It never writes anywhere.
// The error is a relay.InvalidError when raw is not an acceptable envelope.
func (p *Processor) Evaluate(raw []byte) (Outcome, error) {
	return p.evaluate(raw, p.Rules.Access())
}

// evaluate is Evaluate decoding what acc asks for; tests compare it with a full
// decode.
//
// The decoded event lives in a pooled block that is cleared when evaluate
// returns, and its strings point into raw, which the caller may reuse: what
// evaluate returns must point into neither. The strings it returns (the id, a
// partition key with hash none, the explicit hash key) are copies.
func (p *Processor) evaluate(raw []byte, acc *rules.Access) (Outcome, error) {
	st := decodings.Get().(*decoding)
	defer st.release()
	env, vars, err := st.decode(raw, acc)
	if err != nil {
		if env != nil {
			return Outcome{Result: relay.Result{ID: env.ID}}, err
		}
		return Outcome{}, err
	}
	if !p.Rules.Sources.Allowed(env.Source) {
		return Outcome{Result: relay.Result{ID: env.ID}},
			relay.Invalid("source_not_allowed", fmt.Sprintf("event source %q is not allowed by filter.sources", env.Source))
	}
	out := Outcome{Result: relay.Result{ID: env.ID}}
	reason, pass, ruleErr := p.Rules.Filter(vars)
	out.Reason = reason
	if !pass {
		out.Decision = relay.Drop
		out.RuleError = ruleErr != nil
		out.RuleErr = ruleErr
		return out, nil
	}
	out.Decision = relay.Forward
	out.Record.PartitionKey, out.KeyFallback = p.partitionKey(vars, env.ID)
	if ehk, err := p.Rules.ExplicitHashKey(vars); err == nil && relay.ValidExplicitHashKey(ehk) {
		out.Record.ExplicitHashKey = strings.Clone(ehk)
	} else if err != nil || ehk != "" {
		// Configured but failed or out of range: Kinesis places the record by its
		// partition key instead; counted so it is not silent.
		out.HashKeyErr = true
	}
	original := env.Detail
	if p.includeEnvelope {
		original = env.Raw
	}
	b := make([]byte, 0, len(original)+192)
	b = appendRecord(b, original, reason, p.Now(), env.Region, env.ID)
	for i, f := range p.Rules.Fields {
		v, err := p.Rules.FieldValue(i, vars)
		if err != nil {
			out.FieldErrs = append(out.FieldErrs, f.Name)
			v = nil
		}
		b = appendField(b, f.Name, v)
	}
	out.Record.Data = append(b, '}')
	return out, nil
}

// partitionKey evaluates the key and applies the hash. An empty or failing key, or
// one outside Kinesis's 1–256 characters, falls back to the envelope id.
func (p *Processor) partitionKey(vars *rules.Vars, id string) (string, bool) {
	v, err := p.Rules.KeyValue(vars)
	if err == nil {
		if k := p.hash(v); validKey(k) {
			return k, false
		}
	}
	if k := p.hash(id); validKey(k) {
		return k, true
	}
	return fnv64a(id), true
}

func (p *Processor) hash(v string) string {
	if p.Rules.HashKey == "none" {
		return strings.Clone(v)
	}
	return fnv64a(v)
}

// fnv64a is the seed's key: FNV-1a 64 of v as 16 hex characters.
func fnv64a(v string) string {
	h := fnv.New64a()
	h.Write([]byte(v))
	var sum [8]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

func validKey(k string) bool {
	return k != "" && (len(k) <= 256 || utf8.RuneCountInString(k) <= 256)
}
