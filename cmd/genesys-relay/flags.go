package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/logx"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

// newFlags returns a FlagSet for cmd with the -c/-config flag every command has.
// Each flag defaults to the environment variable RELAY_<NAME> (dashes become
// underscores), one naming scheme for flags and env.
func newFlags(cmd, argsUsage string, e env) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfg := new(string)
	def := envOr("RELAY_CONFIG", "relay.yaml")
	fs.StringVar(cfg, "c", def, "config file (env RELAY_CONFIG)")
	fs.StringVar(cfg, "config", def, "config file (env RELAY_CONFIG)")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: genesys-relay %s [flags] %s\n\nFlags:\n", cmd, argsUsage)
		fs.PrintDefaults()
	}
	return fs, cfg
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// parseFlags parses args; the int is the exit code to return when done is true.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitInvalid, true
	}
	return 0, false
}

// load reads the config and compiles its rules; errors are printed and the exit
// code for an invalid config returned.
func load(path string, stderr io.Writer) (*config.Config, *pipeline.Processor, bool) {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "genesys-relay: %v\n", err)
		return nil, nil, false
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "genesys-relay: %s: %v\n", path, err)
		return nil, nil, false
	}
	return cfg, p, true
}

// opened is a loaded config with its sink and the handler one input uses.
type opened struct {
	cfg     *config.Config
	log     *slog.Logger
	sink    relay.Sink
	handler relay.Handler
}

// open loads path and builds the configured sink and the pipeline in front of it,
// for commands that process events outside serve. It prints errors and returns the
// exit code to use when ok is false.
func open(ctx context.Context, path, input string, e env) (o opened, code int, ok bool) {
	cfg, p, ok := load(path, e.stderr)
	if !ok {
		return o, exitInvalid, false
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	sink, err := daemon.NewSink(ctx, cfg, nil, log, e.stdout)
	if err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
		return o, exitFailed, false
	}
	return opened{cfg: cfg, log: log, sink: sink, handler: pipeline.NewRelay(p, sink, nil, log).Input(input)}, 0, true
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return logx.New(w, logx.Options{Level: l})
}
