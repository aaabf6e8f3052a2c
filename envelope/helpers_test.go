package envelope

import (
	"path/filepath"
	"testing"

	"cel.dev/cel-go/common/types/traits"

	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/rules"
)

// decode is Decoding.Decode in a Decoding of its own.
func decode(raw []byte, acc *rules.Access) (*Envelope, *rules.Vars, error) {
	return new(Decoding).Decode(raw, acc)
}

// decodeDetail decodes everything of raw and returns detail as a CEL map, nil
// with an error.
func decodeDetail(raw []byte) (*Envelope, traits.Mapper, error) {
	env, vars, err := decode(raw, nil)
	if err != nil {
		return env, nil, err
	}
	return env, vars.Detail.(*jsonObject), nil
}

// envelopeJSON wraps detail JSON in an envelope from an allowed source.
func envelopeJSON(id, detail string) []byte {
	return []byte(`{"version":"0","id":"` + id + `","detail-type":"Genesys Cloud Interaction Event","source":"genesys.cloud",` +
		`"account":"123456789012","time":"2026-11-27T12:00:00Z","region":"eu-west-1","resources":[],"detail":` + detail + `}`)
}

// exampleAccess is what the rules of an example config read.
func exampleAccess(t testing.TB, name string) *rules.Access {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return set.Access()
}
