#!/bin/sh
# large-event.sh [BYTES] — an ordinary event of about BYTES (default 1,000,000) on
# stdout: testdata/bench-forward-1k.json, which examples/relay.yaml forwards, with
# participants added until it is that large. For peak RSS with large events:
#
#   bench/large-event.sh >/tmp/large.json
#   go -C bench run ./cmd/relay-bench -c 64 -d 10s -event /tmp/large.json
set -eu
cd "$(dirname "$0")/.."
awk -v size="${1:-1000000}" '
{
	key = "\"participants\":["
	i = index($0, key) + length(key)
	note = sprintf("%0120d", 0)
	f = "{\"id\":\"p-%08d\",\"purpose\":\"agent\",\"state\":\"connected\",\"userId\":\"u-%08d\",\"attributes\":{\"note\":\"%s\",\"score\":\"%02d\"}},"
	n = length(sprintf(f, 0, 0, note, 0))
	printf "%s", substr($0, 1, i - 1)
	for (k = 0; length($0) + (k + 1) * n <= size; k++)
		printf f, k, k, note, k % 100
	print substr($0, i)
}' testdata/bench-forward-1k.json
