#!/usr/bin/env bash
# Prints the path of a promtool (Prometheus' rule checker) for the tests of
# deploy/prometheus, installing it first when there is none.
#
#   PROMTOOL=$(scripts/promtool.sh)
#
# Order: $PROMTOOL if set, promtool on PATH, a copy in .tools/, else promtool is
# extracted from Debian's prometheus package into .tools/ (apt-get download, no
# installation: the package would also bring a Prometheus server and its web assets);
# apt-get update runs first when the package lists do not know the package (as root,
# or with sudo). Progress and errors go to stderr; exit 1 when none can be had.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools"
log() { printf 'promtool: %s\n' "$*" >&2; }

works() { [[ -x $1 ]] && "$1" --version >/dev/null 2>&1; }

if [[ -n ${PROMTOOL:-} ]]; then
  works "$PROMTOOL" || { log "PROMTOOL=$PROMTOOL does not run"; exit 1; }
  printf '%s\n' "$PROMTOOL"
  exit 0
fi
if p="$(command -v promtool 2>/dev/null)" && works "$p"; then
  printf '%s\n' "$p"
  exit 0
fi
if works "$DIR/promtool"; then
  printf '%s\n' "$DIR/promtool"
  exit 0
fi

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
  { log "not found, and this is not a Debian-like system: install Prometheus' promtool and put it on PATH (or set PROMTOOL)"; exit 1; }
sudo=()
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { log "not found; apt-get needs root (or sudo)"; exit 1; }
  sudo=(sudo)
fi
if ! apt-cache show prometheus >/dev/null 2>&1; then
  log "updating the package lists (apt-get update)"
  "${sudo[@]}" apt-get update -qq >&2 || { log "apt-get update failed"; exit 1; }
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
log "extracting promtool from Debian's prometheus package into $DIR"
# apt-get download writes into the current directory; as root it warns that the
# _apt user cannot write there, which is harmless.
(cd "$tmp" && chmod 755 . && apt-get download prometheus >&2 2> >(grep -v 'unsandboxed' >&2)) ||
  { log "apt-get download prometheus failed"; exit 1; }
deb=("$tmp"/prometheus_*.deb)
dpkg-deb --fsys-tarfile "${deb[0]}" | tar -x -C "$tmp" ./usr/bin/promtool ||
  { log "no usr/bin/promtool in ${deb[0]}"; exit 1; }
mkdir -p "$DIR"
mv "$tmp/usr/bin/promtool" "$DIR/promtool"
works "$DIR/promtool" || { log "$DIR/promtool does not run"; exit 1; }
log "$("$DIR/promtool" --version 2>&1 | head -1)"
printf '%s\n' "$DIR/promtool"
