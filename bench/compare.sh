#!/bin/sh
# compare.sh ROUNDS "RELAY-BENCH FLAGS" RELAY-BINARY...
#
# Runs bench/cmd/relay-bench against each relay binary in turn, ROUNDS times over
# (interleaved, so that a busy moment of the machine does not favour one
# binary), and prints one line per run: the binary, a tab, relay-bench's JSON.
# Build the binaries to compare first, e.g. from a git worktree per commit.
#
#   bench/compare.sh 3 "-c 64 -d 10s" /tmp/relay-old /tmp/relay-new
set -eu
rounds=$1
flags=$2
shift 2
cd "$(dirname "$0")/.."
bench=$(mktemp -d)/relay-bench
go -C bench build -o "$bench" ./cmd/relay-bench
for _ in $(seq "$rounds"); do
	for bin in "$@"; do
		printf '%s\t' "$bin"
		# shellcheck disable=SC2086 # flags are words
		"$bench" -relay "$bin" -json $flags
	done
done
rm -rf "$(dirname "$bench")"
