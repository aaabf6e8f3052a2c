#!/bin/bash
# tls.sh [ROUNDS] — the listener as it really runs: the relay against the floor
# servers (net/http and fasthttp reading the body and answering, forwarding
# nothing), measured by bench/cmd/relay-bench in the same run and interleaved, round
# after round, so that the load of a shared machine falls on both alike:
#
#   http-keepalive    plain HTTP, 64 kept-alive connections (what TLS adds, by difference)
#   https-keepalive   HTTPS, 64 kept-alive connections
#   http-newconn      plain HTTP, a new connection per request (Connection: close)
#   https-newconn     HTTPS, a new connection per request, TLS sessions resumed
#   https-newconn-full  the same with a full handshake every time
#
# then the relay's memory holding 10,000 idle connections, HTTPS and plain.
# Prints each run's JSON line (prefixed with its scenario) and a summary: the
# median events per CPU-second of each server and the relay's ratio to each
# floor. DURATION (10s) and CONNS (64) change the load; the senders are
# relay-bench's raw client.
set -euo pipefail
rounds=${1:-3}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go -C bench build -o "$tmp/relay-bench" ./cmd/relay-bench
go build -o "$tmp/genesys-relay" ./cmd/genesys-relay
common=(-client raw -c "${CONNS:-64}" -d "${DURATION:-10s}" -warmup 2s -json -relay "$tmp/genesys-relay")
declare -A flags=(
	[http-keepalive]=""
	[https-keepalive]="-tls"
	[http-newconn]="-new-conn"
	[https-newconn]="-tls -new-conn"
	[https-newconn-full]="-tls -new-conn -resume=false"
)
order=(http-keepalive https-keepalive http-newconn https-newconn https-newconn-full)
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$rounds"); do
	for s in "${order[@]}"; do
		# shellcheck disable=SC2086 # flags are words
		"$tmp/relay-bench" "${common[@]}" ${flags[$s]} | sed "s/^/$s\t/" | tee -a "$tmp/runs"
		# shellcheck disable=SC2086
		"$tmp/relay-bench" "${common[@]}" ${flags[$s]} -mode floor -floors net/http,fasthttp | sed "s/^/$s\t/" | tee -a "$tmp/runs"
	done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in "-tls" ""; do
	# shellcheck disable=SC2086
	"$tmp/relay-bench" -relay "$tmp/genesys-relay" -mode idle -idle-conns "${IDLE_CONNS:-10000}" $t -json 2>&1 | grep -v '^{' || true
done
python3 - "$tmp/runs" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    scen, js = line.split("\t", 1)
    r = json.loads(js)
    if r["transport_errors"] or set(r["statuses"]) - {"200"}:
        print("# %s %s: %d transport errors, statuses %s" % (scen, r["name"], r["transport_errors"], r["statuses"]))
    runs.setdefault(scen, {}).setdefault(r["name"], []).append(r["events_per_cpu_s"])
print("%-20s %12s %12s %12s %10s %10s" % ("scenario", "relay", "net/http", "fasthttp", "÷net/http", "÷fasthttp"))
for scen, by in runs.items():
    m = {k: statistics.median(v) for k, v in by.items()}
    relay, nh, fh = m.get("relay", 0), m.get("floor-read", 0), m.get("fasthttp-floor-read", 0)
    print("%-20s %12.0f %12.0f %12.0f %10.2f %10.2f   (events per CPU-second, median of %d)" % (
        scen, relay, nh, fh, relay / nh if nh else 0, relay / fh if fh else 0, len(by.get("relay", []))))
PY
