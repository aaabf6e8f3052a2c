#!/usr/bin/env bash
# Local AWS emulators for genesys-relay's integration tests and demos.
#
#   scripts/emulators.sh start    install if needed (npm ci in tools/emulators, skipped when
#                                 already done), start kinesis-local (Kinesis) and fauxqs (SQS)
#                                 in the background on 127.0.0.1, wait until both answer,
#                                 then print the env lines below
#   scripts/emulators.sh stop     stop both, with their child processes (safe to repeat)
#   scripts/emulators.sh env      print the env lines
#   scripts/emulators.sh relay-env print the environment for running genesys-relay by hand
#                                 against the running emulators (KINESIS_ENDPOINT=...)
#   scripts/emulators.sh status   say what runs; exit 0 only when both run
#
# Env lines of start and env, KEY=VALUE on stdout (all progress and errors go to stderr):
#   RELAY_TEST_KINESIS_ENDPOINT=http://127.0.0.1:4568
#   RELAY_TEST_SQS_ENDPOINT=http://127.0.0.1:4566
#   AWS_ACCESS_KEY_ID=test
#   AWS_SECRET_ACCESS_KEY=test
#   AWS_REGION=us-east-1
# so that   vars="$(scripts/emulators.sh start)" && export $vars
# or        set -a; eval "$(scripts/emulators.sh env)"; set +a   puts them in the environment.
# start exits non-zero, printing no env line, when an emulator cannot start: callers must
# check its status (a process substitution, <(scripts/emulators.sh start), hides it).
#
# Settings (environment):
#   KINESIS_LOCAL_PORT      kinesis-local plain HTTP port            (default 4568)
#   KINESIS_LOCAL_TLS_PORT  kinesis-local HTTPS port, self-signed    (default 4567)
#   FAUXQS_PORT             fauxqs port (SQS JSON protocol)          (default 4566)
#   EMULATORS_START_TIMEOUT seconds to wait for each to answer       (default 60)
#   EMULATORS_STATE_DIR     where pid, port and log files go         (default .emulators)
# A port left unset whose default is taken is replaced by a free one (the env lines say
# which); 0 always picks a free port; a port set explicitly must be free, or start fails
# at once naming it.
# Other kinesis-local settings (CREATE_STREAM_DURATION, LOG_LEVEL, ...) pass through.
#
# Needs node (>= 20) and npm; packages are pinned in tools/emulators/package-lock.json.
# State: <name>.pid, .port and .log in EMULATORS_STATE_DIR.
#
# Emulator behaviour worth knowing:
#   - kinesis-local streams are CREATING for about 500 ms (CREATE_STREAM_DURATION); PutRecords
#     before ACTIVE fails with ResourceInUseException. Wait with DescribeStreamSummary.
#   - kinesis-local slows down as it holds more records (all streams together): a 500-record
#     PutRecords takes ~0.2 s on an empty emulator and ~2 s once it holds 30,000 records.
#     Fine for functional tests; not a benchmark target. Restart it (stop; start) to empty it.
#   - kinesis-local enforces none of Kinesis's size limits (a 1 MiB + 1 record, 501 records or
#     6 MiB in one PutRecords are accepted) and never throttles (no
#     ProvisionedThroughputExceededException). It does check partition keys (1-256 chars).
#   - Streams live in account 000000000000. A 12-digit access key id selects another account,
#     so keep AWS_ACCESS_KEY_ID=test.
#   - fauxqs finds a queue by its exact URL. Queue URLs look like
#     http://127.0.0.1:4566/000000000000/<name> (built from the request's Host header).
#   - fauxqs honours VisibilityTimeout, ChangeMessageVisibility, long polling (a waiting
#     ReceiveMessage returns as soon as a message arrives) and RedrivePolicy/maxReceiveCount,
#     but DeleteMessage(Batch) with an unknown receipt handle succeeds silently.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools/emulators"
STATE="${EMULATORS_STATE_DIR:-$ROOT/.emulators}"

