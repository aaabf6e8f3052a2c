package pipeline

import (
	"strings"
	"time"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/envelope"
	"github.com/genesys-relay/genesys-relay/rules"
)

// route decides, for an event that passed the filter, which routes take it
// and builds its record on each: out becomes Forward with the first route's
// record in Result.Record and the others in More, or Drop with reason
// config.NoRoute when no route takes it.
//
// upTo stops short of the record (stageKey) or of the key too
// (stageDecision), for tools that only compare decisions.
//
// Each route's when is evaluated once, on the values decoded for the filter
// (the rules' Access includes what routes read). Routes with the same field
// set share one record: the bytes differ only by enrichment fields.
func (p *Processor) route(out *Outcome, env *envelope.Envelope, vars *rules.Vars, upTo stage) {
	routes := p.Rules.Routes
	first := true
	var single []byte    // the record of field set 0, or of the only field set
	var records [][]byte // per field set, when routes add fields
	if p.Rules.FieldSets > 1 {
		records = make([][]byte, p.Rules.FieldSets)
	}
	at := p.Now()
	for i := range routes {
		r := &routes[i]
		take, err := r.Takes(vars)
		if err != nil {
			out.RouteErrs = append(out.RouteErrs, RouteError{Route: i, Err: err})
			continue
		}
		if !take {
			continue
		}
		rt := Routed{Route: i}
		if upTo < stageKey {
			taken(out, &first, i, rt)
			continue
		}
		rt.Record.PartitionKey, rt.KeyFallback = partitionKey(r.Key, vars, env.ID)
		if upTo < stageRecord {
			taken(out, &first, i, rt)
			continue
		}
		if ehk, err := r.Key.ExplicitHashKey(vars); err == nil && relay.ValidExplicitHashKey(ehk) {
			rt.Record.ExplicitHashKey = strings.Clone(ehk)
		} else if err != nil || ehk != "" {
			// Configured but failed or out of range: Kinesis places the record by its
			// partition key instead; counted so it is not silent.
			rt.HashKeyErr = true
		}
		var data []byte
		if records == nil {
			if single == nil {
				single = p.record(out, env, r, vars, at)
			}
			data = single
		} else {
			if records[r.FieldSet] == nil {
				records[r.FieldSet] = p.record(out, env, r, vars, at)
			}
			data = records[r.FieldSet]
		}
		rt.Record.Data = data
		taken(out, &first, i, rt)
	}
	if first {
		out.Decision = relay.Drop
		out.Reason = config.NoRoute
	}
}

// taken adds route i, with rt, to the routes out takes; the first one is
// out's own Route and Record.
func taken(out *Outcome, first *bool, i int, rt Routed) {
	if *first {
		*first = false
		out.Decision = relay.Forward
		out.Route, out.Record, out.KeyFallback, out.HashKeyErr = i, rt.Record, rt.KeyFallback, rt.HashKeyErr
		return
	}
	out.More = append(out.More, rt)
}

// record builds the record bytes of route r: the seed's five fields and r's
// enrichment fields. A field that fails is written as null and named once in
// out.FieldErrs.
func (p *Processor) record(out *Outcome, env *envelope.Envelope, r *rules.Route, vars *rules.Vars, at time.Time) []byte {
	original := env.Detail
	if p.includeEnvelope {
		original = env.Raw
	}
	b := make([]byte, 0, len(original)+192)
	b = appendRecord(b, original, out.Reason, at, env.Region, env.ID)
	for i, f := range r.Fields {
		v, err := r.FieldValue(i, vars)
		if err != nil {
			if !contains(out.FieldErrs, f.Name) {
				out.FieldErrs = append(out.FieldErrs, f.Name)
			}
			v = nil
		}
		b = appendField(b, f.Name, v)
	}
	return append(b, '}')
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
