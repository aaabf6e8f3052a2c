#!/bin/bash
# wrk.sh TARGET [ROUNDS] — the relay, or a floor server, driven by wrk instead of
# relay-bench's Go senders: a load generator in C, lighter than either of
# relay-bench's clients, as the reference figures under Targets in
# bench/README.md were likely measured.
# Prints requests per CPU-second of the server process (utime+stime from
# /proc/<pid>/stat over wrk's measured run), and wrk's latency lines.
#
#   TARGET: relay (cmd/genesys-relay against bench/cmd/kinesis-fake, examples/relay.yaml,
#           the 1 KB forwarded event), floor (net/http reading the body and
#           answering), floor-fasthttp, floor-valid, floor-fasthttp-valid
#   RELAY=BIN uses that relay binary instead of building one; WRK_THREADS (1),
#   CONNS (64), DURATION (10) change the load. Needs wrk (Debian: apt-get install wrk).
set -euo pipefail
target=${1:?usage: bench/wrk.sh relay|floor|floor-fasthttp|floor-valid|floor-fasthttp-valid [ROUNDS]}
rounds=${2:-1}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk not found (Debian: apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cat >"$tmp/post.lua" <<EOF
local f = io.open("$PWD/testdata/bench-forward-1k.json", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
EOF

go -C bench build -o "$tmp/relay-bench" ./cmd/relay-bench
if [ "$target" = relay ]; then
	relay=${RELAY:-}
	if [ -z "$relay" ]; then
		go build -o "$tmp/genesys-relay" ./cmd/genesys-relay
		relay=$tmp/genesys-relay
	fi
	go -C bench build -o "$tmp/kinesis-fake" ./cmd/kinesis-fake
fi

for _ in $(seq "$rounds"); do
	listen=127.0.0.1:$(port)
	path=/eventbridge
	case "$target" in
	relay)
		kaddr=127.0.0.1:$(port)
		"$tmp/kinesis-fake" -addr "$kaddr" -streams bench -discard >/dev/null 2>&1 &
		pids+=($!)
		python3 - "$listen" "$kaddr" >"$tmp/relay.yaml" <<'EOF'
import sys, re
s = open("examples/relay.yaml").read()
s = s[:s.index("\ntests:")] + "\n"
s = re.sub(r'(?m)^listen: .*$', 'listen: "%s"' % sys.argv[1], s)
s = s.replace("kinesis:\n", "kinesis:\n  endpoint: http://%s\n" % sys.argv[2], 1)
s = re.sub(r'(?m)^  stream: .*$', '  stream: bench', s)
print(s)
EOF
		AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
			"$relay" serve -c "$tmp/relay.yaml" >"$tmp/relay.log" 2>&1 &
		server=$!

		;;
	floor) "$tmp/relay-bench" floor-server -listen "$listen" & server=$! ;;
	floor-valid) "$tmp/relay-bench" floor-server -listen "$listen" -valid & server=$! ;;
	floor-fasthttp) "$tmp/relay-bench" floor-server -listen "$listen" -fasthttp & server=$! ;;
	floor-fasthttp-valid) "$tmp/relay-bench" floor-server -listen "$listen" -fasthttp -valid & server=$! ;;
	*) echo "unknown target $target" >&2; exit 2 ;;
	esac
	pids+=("$server")
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://$listen/" && break
		sleep 0.1
	done
	url=http://$listen$path
	wrk -t"${WRK_THREADS:-1}" -c"${CONNS:-64}" -d3s -s "$tmp/post.lua" "$url" >/dev/null # warm-up
	before=$(awk '{print $14+$15}' "/proc/$server/stat")
	wrk -t"${WRK_THREADS:-1}" -c"${CONNS:-64}" -d"${DURATION:-10}s" --latency -s "$tmp/post.lua" "$url" >"$tmp/wrk.txt"
	after=$(awk '{print $14+$15}' "/proc/$server/stat")
	n=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
	bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$tmp/wrk.txt")
	tck=$(getconf CLK_TCK)
	python3 -c "
n, cpu = $n, ($after - $before) / $tck
print('$target: %d requests, %s non-2xx, %.2f CPU-s: %.0f requests per CPU-second, %.1f µs per request' % (n, '${bad:-0}', cpu, n / cpu, cpu / n * 1e6))"
	grep -E '^ +(50|90|99)%|Requests/sec' "$tmp/wrk.txt"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	pids=()
done