# The ports as given in the environment ("" when unset); resolve_ports fills them in.
KINESIS_LOCAL_PORT="${KINESIS_LOCAL_PORT:-}"
KINESIS_LOCAL_TLS_PORT="${KINESIS_LOCAL_TLS_PORT:-}"
FAUXQS_PORT="${FAUXQS_PORT:-}"
declare -A DEFAULT_PORT=([KINESIS_LOCAL_PORT]=4568 [KINESIS_LOCAL_TLS_PORT]=4567 [FAUXQS_PORT]=4566)
EMULATORS_START_TIMEOUT="${EMULATORS_START_TIMEOUT:-60}"
NAMES=(kinesis-local fauxqs)

log() { printf 'emulators: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- process bookkeeping ------------------------------------------------------

pidfile() { printf '%s/%s.pid' "$STATE" "$1"; }
portfile() { printf '%s/%s.port' "$STATE" "$1"; }
logfile() { printf '%s/%s.log' "$STATE" "$1"; }

# Prints the recorded pid of emulator $1 if that process still runs and is ours
# (its working directory or command line points into tools/emulators).
running_pid() {
  local f pid
  f="$(pidfile "$1")"
  [[ -f $f ]] || return 1
  pid="$(<"$f")"
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -e main.js -e fauxqs-server.mjs || return 1
  fi
  printf '%s\n' "$pid"
}

port_var() {
  case $1 in
    kinesis-local) printf 'KINESIS_LOCAL_PORT\n' ;;
    fauxqs) printf 'FAUXQS_PORT\n' ;;
  esac
}

# The port emulator $1 is to use: as set (or resolved by resolve_ports), else its default.
wanted_port() {
  local var
  var="$(port_var "$1")"
  printf '%s\n' "${!var:-${DEFAULT_PORT[$var]}}"
}

# The port to report: the recorded one while the emulator runs, else the configured one.
current_port() {
  if running_pid "$1" >/dev/null && [[ -f $(portfile "$1") ]]; then
    cat "$(portfile "$1")"
  else
    wanted_port "$1"
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints N distinct ports free on 127.0.0.1 (held together while chosen, so distinct).
free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]), servers = [], ports = [];
    const next = () => {
      if (ports.length === n) { console.log(ports.join(" ")); servers.forEach((s) => s.close()); return; }
      const s = net.createServer();
      servers.push(s);
      s.once("error", (e) => { console.error(e.message); process.exit(1); });
      s.listen(0, "127.0.0.1", () => { ports.push(s.address().port); next(); });
    };
    next();' "$1"
}

