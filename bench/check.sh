#!/usr/bin/env bash
# Measures `genesys-relay check --summary` and `check --diff` over large files on
# disk: events per CPU-second of the process (user + system time; the machine is
# shared, so this is steadier than wall time, which is printed too) with one core
# (GOMAXPROCS=1), and its peak RSS, which must not grow with the file.
#
# The inputs are the sample files repeated to EVENTS lines each (default
# 1,000,000): testdata/seed-events.jsonl (mixed: forward, drop, reject; about 640
# bytes an event) with examples/relay.yaml, and testdata/genesys-events.jsonl
# (about 1.3 KB) with examples/genesys-conversations.yaml. --diff compares each
# example config with a copy whose rules differ.
#
# Usage: bench/check.sh [EVENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go build -o "$tmp/genesys-relay" ./cmd/genesys-relay

repeat() { # FILE N OUT: FILE's lines repeated to N lines
	awk -v n="$2" '{ l[NR] = $0 } END { for (i = 0; i < n; i++) print l[i % NR + 1] }' "$1" >"$3"
}
repeat testdata/seed-events.jsonl "$n" "$tmp/seed.jsonl"
repeat testdata/genesys-events.jsonl "$n" "$tmp/genesys.jsonl"
sed 's/>= 80.0/>= 70.0/' examples/relay.yaml >"$tmp/seed-new.yaml"
sed 's/"enterprise"/"gold"/' examples/genesys-conversations.yaml >"$tmp/genesys-new.yaml"
cmp -s examples/relay.yaml "$tmp/seed-new.yaml" && { echo "seed-new.yaml is unchanged" >&2; exit 1; }
cmp -s examples/genesys-conversations.yaml "$tmp/genesys-new.yaml" && { echo "genesys-new.yaml is unchanged" >&2; exit 1; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-26s %10s %10s %8s %8s %14s %14s %9s\n' run events MB wall_s cpu_s events/wall_s events/cpu_s rss_MB
run() { # NAME EVENTS_FILE ARGS...
	local name=$1 file=$2
	shift 2
	GOMAXPROCS=1 /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$tmp/genesys-relay" check "$@" "$file" >"$tmp/out"
	read -r wall user sys rss <"$tmp/time"
	local events
	events=$(wc -l <"$file")
	awk -v name="$name" -v ev="$events" -v mb="$(($(stat -c %s "$file") / 1000000))" \
		-v wall="$wall" -v cpu="$(echo "$user + $sys" | bc)" -v rss="$rss" \
		'BEGIN { printf "%-26s %10d %10d %8.2f %8.2f %14.0f %14.0f %9.1f\n", name, ev, mb, wall, cpu, ev / wall, ev / cpu, rss / 1024 }'
}
run "seed --summary" "$tmp/seed.jsonl" -c examples/relay.yaml --summary
run "seed --diff" "$tmp/seed.jsonl" -c "$tmp/seed-new.yaml" --diff examples/relay.yaml
run "genesys --summary" "$tmp/genesys.jsonl" -c examples/genesys-conversations.yaml --summary
run "genesys --diff" "$tmp/genesys.jsonl" -c "$tmp/genesys-new.yaml" --diff examples/genesys-conversations.yaml
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
