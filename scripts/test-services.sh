#!/usr/bin/env bash
# PostgreSQL and Redis servers that belong to the test run (not the system
# services): own data dirs under the state dir, loopback only, fixed
# non-default ports. Kafka has its own script, scripts/kafka.sh.
#
#   scripts/test-services.sh start [--kafka]   install what is missing, start, wait until they answer
#   scripts/test-services.sh stop [--kafka]    stop what start started (idempotent)
#   scripts/test-services.sh status            exit 0 when PostgreSQL and Redis answer, 3 otherwise
#   scripts/test-services.sh env               print `export` lines; use: eval "$(scripts/test-services.sh env)"
#
# --kafka also starts/stops the broker of scripts/kafka.sh (same as TEST_SERVICES_KAFKA=1).
#
# Environment:
#   TODO_TEST_STATE   state dir: data, sockets, logs (/tmp/todo-test-services)
#   TEST_PG_PORT      PostgreSQL port (55432)
#   TEST_REDIS_PORT   Redis port (56379)
#   TEST_KAFKA_PORT   Kafka port, for `env` (59092)
#   TEST_SERVICES_TIMEOUT  seconds to wait for each server (60)
#
# PostgreSQL: role todo / password todo (superuser), database todo_test,
# password (scram) auth on 127.0.0.1, trust on the Unix socket in the state dir.
# Server output goes to $TODO_TEST_STATE/postgres/postgres.log and
# $TODO_TEST_STATE/redis/redis.log.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE_DIR="${TODO_TEST_STATE:-/tmp/todo-test-services}"
HOST=127.0.0.1
PG_PORT="${TEST_PG_PORT:-55432}"
REDIS_PORT="${TEST_REDIS_PORT:-56379}"
KAFKA_PORT="${TEST_KAFKA_PORT:-59092}"
TIMEOUT="${TEST_SERVICES_TIMEOUT:-60}"

PG_DIR="$STATE_DIR/postgres"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
PG_USER=todo
PG_PASSWORD=todo
PG_DB=todo_test
PG_OS_USER=postgres

REDIS_DIR="$STATE_DIR/redis"
REDIS_CONF="$REDIS_DIR/redis.conf"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

