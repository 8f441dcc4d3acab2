#!/usr/bin/env bash
# The four services as separate processes, each with its own daprd sidecar in
# self-hosted mode, on the real Kafka broker and Redis of scripts/test-services.sh, and
# Dapr's scheduler service (the Jobs API: reminders with REMINDER_SCHEDULER=dapr-jobs).
#
#   scripts/dapr-stack.sh start    broker + Redis, migrations, the scheduler, four apps and four sidecars
#   scripts/dapr-stack.sh stop     the apps, sidecars and the scheduler (the broker and Redis stay up)
#   scripts/dapr-stack.sh status   which processes run, and the sidecars' health
#
# `start` returns once every sidecar answers /v1.0/healthz and every app /readyz (or
# fails with the log of the one that did not); `stop` waits for each process to exit.
#
# Environment:
#   DATABASE_URL      PostgreSQL for the services (default: a database of its own,
#                     todo_dapr_stack, on the test server; the test suite resets todo_test)
#   DAPR_STACK_STATE  pid files and logs (build/dapr-stack)
#   DAPR_STACK_BASE   first app port (8101); the sidecars' ports are fixed: HTTP 3501..,
#                     gRPC 3601.., internal gRPC 3701.., metrics 9091.., and the scheduler's:
#                     gRPC 3801, health 3802, etcd 3803 and 3804, metrics 9099 (all below
#                     the ephemeral range, where an outgoing connection could hold them)
#   REMINDER_SCHEDULER  what fires reminders (dapr-jobs here; builtin for the services' own)
#   DAPR_STACK_TIMEOUT  seconds to wait for each process to come up (60) or go (15)
#   DAPR_STACK_SECRETS  the JSON file of the sidecars' secret store (secretstores.local.file,
#                     named secrets-kubernetes like the cluster's): the services read their
#                     secrets from its object "todo-app" (keys openai-api-key, smtp-url,
#                     jwt-private.pem, vapid-private.pem) when they start. Default:
#                     $DAPR_STACK_STATE/secrets.json, written on the first start with a new
#                     JWT key (owner-only); add the other keys to it and restart.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${DAPR_STACK_STATE:-$ROOT/build/dapr-stack}"
BASE="${DAPR_STACK_BASE:-8101}"
TODO="$ROOT/.venv/bin/todo"
PYTHON="$ROOT/.venv/bin/python"
TIMEOUT="${DAPR_STACK_TIMEOUT:-60}"
STACK_DATABASE=todo_dapr_stack
SCHEDULER_PORT=3801
SCHEDULER_HEALTHZ_PORT=3802

# service|Dapr app id
SERVICES=(
  "task-api|task-api"
  "recurring-task|recurring-task-service"
  "notification|notification-service"
  "audit|audit-service"
)

log() { printf 'dapr-stack: %s\n' "$*" >&2; }
die() { printf 'dapr-stack: ERROR: %s\n' "$*" >&2; exit 1; }

running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Until `url` answers `code`, or fail with the log of the process of `pid_file`.
wait_http() {
  local name="$1" url="$2" code="$3" pid_file="$4" log_file="$5" waited=0
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)" == "$code" ]]; do
    if ! running "$pid_file"; then
      tail -n 30 "$log_file" >&2 || true
      die "$name exited (log: $log_file); scripts/dapr-stack.sh stop ends the rest"
    fi
    if ((waited >= TIMEOUT * 5)); then
      tail -n 30 "$log_file" >&2 || true
      die "$name did not answer $url with $code in ${TIMEOUT}s (log: $log_file); scripts/dapr-stack.sh stop ends the rest"
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

# The test server's database named $STACK_DATABASE, created (and migrated by `todo db
# upgrade` below) when missing.
stack_database() {
  "$PYTHON" - "$TEST_POSTGRES_DSN" "$STACK_DATABASE" <<'PY'
import asyncio
import sys
from urllib.parse import urlsplit, urlunsplit

import asyncpg

dsn, name = sys.argv[1], sys.argv[2]


async def main() -> None:
    conn = await asyncpg.connect(urlunsplit(urlsplit(dsn)._replace(path="/postgres")))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


asyncio.run(main())
PY
  printf '%s\n' "${TEST_POSTGRES_URL%/*}/$STACK_DATABASE"
}

