package main

import (
	"context"
	"fmt"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
)

func runServe(ctx context.Context, args []string, e env) int {
	fs, cfgPath := newFlags("serve", "", e)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	tuneGC(ctx)
	cfg, _, ok := load(*cfgPath, e.stderr)
	if !ok {
		return exitInvalid
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	log.Info("starting", "version", version(), "config", *cfgPath)
	err := daemon.Run(ctx, daemon.Options{Config: cfg, Logger: log, Reload: e.reload, Stdout: e.stdout})
	if err != nil {
		log.Error("serve failed", "err", err)
		fmt.Fprintf(e.stderr, "genesys-relay: %v\n", err)
		return exitFailed
	}
	return exitOK
}