log() { printf 'test-services: %s\n' "$*" >&2; }
die() { printf 'test-services: ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" == 0 ]]; }

log_tail() {
  if [[ -s "$1" ]]; then
    printf -- '--- last lines of %s ---\n' "$1" >&2
    tail -n 30 "$1" >&2
  fi
}

APT_UPDATED=0
apt_install() {
  is_root || die "missing $*; install it (apt-get install $*) or run this script as root"
  command -v apt-get >/dev/null || die "missing $* and no apt-get on this machine"
  export DEBIAN_FRONTEND=noninteractive
  if [[ "$APT_UPDATED" == 0 ]]; then
    log "apt-get update"
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# --- PostgreSQL ---------------------------------------------------------------

# A bin dir that has the server (initdb + postgres), not only the client.
pg_bindir() {
  local d
  if command -v pg_config >/dev/null; then
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/postgres" ]]; then
      printf '%s\n' "$d"
      return 0
    fi
  fi
  d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  if [[ -n "$d" && -x "$d/initdb" && -x "$d/postgres" ]]; then
    printf '%s\n' "$d"
    return 0
  fi
  return 1
}

PGBIN=""
ensure_pg_installed() {
  if ! PGBIN="$(pg_bindir)"; then
    apt_install postgresql postgresql-client
    PGBIN="$(pg_bindir)" || die "PostgreSQL server binaries not found after installing postgresql"
  fi
  [[ -x "$PGBIN/pg_ctl" && -x "$PGBIN/psql" && -x "$PGBIN/pg_isready" ]] \
    || die "incomplete PostgreSQL install in $PGBIN"
}

# initdb and postgres refuse to run as root: use the postgres system user then.
as_pg() {
  if is_root; then
    runuser -u "$PG_OS_USER" -- "$@"
  else
    "$@"
  fi
}

pg_ready() {
  "$PGBIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -d postgres -U "$PG_USER" -t 2 >/dev/null 2>&1
}

pg_running() {
  [[ -f "$PG_DATA/PG_VERSION" ]] && as_pg "$PGBIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

pg_server_version() {
  "$PGBIN/postgres" --version | grep -oE '[0-9]+(\.[0-9]+)?' | head -n 1
}

pg_init() {
  mkdir -p "$STATE_DIR"
  chmod 755 "$STATE_DIR" 2>/dev/null || true
  mkdir -p "$PG_DIR" "$PG_SOCK"
  if is_root; then
    id "$PG_OS_USER" >/dev/null 2>&1 || die "system user $PG_OS_USER missing (it comes with the postgresql package)"
    chown "$PG_OS_USER:" "$PG_DIR" "$PG_SOCK"
    as_pg test -w "$PG_DIR" \
      || die "user $PG_OS_USER cannot write $PG_DIR; put TODO_TEST_STATE somewhere it can reach (e.g. under /tmp)"
  fi
  chmod 700 "$PG_DIR"
  chmod 755 "$PG_SOCK"
  if [[ -f "$PG_DATA/PG_VERSION" ]]; then
    local have want
    have="$(cat "$PG_DATA/PG_VERSION")"
    want="$(pg_server_version)"
    want="${want%%.*}"
    if [[ "$have" != "$want" ]]; then
      die "$PG_DATA was made by PostgreSQL $have but $PGBIN is $want; remove $PG_DIR (test data only) and start again"
    fi
    return 0
  fi
  log "initdb $PG_DATA (PostgreSQL $(pg_server_version))"
  if ! as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1; then
    log_tail "$PG_DIR/initdb.log"
    die "initdb failed"
  fi
  cat >>"$PG_DATA/postgresql.conf" <<'EOF'

# --- todo-app test server (scripts/test-services.sh) ---
# listen_addresses, port and unix_socket_directories are given on the
# command line by the script, so TEST_PG_PORT can change between runs.
max_connections = 200
shared_buffers = 256MB
# fsync stays on: the benchmarks use this server too.
logging_collector = off
log_min_messages = warning
log_connections = off
log_disconnections = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  # Loopback only, password auth; nothing else may connect over TCP.
  cat >"$PG_DATA/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
EOF
}

pg_start() {
  ensure_pg_installed
  if pg_running && pg_ready; then
    log "PostgreSQL already running on $HOST:$PG_PORT"
    pg_setup_db
    return 0
  fi
  pg_init
  if pg_running; then
    local running_port
    running_port="$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    if [[ -n "$running_port" && "$running_port" != "$PG_PORT" ]]; then
      die "the server of $PG_DATA runs on port $running_port, not $PG_PORT; stop it first (TEST_PG_PORT=$running_port $0 stop)"
    fi
  else
    log "starting PostgreSQL on $HOST:$PG_PORT (data $PG_DATA)"
    touch "$PG_LOG"
    is_root && chown "$PG_OS_USER:" "$PG_LOG"
    if ! as_pg "$PGBIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" \
        -o "-c listen_addresses=$HOST -p $PG_PORT -c unix_socket_directories=$PG_SOCK" >/dev/null 2>&1; then
      log_tail "$PG_LOG"
      die "PostgreSQL did not start (port $PG_PORT taken? see $PG_LOG)"
    fi
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until pg_ready; do
    if ((SECONDS >= deadline)); then
      log_tail "$PG_LOG"
      die "PostgreSQL does not accept connections on $HOST:$PG_PORT after ${TIMEOUT}s"
    fi
    sleep 0.2
  done
  pg_setup_db
  log "PostgreSQL ready on $HOST:$PG_PORT"
}

# Role and database, idempotently, over the Unix socket as the bootstrap superuser.
pg_setup_db() {
  as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres \
    >/dev/null <<EOF || die "could not create role $PG_USER / database $PG_DB"
SET client_min_messages = warning;
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $PG_DB OWNER $PG_USER'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')\gexec
EOF
}

pg_stop() {
  local bindir
  if ! bindir="$(pg_bindir)"; then
    log "PostgreSQL not installed, nothing to stop"
    return 0
  fi
  PGBIN="$bindir"
  if pg_running; then
    log "stopping PostgreSQL"
    as_pg "$PGBIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$TIMEOUT" >/dev/null \
      || die "pg_ctl stop failed (see $PG_LOG)"
  else
    log "PostgreSQL not running"
  fi
}

# --- Redis --------------------------------------------------------------------

ensure_redis_installed() {
  local pkgs=()
  command -v redis-server >/dev/null || pkgs+=(redis-server)
  command -v redis-cli >/dev/null || pkgs+=(redis-tools)
  if ((${#pkgs[@]})); then
    apt_install "${pkgs[@]}"
  fi
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    die "redis-server / redis-cli not found after install"
  fi
}

redis_ready() {
  [[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

redis_pid() {
  local pid
  [[ -f "$REDIS_PID" ]] || return 1
  pid="$(cat "$REDIS_PID" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

redis_start() {
  ensure_redis_installed
  if redis_ready; then
    if redis_pid >/dev/null; then
      log "Redis already running on $HOST:$REDIS_PORT"
    else
      log "WARNING: something else answers Redis pings on $HOST:$REDIS_PORT (not started by this script); using it"
    fi
    return 0
  fi
  mkdir -p "$REDIS_DIR"
  cat >"$REDIS_CONF" <<EOF
# Generated by scripts/test-services.sh on every start.
bind $HOST
protected-mode yes
port $REDIS_PORT
daemonize yes
pidfile $REDIS_PID
logfile $REDIS_LOG
loglevel notice
dir $REDIS_DIR
# Test data only: no persistence.
save ""
appendonly no
databases 16
EOF
  log "starting Redis on $HOST:$REDIS_PORT"
  if ! redis-server "$REDIS_CONF" >>"$REDIS_LOG" 2>&1; then
    log_tail "$REDIS_LOG"
    die "redis-server failed to start"
  fi
  local deadline=$((SECONDS + TIMEOUT))
  until redis_ready; do
    if ((SECONDS >= deadline)); then
      log_tail "$REDIS_LOG"
      die "Redis does not answer on $HOST:$REDIS_PORT after ${TIMEOUT}s"
    fi
    sleep 0.1
  done
  log "Redis ready on $HOST:$REDIS_PORT"
}

redis_stop() {
  local pid=""
  pid="$(redis_pid)" || pid=""
  if [[ -z "$pid" ]]; then
    log "Redis not running"
    rm -f "$REDIS_PID"
    return 0
  fi
  log "stopping Redis"
  redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "Redis did not exit, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "$REDIS_PID"
}

# --- commands -----------------------------------------------------------------

kafka_up() { (exec 3<>"/dev/tcp/$HOST/$KAFKA_PORT") 2>/dev/null; }

WITH_KAFKA="${TEST_SERVICES_KAFKA:-0}"

cmd_start() {
  mkdir -p "$STATE_DIR"
  pg_start
  redis_start
  if [[ "$WITH_KAFKA" == 1 ]]; then
    "$SCRIPT_DIR/kafka.sh" start
  fi
}

cmd_stop() {
  if [[ "$WITH_KAFKA" == 1 ]]; then
    "$SCRIPT_DIR/kafka.sh" stop
  fi
  redis_stop
  pg_stop
}

cmd_status() {
  local rc=0
  if PGBIN="$(pg_bindir)" && pg_ready; then
    log "PostgreSQL up on $HOST:$PG_PORT"
  else
    log "PostgreSQL down"
    rc=3
  fi
  if command -v redis-cli >/dev/null && redis_ready; then
    log "Redis up on $HOST:$REDIS_PORT"
  else
    log "Redis down"
    rc=3
  fi
  if kafka_up; then
    log "Kafka up on $HOST:$KAFKA_PORT"
  else
    log "Kafka down (optional: scripts/kafka.sh start)"
  fi
  return "$rc"
}

cmd_env() {
  printf "export TEST_POSTGRES_URL='postgresql+asyncpg://%s:%s@%s:%s/%s'\n" "$PG_USER" "$PG_PASSWORD" "$HOST" "$PG_PORT" "$PG_DB"
  printf "export TEST_POSTGRES_DSN='postgresql://%s:%s@%s:%s/%s'\n" "$PG_USER" "$PG_PASSWORD" "$HOST" "$PG_PORT" "$PG_DB"
  printf "export TEST_REDIS_URL='redis://%s:%s/0'\n" "$HOST" "$REDIS_PORT"
  if kafka_up; then
    printf "export KAFKA_BOOTSTRAP_SERVERS='%s:%s'\n" "$HOST" "$KAFKA_PORT"
  fi
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  local arg
  for arg in "$@"; do
    case "$arg" in
      --kafka) WITH_KAFKA=1 ;;
      *) usage; exit 2 ;;
    esac
  done
  case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
