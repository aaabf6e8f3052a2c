package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/lambdain"
	"github.com/genesys-relay/genesys-relay/pipeline"
)

// lambdaMode reports whether the process was started by the AWS Lambda runtime.
func lambdaMode() bool { return os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" }

// runLambda serves Lambda invocations (EventBridge events invoked directly, or SQS
// event-source batches) with the same pipeline as serve. The config comes from
// RELAY_CONFIG, or relay.yaml in the function package ($LAMBDA_TASK_ROOT).
func runLambda(ctx context.Context, e env) int {
	path := os.Getenv("RELAY_CONFIG")
	if path == "" {
		path = filepath.Join(os.Getenv("LAMBDA_TASK_ROOT"), "relay.yaml")
	}
	cfg, p, ok := load(path, e.stderr)
	if !ok {
		return exitInvalid
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	sink, err := daemon.NewSink(ctx, cfg, nil, log, e.stdout)
	if err != nil {
		fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
		return exitFailed
	}
	rl := pipeline.NewRelay(p, sink, nil, log)
	log.Info("starting lambda handler", "version", version(), "config", path)
	lambdain.Start(lambdain.NewHandler(rl.Input("lambda"), lambdain.Options{Logger: log}))
	return exitOK
}
