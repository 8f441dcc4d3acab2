#!/usr/bin/env bash
# The compose stack (compose.yaml) on this machine's engine.
#
#   scripts/compose.sh up      start the engine, build the images that are missing or
#                              changed, bring the stack up and wait until every service is
#                              healthy; the last line is `URL http://127.0.0.1:PORT`
#   scripts/compose.sh down    remove the stack's containers, network and volumes
#   scripts/compose.sh ps      the stack's containers and their health
#   scripts/compose.sh logs [SERVICE…]
#
# Environment:
#   TODO_PORT              the loopback port of the page and the API (8080)
#   TODO_COMPOSE_PROJECT   the compose project name (todo-app); another name runs a second stack
#   TODO_COMPOSE_TIMEOUT   seconds to wait for the stack to be healthy (300)
#   TODO_SKIP_IMAGES=1     use the images as they are (do not run scripts/images.sh)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PORT="${TODO_PORT:-8080}"
PROJECT="${TODO_COMPOSE_PROJECT:-todo-app}"
TIMEOUT="${TODO_COMPOSE_TIMEOUT:-300}"
export TODO_PORT="$PORT"

log() { printf 'compose: %s\n' "$*" >&2; }
die() { printf 'compose: ERROR: %s\n' "$*" >&2; exit 1; }

compose() { "$COMPOSE" --project-directory "$ROOT" -f "$ROOT/compose.yaml" -p "$PROJECT" "$@"; }

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The port is ours when this project's gateway already publishes it.
port_is_ours() {
  [[ -n "$(compose ps --status running -q gateway 2>/dev/null)" ]] \
    && compose port gateway 8080 2>/dev/null | grep -q ":$PORT\$"
}

taken() {
  die "port $PORT on 127.0.0.1 is already in use by another program; free it or choose another port with TODO_PORT (make compose-up TODO_PORT=8081)"
}

cmd_up() {
  local started out
  if ! [[ "$PORT" =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
    die "TODO_PORT=$PORT is not a port number (1-65535)"
  fi
  if port_answers "$PORT" && ! port_is_ours; then
    taken
  fi
  if [[ "${TODO_SKIP_IMAGES:-0}" != 1 ]]; then
    "$HERE/images.sh"
  fi
  started=$SECONDS
  log "starting project $PROJECT (waiting up to ${TIMEOUT}s for every service to be healthy)"
  if ! out="$(compose up --detach --wait --wait-timeout "$TIMEOUT" 2>&1)"; then
    printf '%s\n' "$out" >&2
    if grep -qi 'address already in use\|port is already allocated' <<<"$out"; then
      taken
    fi
    report_unhealthy
    die "the stack did not come up healthy (scripts/compose.sh logs SERVICE; scripts/compose.sh down removes it)"
  fi
  log "healthy in $((SECONDS - started)) s"
  printf 'URL http://127.0.0.1:%s\n' "$PORT"
}

# The containers that are not healthy (or did not finish well), with the end of their logs.
report_unhealthy() {
  local name state
  compose ps --all >&2 || true
  while read -r name state; do
    case "$state" in
      running/healthy/* | exited//0 | running//*) ;;
      *)
        printf -- '--- %s (%s): last lines of its log ---\n' "$name" "$state" >&2
        docker logs --tail 30 "$name" 2>&1 | sed 's/^/  /' >&2 || true
        ;;
    esac
  done < <(compose ps --all --format '{{.Name}} {{.State}}/{{.Health}}/{{.ExitCode}}' 2>/dev/null || true)
}

cmd_down() {
  log "removing project $PROJECT: containers, network and volumes"
  compose down --volumes --remove-orphans --timeout 20
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    up | down | ps | logs) ;;
    *) die "usage: scripts/compose.sh up|down|ps|logs [SERVICE…]" ;;
  esac
  "$HERE/docker.sh" start
  COMPOSE="$("$HERE/docker.sh" compose)"
  case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    ps) compose ps --all ;;
    logs) compose logs --no-color --timestamps "$@" ;;
  esac
}

main "$@"
