#!/usr/bin/env bash
# The container engine the compose stack and the image tests use: Debian's
# docker.io (dockerd, containerd, runc), installed when absent and started when
# not running, and Docker Compose v2, built once from the Go module proxy
# (scripts/compose/ pins it) and cached outside the repository.
#
#   scripts/docker.sh start     install docker.io if needed, start dockerd if it is not running
#   scripts/docker.sh stop      stop dockerd, only if this script started it
#   scripts/docker.sh status    exit 0 when the engine answers, 3 otherwise
#   scripts/docker.sh compose   build Compose v2 when missing, print its path (also installed
#                               as the CLI plugin ~/.docker/cli-plugins/docker-compose)
#
# Environment:
#   TODO_TOOLS_CACHE     cache dir ($XDG_CACHE_HOME or ~/.cache, then todo-app)
#   DOCKER_STATE         where the daemon's log and pid file go (build/docker)
#   DOCKER_START_TIMEOUT seconds to wait for dockerd to answer (60)
#
# Messages go to stderr; `compose` prints only the path on stdout.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LOG_PREFIX=docker
# shellcheck source=scripts/lib/gobuild.sh
. "$HERE/lib/gobuild.sh"

STATE="${DOCKER_STATE:-$ROOT/build/docker}"
PID_FILE="$STATE/dockerd.pid"
TIMEOUT="${DOCKER_START_TIMEOUT:-60}"
COMPOSE_MODULE="$HERE/compose"
# Bumped when the way Compose is built changes, so a cached build is redone.
RECIPE=1
SUDO=""
[[ "$(id -u)" == 0 ]] || SUDO=sudo

answers() { docker info >/dev/null 2>&1; }

# The pid files of dockerd and of the containerd it runs. A daemon that was
# killed leaves its file behind, and the next dockerd then refuses to start, or
# waits for a containerd that is not there, while any process has that pid.
ENGINE_PID_FILES=(/var/run/docker.pid:dockerd /var/run/docker/containerd/containerd.pid:containerd)

clear_stale_pid_files() {
  local entry file name pid
  for entry in "${ENGINE_PID_FILES[@]}"; do
    file="${entry%%:*}" name="${entry##*:}"
    [[ -f "$file" ]] || continue
    pid="$(cat "$file" 2>/dev/null || true)"
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != "$name" ]]; then
      log "removing $file: it names pid ${pid:-none}, which is not a running $name"
      rm -f "$file"
    fi
  done
}

install_engine() {
  command -v apt-get >/dev/null || die "dockerd is not installed and there is no apt-get to install Debian's docker.io; install Docker Engine 20.10 or newer"
  log "installing Debian's docker.io (dockerd, containerd, runc)"
  mkdir -p "$STATE"
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker.io \
      >"$STATE/apt.log" 2>&1; then
    $SUDO apt-get update -qq >>"$STATE/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker.io \
      >>"$STATE/apt.log" 2>&1 || die "apt-get could not install docker.io (log: $STATE/apt.log)"
  fi
}

cmd_start() {
  if answers; then
    log "the engine is running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    return 0
  fi
  command -v dockerd >/dev/null || install_engine
  command -v docker >/dev/null || die "dockerd is installed but the docker client is not; install docker.io"
  if [[ "$(id -u)" != 0 ]]; then
    die "dockerd is not running and only root can start it: run 'sudo scripts/docker.sh start' or start the docker service"
  fi
  mkdir -p "$STATE"
  clear_stale_pid_files
  log "starting dockerd (log: $STATE/dockerd.log)"
  # The pid file names dockerd itself, so `stop` ends the daemon this script started.
  nohup dockerd >"$STATE/dockerd.log" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  local deadline=$((SECONDS + TIMEOUT))
  until answers; do
    if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      rm -f "$PID_FILE"
      tail -n 20 "$STATE/dockerd.log" >&2 || true
      die "dockerd exited at start: $(grep -m1 -E 'level=(fatal|error)' "$STATE/dockerd.log" | sed -E 's/.*msg="([^"]*)".*/\1/' || echo "see $STATE/dockerd.log")"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 20 "$STATE/dockerd.log" >&2 || true
      die "dockerd did not answer within ${TIMEOUT}s (log: $STATE/dockerd.log)"
    fi
    sleep 0.2
  done
  log "dockerd $(docker version --format '{{.Server.Version}}') is up"
}

cmd_stop() {
  local pid
  if [[ ! -f "$PID_FILE" ]]; then
    log "dockerd was not started by this script; left as it is"
    return 0
  fi
  pid="$(cat "$PID_FILE")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
      ((SECONDS >= deadline)) && { kill -KILL "$pid" 2>/dev/null || true; break; }
      sleep 0.2
    done
  fi
  rm -f "$PID_FILE"
}

cmd_status() {
  if answers; then
    log "running: $(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}')"
    return 0
  fi
  log "not running (scripts/docker.sh start)"
  return 3
}

compose_release() { awk '$1 == "github.com/docker/compose/v2" { print $2; exit }' "$COMPOSE_MODULE/go.mod"; }

cmd_compose() {
  local release bin go tmp started plugins
  release="$(compose_release)"
  [[ -n "$release" ]] || die "scripts/compose/go.mod does not require github.com/docker/compose/v2"
  bin="$(tools_cache)/compose/docker-compose-$release-r$RECIPE"
  if [[ ! -x "$bin" ]]; then
    go="$(find_go "Docker Compose v2 is built from the Go module proxy" 1.24)"
    mkdir -p "$(dirname "$bin")"
    tmp="$bin.tmp.$$"
    started=$SECONDS
    log "building Docker Compose $release (a cold build takes minutes)"
    build_module "$go" "$COMPOSE_MODULE" "$tmp" \
      "-s -w -X github.com/docker/compose/v2/internal.Version=$release" "" \
      github.com/docker/compose/v2/cmd || { rm -f "$tmp"; die "building Docker Compose failed"; }
    mv -f "$tmp" "$bin"
    log "built $bin in $((SECONDS - started)) s"
  fi
  # Also as the docker CLI's plugin, so `docker compose` works by hand.
  plugins="${DOCKER_CONFIG:-${HOME:-/root}/.docker}/cli-plugins"
  mkdir -p "$plugins"
  ln -sfn "$bin" "$plugins/docker-compose"
  printf '%s\n' "$bin"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  compose) cmd_compose ;;
  *) die "usage: scripts/docker.sh start|stop|status|compose" ;;
esac
