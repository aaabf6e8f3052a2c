package daemon

import (
	"context"
	"errors"
	"os"
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

// output says where records go, for the listening line.
type output struct {
	sink, stream, region string
}

// describeSink is the output of cfg; region is the one the Kinesis client resolved
// (the file's, else the environment's), or "" when not known.
func describeSink(cfg *config.Config, region string) output {
	o := output{sink: cfg.Sink}
	if cfg.Sink != "stdout" {
		o.stream = cfg.Kinesis.Stream
		o.region = region
		if o.region == "" {
			o.region = cfg.Kinesis.Region
		}
	}
	return o
}

func (o output) attrs() []any {
	a := []any{"sink", o.sink}
	if o.stream != "" {
		a = append(a, "stream", o.stream, "region", o.region)
	}
	return a
}
