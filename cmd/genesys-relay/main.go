// Command genesys-relay receives Genesys Cloud events delivered by Amazon
// EventBridge, filters them with CEL rules, enriches them and writes them to an
// Amazon Kinesis data stream. Run `genesys-relay -h` for the subcommands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/logx"
)

func main() {
	// SIGINT and SIGTERM cancel the context with the signal as its cause, so that
	// the shutdown line names it; SIGHUP asks for a reload.
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	reload := make(chan struct{}, 1)
	go func() {
		for s := range sigs {
			if s != syscall.SIGHUP {
				cancel(daemon.SignalError{Signal: s})
				continue
			}
			select {
			case reload <- struct{}{}:
			default: // a reload is already pending
			}
		}
	}()
	code := run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, reload: reload})
	signal.Stop(sigs)
	cancel(nil)
	// Warnings held back by the log's rate limit are written before the exit.
	logx.FlushAll()
	os.Exit(code)
}

// env is what a subcommand may touch besides its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	reload         <-chan struct{}
}

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the command ran and something failed (a test case, an event)
	exitInvalid = 2 // bad usage or configuration
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, e env) int
}

var commands = []command{
	{"serve", "run the relay: HTTP ingest (and SQS, if configured) to the sink", runServe},
	{"check", "compile the config and show the decision for each event in files", runCheck},
	{"test", "run the config's tests: cases", runTest},
	{"replay", "push events from files through the full pipeline to the sink", runReplay},
	{"init", "write a starter config for Genesys Cloud's EventBridge integration", runInit},
	{"tail", "print the records in the Kinesis stream, one JSON line each (KPL records unpacked)", runTail},
	{"version", "print the version", runVersion},
}

func run(ctx context.Context, args []string, e env) int {
	if lambdaMode() && (len(args) == 0 || args[0] == "serve") {
		return runLambda(ctx, e)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitInvalid
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], e)
		}
	}
	fmt.Fprintf(e.stderr, "genesys-relay: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitInvalid
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: genesys-relay <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'genesys-relay <command> -h' for a command's flags. Every flag can also be")
	fmt.Fprintln(w, "set in the environment as RELAY_<FLAG>, dashes as underscores (RELAY_CONFIG=relay.yaml,")
	fmt.Fprintln(w, "RELAY_WORKERS=16); the command line wins.")
	fmt.Fprintln(w, "When AWS_LAMBDA_RUNTIME_API is set, the binary runs as an AWS Lambda handler.")
}
