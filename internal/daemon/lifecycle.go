package daemon

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"slices"
	"syscall"

	"github.com/genesys-relay/genesys-relay/config"
)

// SignalError is the cause a command gives the context it cancels when a signal
// arrives (context.WithCancelCause), so that the shutdown line names the signal.
type SignalError struct{ Signal os.Signal }

func (e SignalError) Error() string { return "received " + e.Name() }

// Name is the signal's conventional name, e.g. SIGTERM.
func (e SignalError) Name() string {
	if s, ok := e.Signal.(syscall.Signal); ok {
		switch s {
		case syscall.SIGTERM:
			return "SIGTERM"
		case syscall.SIGINT:
			return "SIGINT"
		case syscall.SIGHUP:
			return "SIGHUP"
		case syscall.SIGQUIT:
			return "SIGQUIT"
		}
	}
	return e.Signal.String()
}

// stopCause says why Run is stopping, as log attributes: the signal, or the error
// that ended it, or the context's cause.
func stopCause(ctx context.Context, runErr error) []any {
	if runErr != nil {
		return []any{"cause", runErr.Error()}
	}
	cause := context.Cause(ctx)
	var se SignalError
	if errors.As(cause, &se) {
		return []any{"signal", se.Name()}
	}
	if cause == nil {
		return nil
	}
	return []any{"cause", cause.Error()}
}

// destination says where one output's records go, for the listening line.
type destination struct {
	output, stream, region string
}

// describeOutputs is where cfg's outputs write; regions are the ones their
// Kinesis clients resolved (the file's, else the environment's), by output,
// nil when not known.
func describeOutputs(cfg *config.Config, regions map[string]string) []destination {
	if cfg.Sink == "stdout" {
		return nil
	}
	outputs := cfg.EffectiveOutputs()
	dests := make([]destination, 0, len(outputs))
	for _, name := range slices.Sorted(maps.Keys(outputs)) {
		k := outputs[name]
		region := regions[name]
		if region == "" {
			region = k.Region
		}
		dests = append(dests, destination{output: name, stream: k.Stream, region: region})
	}
	return dests
}

// sinkAttrs are the listening line's attributes for where records go: the
// sink, and the stream and region of a single output, or a group per output.
func sinkAttrs(sink string, dests []destination) []any {
	a := []any{"sink", sink}
	switch len(dests) {
	case 0:
	case 1:
		a = append(a, "stream", dests[0].stream, "region", dests[0].region)
	default:
		group := make([]any, 0, len(dests))
		for _, d := range dests {
			group = append(group, slog.Group(d.output, "stream", d.stream, "region", d.region))
		}
		a = append(a, slog.Group("outputs", group...))
	}
	return a
}
