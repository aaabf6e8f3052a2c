package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"

	"github.com/genesys-relay/genesys-relay"
	"github.com/genesys-relay/genesys-relay/config"
	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/logx"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

// newFlags returns a FlagSet for cmd with the -c/-config flag every command has.
// Each flag can also be set in the environment as RELAY_<NAME> (upper case,
// dashes as underscores): one naming scheme for flags and env. parseFlags
// applies them.
func newFlags(cmd, argsUsage string, e env) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cfg := new(string)
	fs.StringVar(cfg, "c", "relay.yaml", "config file (short for -config)")
	fs.StringVar(cfg, "config", "relay.yaml", "config file")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: genesys-relay %s [flags] %s\n\nFlags (the command line wins over the environment):\n", cmd, argsUsage)
		fs.PrintDefaults()
	}
	return fs, cfg
}

// envName is the environment variable of a flag: RELAY_ and its name in upper
// case, dashes as underscores.
func envName(flagName string) string {
	return "RELAY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then sets each flag not given on the command line
// from its environment variable (see envName); a flag that is another's short
// form (-c for -config) has none of its own. A value that does not parse is a
// usage error naming the variable. The int is the exit code to return when done
// is true.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if long := longForm(fs, f); long == nil && !strings.Contains(f.Usage, "(env ") {
			f.Usage += " (env " + envName(f.Name) + ")"
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitInvalid, true
	}
	given := map[*flag.Flag]bool{}
	fs.Visit(func(f *flag.Flag) {
		given[f] = true
		if long := longForm(fs, f); long != nil {
			given[long] = true
		}
	})
	var bad error
	fs.VisitAll(func(f *flag.Flag) {
		if bad != nil || given[f] || longForm(fs, f) != nil {
			return
		}
		name := envName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			bad = fmt.Errorf("environment %s=%q: invalid value for -%s: %w", name, v, f.Name, err)
		}
	})
	if bad != nil {
		fmt.Fprintf(fs.Output(), "genesys-relay %s: %v\n", fs.Name(), bad)
		return exitInvalid, true
	}
	return 0, false
}

// longForm returns the longer flag f is the short form of (the same variable),
// or nil.
func longForm(fs *flag.FlagSet, f *flag.Flag) *flag.Flag {
	var long *flag.Flag
	fs.VisitAll(func(g *flag.Flag) {
		if g != f && len(g.Name) > len(f.Name) && sameValue(g.Value, f.Value) {
			long = g
		}
	})
	return long
}

// sameValue reports whether a and b are the same flag.Value (two names of one
// variable); values of uncomparable types (flag.Func) never are.
func sameValue(a, b flag.Value) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// load reads the config and compiles its rules; every problem of both stages is
// printed, one a line with its file and line, and false returned.
func load(path string, stderr io.Writer) (*config.Config, *pipeline.Processor, bool) {
	cfg, p, _, ok := loadConfig(path, stderr)
	return cfg, p, ok
}

// loadChecked is load for check and test: it also prints the warnings about
// rules that compile but likely do not mean what they say.
func loadChecked(path string, stderr io.Writer) (*config.Config, *pipeline.Processor, bool) {
	cfg, p, warnings, ok := loadConfig(path, stderr)
	for _, w := range warnings {
		fmt.Fprintln(stderr, w.Error())
	}
	return cfg, p, ok
}

func loadConfig(path string, stderr io.Writer) (*config.Config, *pipeline.Processor, []config.Problem, bool) {
	cfg, origins, err := config.Read(path, os.LookupEnv)
	var cerr *config.Error
	if cfg == nil && !errors.As(err, &cerr) {
		fmt.Fprintf(stderr, "genesys-relay: %v\n", err) // cannot be read
		return nil, nil, nil, false
	}
	problems := config.Problems(err)
	if cfg == nil {
		printProblems(stderr, path, problems)
		return nil, nil, nil, false
	}
	// The rules are compiled even when the file has problems (with defaults
	// where values were refused), so that one run reports both stages.
	p, perr := pipeline.New(cfg)
	var warnings []config.Problem
	if perr != nil {
		for _, q := range config.Independent(problems, config.Problems(perr)) {
			problems = append(problems, origins.Locate(q))
		}
	} else {
		for _, w := range p.Rules.Warnings {
			warnings = append(warnings, origins.Locate(w))
		}
	}
	if len(problems) == 0 {
		return cfg, p, warnings, true
	}
	config.Sort(problems)
	printProblems(stderr, path, problems)
	return nil, nil, nil, false
}

// printProblems prints one problem a line, then their count.
func printProblems(w io.Writer, path string, problems []config.Problem) {
	for _, q := range problems {
		fmt.Fprintln(w, q.Error())
	}
	n := fmt.Sprintf("%d problems", len(problems))
	if len(problems) == 1 {
		n = "1 problem"
	}
	fmt.Fprintf(w, "genesys-relay: %s: invalid configuration, %s\n", path, n)
}

// opened is a loaded config with its sinks and the handler one input uses.
type opened struct {
	cfg     *config.Config
	log     *slog.Logger
	sink    interface{ Close(context.Context) error } // every output's sink
	handler relay.Handler
}

// open loads path and builds the configured sinks (one per output) and the
// pipeline in front of them, for commands that process events outside serve.
// It prints errors and returns the exit code to use when ok is false.
func open(ctx context.Context, path, input string, e env) (o opened, code int, ok bool) {
	cfg, p, ok := load(path, e.stderr)
	if !ok {
		return o, exitInvalid, false
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	sinks, err := daemon.NewSinks(ctx, cfg, nil, log, e.stdout)
	if err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
		return o, exitFailed, false
	}
	rl, err := pipeline.NewRelayTo(p, sinks, nil, log)
	if err != nil { // unreachable: NewSinks builds every output's sink
		_ = sinks.Close(ctx)
		fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
		return o, exitFailed, false
	}
	return opened{cfg: cfg, log: log, sink: sinks, handler: rl.Input(input)}, 0, true
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
