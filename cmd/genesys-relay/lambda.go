package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/genesys-relay/genesys-relay/lambdain"
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
	o, code, ok := open(ctx, path, "lambda", e)
	if !ok {
		return code
	}
	o.log.Info("starting lambda handler", "version", version(), "config", path)
	// Each invocation returns only after Kinesis accepted its records (Put waits), so
	// there is nothing left to flush between invocations.
	lambdain.Start(lambdain.NewHandler(o.handler, lambdain.Options{Logger: o.log}))
	return exitOK
}
