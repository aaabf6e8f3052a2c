package main

import (
	"context"

	"github.com/genesys-relay/genesys-relay/internal/daemon"
	"github.com/genesys-relay/genesys-relay/internal/logx"
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
	// Warnings held back by the log's rate limit are written before the exit.
	defer logx.Flush(log)
	log.Info("starting", "version", version(), "config", *cfgPath)
	err := daemon.Run(ctx, daemon.Options{Config: cfg, Logger: log, Reload: e.reload, Stdout: e.stdout})
	if err != nil {
		// Once, as a log line like every other line on stderr.
		log.Error("serve failed", "err", err)
		return exitFailed
	}
	return exitOK
}