# A new secrets file at $1 for the local secret store: the secret "todo-app" with a JWT
# signing key, owner-only, never over an existing file.
write_secrets() {
  "$PYTHON" - "$1" <<'PY'
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(fd, "w") as out:
    json.dump({"todo-app": {"jwt-private.pem": pem}}, out, indent=2)
    out.write("\n")
PY
}

# Fails, saying what to fix, unless $1 is a JSON file with an object "todo-app" of strings.
check_secrets() {
  "$PYTHON" - "$1" <<'PY' || exit 1
import json
import sys

path = sys.argv[1]
try:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
except (OSError, ValueError) as exc:
    sys.exit(f"dapr-stack: ERROR: DAPR_STACK_SECRETS={path}: {exc}")
secret = data.get("todo-app") if isinstance(data, dict) else None
if not isinstance(secret, dict) or not all(isinstance(v, str) for v in secret.values()):
    sys.exit(
        f"dapr-stack: ERROR: DAPR_STACK_SECRETS={path}: needs an object "
        '{"todo-app": {"<key>": "<value>", ...}} with string values; its keys: '
        "openai-api-key, smtp-url, jwt-private.pem, vapid-private.pem"
    )
PY
}

# The sidecars' components: those of dapr/components, the secret store on $1.
write_components() {
  local secrets_file="$1" components="$STATE/components"
  rm -rf "$components"
  mkdir -p "$components"
  cp "$ROOT"/dapr/components/*.yaml "$components/"
  sed -i "s|\"dapr/secrets/local.json\"|\"$secrets_file\"|" "$components/secrets-local.yaml"
  grep -qF "\"$secrets_file\"" "$components/secrets-local.yaml" ||
    die "dapr/components/secrets-local.yaml no longer names dapr/secrets/local.json"
  printf '%s\n' "$components"
}

start() {
  local daprd scheduler i entry service app_id app_port http_port secrets_file components
  "$ROOT/scripts/test-services.sh" start --kafka >&2
  eval "$("$ROOT/scripts/test-services.sh" env)"
  if [[ -z "${DATABASE_URL:-}" ]]; then
    DATABASE_URL="$(stack_database)"
  fi
  export DATABASE_URL
  export REDIS_URL="${REDIS_URL:-$TEST_REDIS_URL}"
  export EVENT_BUS=dapr DAPR_PUBSUB_NAME=pubsub-kafka
  export REMINDER_SCHEDULER="${REMINDER_SCHEDULER:-dapr-jobs}"
  daprd="$("$ROOT/scripts/dapr.sh")"
  scheduler="$("$ROOT/scripts/dapr.sh" scheduler)"
  mkdir -p "$STATE"
  secrets_file="${DAPR_STACK_SECRETS:-$STATE/secrets.json}"
  if [[ -z "${DAPR_STACK_SECRETS:-}" && ! -e "$secrets_file" ]]; then
    write_secrets "$secrets_file"
    log "wrote $secrets_file (a new JWT key); openai-api-key and smtp-url go there too"
  fi
  [[ -f "$secrets_file" ]] || die "DAPR_STACK_SECRETS=$secrets_file: there is no such file"
  secrets_file="$(cd "$(dirname "$secrets_file")" && pwd)/$(basename "$secrets_file")"
  check_secrets "$secrets_file"
  components="$(write_components "$secrets_file")"
  # The services read their secrets through their sidecars, from that file.
  export DAPR_SECRET_STORE=secrets-kubernetes DAPR_SECRET_NAME=todo-app
  "$TODO" db upgrade >&2
  # The scheduler first: a sidecar told of one is not healthy until it reaches it. Its
  # etcd keeps the jobs in $STATE/scheduler-data across restarts.
  if running "$STATE/scheduler.pid"; then
    log "the scheduler already runs"
  else
    nohup "$scheduler" --mode standalone --listen-address 127.0.0.1 --port "$SCHEDULER_PORT" \
      --healthz-listen-address 127.0.0.1 --healthz-port "$SCHEDULER_HEALTHZ_PORT" \
      --metrics-listen-address 127.0.0.1 --metrics-port 9099 \
      --etcd-data-dir "$STATE/scheduler-data" --etcd-client-port 3803 \
      --etcd-initial-cluster dapr-scheduler-server-0=http://127.0.0.1:3804 \
      --log-level info </dev/null >"$STATE/scheduler.log" 2>&1 &
    echo $! >"$STATE/scheduler.pid"
  fi
  wait_http "the scheduler" "http://127.0.0.1:$SCHEDULER_HEALTHZ_PORT/healthz" 200 \
    "$STATE/scheduler.pid" "$STATE/scheduler.log"
  # From the repository, as `make run` starts (the services read its .env).
  cd "$ROOT"
  i=0
  for entry in "${SERVICES[@]}"; do
    service="${entry%%|*}"
    app_id="${entry#*|}"
    app_port=$((BASE + i))
    http_port=$((3501 + i))
    if running "$STATE/$service.pid"; then
      log "$service already runs"
    else
      DAPR_HTTP_PORT="$http_port" DAPR_GRPC_PORT=$((3601 + i)) nohup "$TODO" serve --service "$service" \
        --host 127.0.0.1 --port "$app_port" </dev/null >"$STATE/$service.log" 2>&1 &
      echo $! >"$STATE/$service.pid"
    fi
    if running "$STATE/$service.daprd.pid"; then
      log "the sidecar of $service already runs"
    else
      # The pid file names daprd itself, so `stop` ends daprd, not a shell around it.
      nohup "$daprd" --mode standalone --app-id "$app_id" \
        --app-port "$app_port" --app-protocol http \
        --dapr-http-port "$http_port" --dapr-grpc-port $((3601 + i)) \
        --dapr-internal-grpc-port $((3701 + i)) --metrics-port $((9091 + i)) \
        --resources-path "$components" --placement-host-address "" \
        --scheduler-host-address "127.0.0.1:$SCHEDULER_PORT" --log-level info </dev/null >"$STATE/$service.daprd.log" 2>&1 &
      echo $! >"$STATE/$service.daprd.pid"
    fi
    i=$((i + 1))
  done
  i=0
  for entry in "${SERVICES[@]}"; do
    service="${entry%%|*}"
    app_port=$((BASE + i))
    http_port=$((3501 + i))
    wait_http "the sidecar of $service" "http://127.0.0.1:$http_port/v1.0/healthz" 204 \
      "$STATE/$service.daprd.pid" "$STATE/$service.daprd.log"
    wait_http "$service" "http://127.0.0.1:$app_port/readyz" 200 \
      "$STATE/$service.pid" "$STATE/$service.log"
    log "$service: app http://127.0.0.1:$app_port, sidecar http://127.0.0.1:$http_port"
    i=$((i + 1))
  done
  log "up; database $DATABASE_URL; reminders: $REMINDER_SCHEDULER (scheduler 127.0.0.1:$SCHEDULER_PORT)"
}

# Until the process of `pid_file` (sent SIGTERM) exits; SIGKILL after $DAPR_STACK_TIMEOUT/4
# seconds (15 by default).
wait_gone() {
  local pid_file="$1" pid waited=0
  if running "$pid_file"; then
    pid="$(cat "$pid_file")"
    while kill -0 "$pid" 2>/dev/null; do
      if ((waited >= TIMEOUT * 5 / 4)); then
        log "$(basename "$pid_file" .pid) did not exit: SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
      waited=$((waited + 1))
    done
  fi
  rm -f "$pid_file"
}

stop() {
  local pid_file
  local -a pid_files=()
  # The sidecars first: they stop delivering before their apps (and the scheduler) go away.
  for pid_file in "$STATE"/*.daprd.pid "$STATE"/*.pid; do
    [[ -e "$pid_file" ]] || continue
    if running "$pid_file"; then
      kill "$(cat "$pid_file")" 2>/dev/null || true
    fi
    pid_files+=("$pid_file")
  done
  for pid_file in "${pid_files[@]}"; do
    wait_gone "$pid_file"
  done
  log "stopped"
}

status() {
  local i=0 entry service code
  for entry in "${SERVICES[@]}"; do
    service="${entry%%|*}"
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((3501 + i))/v1.0/healthz" || true)"
    printf '%-15s app %-8s daprd %-8s healthz %s\n' "$service" \
      "$(running "$STATE/$service.pid" && echo up || echo down)" \
      "$(running "$STATE/$service.daprd.pid" && echo up || echo down)" "$code"
    i=$((i + 1))
  done
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SCHEDULER_HEALTHZ_PORT/healthz" || true)"
  printf '%-15s %-12s %-14s healthz %s\n' scheduler \
    "$(running "$STATE/scheduler.pid" && echo up || echo down)" "" "$code"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: scripts/dapr-stack.sh start|stop|status" ;;
esac