# resolve_ports VAR... settles the port each variable names, for emulators about to
# start: a port set explicitly must be free (else exit at once, naming it); 0 means any
# free port; unset means the default, or a free port when the default is taken.
resolve_ports() {
  local var given def pick=() got i
  for var in "$@"; do
    given="${!var}"
    def="${DEFAULT_PORT[$var]}"
    if [[ -z $given ]]; then
      if port_in_use "$def"; then
        log "default port $def ($var) is taken; picking a free one"
        pick+=("$var")
      else
        printf -v "$var" '%s' "$def"
      fi
    elif [[ $given == 0 ]]; then
      pick+=("$var")
    elif ! [[ $given =~ ^[0-9]+$ ]] || ((given > 65535)); then
      die "$var=$given is not a port number"
    elif port_in_use "$given"; then
      die "port $given on 127.0.0.1 ($var) is taken by another process; choose another with $var, or set $var=0 (or leave it unset) to pick a free port"
    fi
  done
  ((${#pick[@]} > 0)) || return 0
  read -r -a got <<<"$(free_ports "${#pick[@]}")" || die "could not find free ports"
  ((${#got[@]} == ${#pick[@]})) || die "could not find free ports"
  for i in "${!pick[@]}"; do
    printf -v "${pick[$i]}" '%s' "${got[$i]}"
  done
}

# HTTP GET on loopback; succeeds when the status line is 200.
http_ok() {
  local port=$1 path=$2
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$path" "$port" >&3
    IFS= read -r -t 3 status <&3 || exit 1
    [[ $status == HTTP/1.?\ 200* ]]
  ) 2>/dev/null
}

health_path() {
  case $1 in
    kinesis-local) printf '/healthcheck\n' ;;
    fauxqs) printf '/health\n' ;;
  esac
}

log_tail() {
  local f
  f="$(logfile "$1")"
  [[ -s $f ]] || { log "  (log $f is empty)"; return 0; }
  log "last lines of $f:"
  tail -n 15 "$f" | tr -d '\000' | grep -v '^[[:space:]]*$' | cut -c1-300 | sed 's/^/  | /' >&2 || true
}

# Sends TERM to the process group (or the process and its children), waits, then KILL.
kill_tree() {
  local pid=$1 pgid children
  pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)"
  if [[ $pgid == "$pid" ]]; then
    kill -TERM -- "-$pid" 2>/dev/null || true
  else
    children="$(pgrep -P "$pid" 2>/dev/null || true)"
    kill -TERM "$pid" $children 2>/dev/null || true
  fi
  # kinesis-local may need a few seconds to exit after TERM when it holds many records.
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "process $pid did not exit after TERM within 10 s; sending KILL"
  if [[ $pgid == "$pid" ]]; then
    kill -KILL -- "-$pid" 2>/dev/null || true
  else
    kill -KILL "$pid" $children 2>/dev/null || true
  fi
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "process $pid is still there after KILL"
  return 1
}

# --- install --------------------------------------------------------------------

install() {
  command -v node >/dev/null || die "node is not installed (Node.js >= 20 is needed)"
  command -v npm >/dev/null || die "npm is not installed"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  ((major >= 20)) || die "Node.js >= 20 is needed, found $(node --version)"

  local stamp want
  stamp="$TOOLS/node_modules/.genesys-relay-install"
  want="$(cat "$TOOLS/package-lock.json" "$TOOLS/package.json" | sha256sum | cut -d' ' -f1) node-$major"
  if [[ -f $stamp && "$(<"$stamp")" == "$want" &&
        -f $TOOLS/node_modules/kinesis-local/main.js &&
        -f $TOOLS/node_modules/fauxqs/dist/app.js ]]; then
    return 0
  fi
  local name
  for name in "${NAMES[@]}"; do
    if running_pid "$name" >/dev/null; then
      log "$name runs from an older install; stop it first (scripts/emulators.sh stop)"
      return 0
    fi
  done
  log "installing emulators (npm ci in tools/emulators)"
  (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $TOOLS"
  printf '%s\n' "$want" >"$stamp"
}

# --- start / stop ---------------------------------------------------------------

launch() {
  local name=$1 port=$2 out
  out="$(logfile "$name")"
  : >"$out"
  # setsid gives each emulator its own process group, so that stop can end it with
  # anything it spawned; stdin is closed so that it never waits on a terminal.
  local setsid=()
  command -v setsid >/dev/null && setsid=(setsid)
  case $name in
    kinesis-local)
      # kinesis-local reads server.json (its TLS certificate) from its working directory.
      (
        cd "$TOOLS/node_modules/kinesis-local"
        export KINESIS_MOCK_PLAIN_PORT="$port" KINESIS_MOCK_TLS_PORT="$KINESIS_LOCAL_TLS_PORT"
        exec "${setsid[@]}" node --require "$TOOLS/bind-loopback.cjs" main.js
      ) </dev/null >>"$out" 2>&1 &
      ;;
    fauxqs)
      (
        cd "$TOOLS"
        export FAUXQS_PORT="$port"
        exec "${setsid[@]}" node fauxqs-server.mjs
      ) </dev/null >>"$out" 2>&1 &
      ;;
  esac
  printf '%s\n' "$!" >"$(pidfile "$name")"
  printf '%s\n' "$port" >"$(portfile "$name")"
}

wait_ready() {
  local name=$1 port=$2 pid=$3 path deadline
  path="$(health_path "$name")"
  deadline=$((SECONDS + EMULATORS_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) exited during start-up"
      log_tail "$name"
      return 1
    fi
    if http_ok "$port" "$path"; then
      return 0
    fi
    sleep 0.2
  done
  log "$name did not answer on http://127.0.0.1:$port$path within ${EMULATORS_START_TIMEOUT}s"
  log_tail "$name"
  return 1
}

stop_one() {
  local name=$1 pid
  if pid="$(running_pid "$name")"; then
    log "stopping $name (pid $pid)"
    kill_tree "$pid" || return 1
  fi
  rm -f "$(pidfile "$name")" "$(portfile "$name")"
}

cmd_start() {
  install
  mkdir -p "$STATE"
  local name port pid todo=() started=() vars=()
  # Settle every port before starting anything.
  for name in "${NAMES[@]}"; do
    if pid="$(running_pid "$name")"; then
      log "$name already runs (pid $pid, port $(current_port "$name"))"
      continue
    fi
    rm -f "$(pidfile "$name")" "$(portfile "$name")"
    vars+=("$(port_var "$name")")
    [[ $name == kinesis-local ]] && vars+=(KINESIS_LOCAL_TLS_PORT)
    todo+=("$name")
  done
  resolve_ports "${vars[@]}"
  for name in "${todo[@]}"; do
    launch "$name" "$(wanted_port "$name")"
    started+=("$name")
  done
  for name in "${started[@]}"; do
    pid="$(<"$(pidfile "$name")")"
    port="$(<"$(portfile "$name")")"
    if ! wait_ready "$name" "$port" "$pid"; then
      for n in "${started[@]}"; do stop_one "$n" || true; done
      die "$name did not start (log: $(logfile "$name"))"
    fi
    log "$name ready on http://127.0.0.1:$port (pid $pid, log $(logfile "$name"))"
  done
  cmd_env
}

cmd_stop() {
  local name rc=0
  for name in "${NAMES[@]}"; do
    stop_one "$name" || rc=1
  done
  return "$rc"
}

cmd_env() {
  printf 'RELAY_TEST_KINESIS_ENDPOINT=http://127.0.0.1:%s\n' "$(current_port kinesis-local)"
  printf 'RELAY_TEST_SQS_ENDPOINT=http://127.0.0.1:%s\n' "$(current_port fauxqs)"
  printf 'AWS_ACCESS_KEY_ID=test\n'
  printf 'AWS_SECRET_ACCESS_KEY=test\n'
  printf 'AWS_REGION=us-east-1\n'
}

# The environment genesys-relay (serve, replay, tail) and internal/tools/kinesisctl
# need to use the running emulators instead of AWS.
cmd_relay_env() {
  printf 'KINESIS_ENDPOINT=http://127.0.0.1:%s\n' "$(current_port kinesis-local)"
  printf 'AWS_ENDPOINT_URL_SQS=http://127.0.0.1:%s\n' "$(current_port fauxqs)"
  printf 'AWS_ACCESS_KEY_ID=test\n'
  printf 'AWS_SECRET_ACCESS_KEY=test\n'
  printf 'AWS_REGION=us-east-1\n'
}

cmd_status() {
  local name pid rc=0
  for name in "${NAMES[@]}"; do
    if pid="$(running_pid "$name")"; then
      log "$name runs (pid $pid, http://127.0.0.1:$(current_port "$name"))"
    else
      log "$name is not running"
      rc=1
    fi
  done
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  relay-env) cmd_relay_env ;;
  status) cmd_status ;;
  *)
    printf 'usage: %s start|stop|env|relay-env|status\n' "$0" >&2
    exit 2
    ;;
esac
