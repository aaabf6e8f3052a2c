// Package pipeline turns one raw EventBridge envelope into a decision and, for
// events that pass, the Kinesis record: decode and validate it (package
// envelope, which decodes only what the rules read), check its source, run the
// filter rules and routes (package rules), choose the partition key, build the
// enriched record. Relay adds the sink and the metrics and is the relay.Handler
// every input calls.
package pipeline

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/envelope"
	"github.com/genesys-relay/genesys-relay/rules"
)

// Processor evaluates envelopes against one compiled configuration. It is immutable
// and safe for concurrent use; a reload builds a new one.
type Processor struct {
	Rules           *rules.Set
	includeEnvelope bool
	routes          []RouteInfo
	// Now stamps processed_at; tests replace it.
	Now func() time.Time
}

// RouteInfo names a route and where it writes.
type RouteInfo struct {
	Name, Output, Stream string
}

// New compiles the rules of cfg.
func New(cfg *config.Config) (*Processor, error) {
	set, err := rules.Compile(cfg)
	if err != nil {
		return nil, err
	}
	outputs := cfg.EffectiveOutputs()
	routes := make([]RouteInfo, len(set.Routes))
	for i, r := range set.Routes {
		routes[i] = RouteInfo{Name: r.Name, Output: r.Output, Stream: outputs[r.Output].Stream}
	}
	return &Processor{Rules: set, includeEnvelope: cfg.Enrich.IncludeEnvelope, routes: routes, Now: time.Now}, nil
}

// Routes describes the routes in config order; Routed.Route indexes it.
func (p *Processor) Routes() []RouteInfo { return p.routes }

// Outcome is a Result with what an operator needs to know about how it was reached.
type Outcome struct {
	relay.Result
	// Route indexes Routes() for the first route the event takes; Result.Record
	// is that route's record (Forward only).
	Route int
	// More are the further routes the event takes, in config order (nil when
	// it takes one).
	More []Routed
	// RuleErr is the evaluation error that decided a fail-closed drop.
	RuleErr error
	// RouteErrs are the routes whose when failed to evaluate (not taken).
	RouteErrs []RouteError
	// HashKeyErr is true when the configured explicit hash key failed to evaluate
	// or is not one Kinesis accepts (relay.ValidExplicitHashKey); the record is
	// sent without one.
	HashKeyErr bool
	// FieldErrs are enrichment fields that failed to evaluate (written as null).
	FieldErrs []string
}

// Routed is one route an event takes and its record there.
type Routed struct {
	Route  int // index in Processor.Routes()
	Record relay.Record
	// KeyFallback and HashKeyErr are as in Result and Outcome, for this route.
	KeyFallback, HashKeyErr bool
}

// RouteError is a route whose when failed to evaluate for an event.
type RouteError struct {
	Route int
	Err   error
}

// Routes returns every route a forwarded event takes, first one first.
func (o *Outcome) Routes() []Routed {
	if o.Decision != relay.Forward {
		return nil
	}
	first := Routed{Route: o.Route, Record: o.Record, KeyFallback: o.KeyFallback, HashKeyErr: o.HashKeyErr}
	return append([]Routed{first}, o.More...)
}

// Evaluate decodes raw and decides what to do with it. It never writes anywhere.
// The error is a relay.InvalidError when raw is not an acceptable envelope.
func (p *Processor) Evaluate(raw []byte) (Outcome, error) {
	return p.evaluate(raw, p.Rules.Access())
}

// Decide is Evaluate without the record: the decision, the reason and, with
// withKey, the partition key of a forwarded event — what tools comparing
// configurations over many events need, without the cost of the record.
func (p *Processor) Decide(raw []byte, withKey bool) (Outcome, error) {
	upTo := stageDecision
	if withKey {
		upTo = stageKey
	}
	return p.evaluateTo(raw, p.Rules.Access(), upTo)
}

// stage is how far evaluateTo goes with an event that passed the rules.
type stage uint8

const (
	stageDecision stage = iota
	stageKey
	stageRecord
)

// evaluate is Evaluate decoding what acc asks for; tests compare it with a full
// decode.
func (p *Processor) evaluate(raw []byte, acc *rules.Access) (Outcome, error) {
	return p.evaluateTo(raw, acc, stageRecord)
}

// evaluateTo is evaluate up to upTo.
//
// The decoded event lives in a pooled envelope.Decoding that is released when
// evaluate returns, and its strings point into raw, which the caller may
// reuse: what evaluate returns must point into neither
// (TestOutcomeOutlivesDecoding). The strings it returns (the id, a
// partition key with hash none, the explicit hash key) are copies.
func (p *Processor) evaluateTo(raw []byte, acc *rules.Access, upTo stage) (Outcome, error) {
	st := envelope.NewDecoding()
	defer st.Release()
	env, vars, err := st.Decode(raw, acc)
	if err != nil {
		if env != nil {
			return Outcome{Result: relay.Result{ID: env.ID}}, err
		}
		return Outcome{}, err
	}
	return p.decided(env, vars, upTo)
}

// decided is evaluateTo after the decoding.
func (p *Processor) decided(env *envelope.Envelope, vars *rules.Vars, upTo stage) (Outcome, error) {
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
	p.route(&out, env, vars, upTo)
	return out, nil
}

// partitionKey evaluates key and applies its hash. An empty or failing key, or
// one outside Kinesis's 1–256 characters, falls back to the envelope id.
func partitionKey(key *rules.Key, vars *rules.Vars, id string) (string, bool) {
	v, hash, err := key.Value(vars)
	if err == nil {
		if k := hashWith(hash, v); validKey(k) {
			return k, false
		}
	}
	if k := hashWith(hash, id); validKey(k) {
		return k, true
	}
	return fnv64a(id), true
}

func hashWith(hash, v string) string {
	if hash == "none" {
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
