#!/bin/sh
# gctrace.sh DIR... — the garbage collector's work in relay-bench's measured
# window, from a run kept with -keep and GODEBUG=gctrace=1 in the relay's
# environment:
#
#   go -C bench run ./cmd/relay-bench -c 64 -d 10s -keep -env GODEBUG=gctrace=1
#   bench/gctrace.sh /tmp/relay-bench-NNN
#
# For each DIR, one line: collections in the window, the CPU they took (the five
# "ms cpu" figures of each gctrace line: stop-the-world phases, assists,
# background and idle marking), and the largest live heap and heap goal seen.
# Divide by the run's events (its JSON line) for figures per event. The window
# starts WARMUP (default 2) seconds after the relay's "listening" line and lasts
# MEASURED (default 10) seconds, in the time gctrace counts from the process's
# start, taken as its "starting" line.
set -eu
warmup=${WARMUP:-2}
seconds=${MEASURED:-10}
for dir in "$@"; do
	awk -v warmup="$warmup" -v seconds="$seconds" -v dir="$dir" '
	function tod(line,   t) { # seconds since midnight of a JSON log line
		match(line, /"time":"[^"]*T[0-9:.]+/)
		t = substr(line, RSTART, RLENGTH); sub(/.*T/, "", t)
		split(t, h, ":")
		return h[1] * 3600 + h[2] * 60 + h[3]
	}
	/"msg":"starting"/ { start = tod($0) }
	/"msg":"listening"/ { lo = tod($0) - start + warmup; hi = lo + seconds }
	/^gc [0-9]+ @/ {
		at = $3; sub(/^@/, "", at); sub(/s$/, "", at)
		if (lo == "" || at + 0 < lo || at + 0 >= hi) next
		match($0, /ms clock, [0-9.+\/]+ ms cpu/)
		c = substr($0, RSTART + 10, RLENGTH - 17)
		n = split(c, f, /[+\/]/)
		for (i = 1; i <= n; i++) cpu += f[i]
		match($0, /[0-9]+->[0-9]+->[0-9]+ MB/)
		split(substr($0, RSTART, RLENGTH - 3), m, "->")
		if (m[3] + 0 > live) live = m[3] + 0
		match($0, /[0-9]+ MB goal/)
		g = substr($0, RSTART, RLENGTH - 8) + 0
		if (g > goal) goal = g
		cycles++
	}
	END { printf "%s\tcycles %d\tgc_cpu_ms %.1f\tlive_max_mb %d\tgoal_max_mb %d\n", dir, cycles, cpu, live, goal }
	' "$dir/relay.log"
done
