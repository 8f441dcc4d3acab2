#!/usr/bin/env bash
# The four services as separate processes, each with its own daprd sidecar in
# self-hosted mode, on the real Kafka broker and Redis of scripts/test-services.sh.
#
#   scripts/dapr-stack.sh start    broker + Redis, migrations, four apps and four sidecars
#   scripts/dapr-stack.sh stop     the apps and sidecars (the broker and Redis stay up)
#   scripts/dapr-stack.sh status   which processes run, and the sidecars' health
#
# Environment:
#   DATABASE_URL      PostgreSQL for the services (default: the test server's database)
#   DAPR_STACK_STATE  pid files and logs (build/dapr-stack)
#   DAPR_STACK_BASE   first app port (8101); sidecars use 3501.., 50001.., 9091..
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${DAPR_STACK_STATE:-$ROOT/build/dapr-stack}"
BASE="${DAPR_STACK_BASE:-8101}"
TODO="$ROOT/.venv/bin/todo"

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

start() {
  local daprd i entry service app_id app_port http_port
  "$ROOT/scripts/test-services.sh" start --kafka >&2
  eval "$("$ROOT/scripts/test-services.sh" env)"
  export DATABASE_URL="${DATABASE_URL:-$TEST_POSTGRES_URL}"
  export REDIS_URL="${REDIS_URL:-$TEST_REDIS_URL}"
  export EVENT_BUS=dapr DAPR_PUBSUB_NAME=pubsub-kafka
  daprd="$("$ROOT/scripts/dapr.sh")"
  mkdir -p "$STATE"
  "$TODO" db upgrade >&2
  i=0
  for entry in "${SERVICES[@]}"; do
    service="${entry%%|*}"
    app_id="${entry#*|}"
    app_port=$((BASE + i))
    http_port=$((3501 + i))
    if running "$STATE/$service.pid"; then
      log "$service already runs"
    else
      DAPR_HTTP_PORT="$http_port" nohup "$TODO" serve --service "$service" \
        --host 127.0.0.1 --port "$app_port" >"$STATE/$service.log" 2>&1 &
      echo $! >"$STATE/$service.pid"
    fi
    if ! running "$STATE/$service.daprd.pid"; then
      # Run from the repository so the secret store's relative file path resolves.
      (cd "$ROOT" && nohup "$daprd" --mode standalone --app-id "$app_id" \
        --app-port "$app_port" --app-protocol http \
        --dapr-http-port "$http_port" --dapr-grpc-port $((50001 + i)) \
        --dapr-internal-grpc-port $((50101 + i)) --metrics-port $((9091 + i)) \
        --resources-path "$ROOT/dapr/components" --log-level warn \
        >"$STATE/$service.daprd.log" 2>&1 &
        echo $! >"$STATE/$service.daprd.pid")
    fi
    log "$service: app http://127.0.0.1:$app_port, sidecar http://127.0.0.1:$http_port"
    i=$((i + 1))
  done
}

stop() {
  local pid_file
  for pid_file in "$STATE"/*.pid; do
    [[ -e "$pid_file" ]] || continue
    if running "$pid_file"; then
      kill "$(cat "$pid_file")" 2>/dev/null || true
    fi
    rm -f "$pid_file"
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
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: scripts/dapr-stack.sh start|stop|status" ;;
esac
