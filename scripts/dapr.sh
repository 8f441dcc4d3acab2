#!/usr/bin/env bash
# daprd, the Dapr sidecar, and Dapr's scheduler service (the Jobs API's store and clock,
# with etcd embedded), built from the Go module proxy at one pinned release and cached
# outside the repository, so a second run builds nothing.
#
# github.com/dapr/dapr has replace directives, so `go install …@version` refuses
# it; scripts/dapr/ is a small module of ours that requires it, repeats those
# replaces and registers only the components todo-app uses (pubsub.kafka,
# state.redis, secretstores.local.file and, for a cluster, secretstores.kubernetes; the mdns
# and kubernetes name resolvers). The scheduler is Dapr's own cmd/scheduler, built from
# the same module (go.mod lists it as a tool), so both share the pin and go.sum.
#
#   scripts/dapr.sh            build daprd when missing, print its path
#   scripts/dapr.sh --print    print the path only (builds nothing)
#   scripts/dapr.sh --check    exit 0 when the binary is there, 3 otherwise
#   scripts/dapr.sh --version  build when missing, print the binary's version
#   scripts/dapr.sh scheduler [--print|--check|--version]   the same for the scheduler
#
# Environment:
#   TODO_TOOLS_CACHE   cache dir ($XDG_CACHE_HOME or ~/.cache, then todo-app)
#   DAPR_GOMODCACHE    module cache for the build ($TODO_TOOLS_CACHE/dapr/gomod)
#   GO                 the go command (go on PATH, else /usr/local/go/bin/go)
#
# Everything goes to stderr except the answer, which is the only line on stdout.
set -euo pipefail

# The release pinned in scripts/dapr/go.mod.
DAPR_VERSION=1.16.0
# Bumped when the way daprd is built changes, so a cached build is redone.
RECIPE=2

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_PREFIX=dapr
# shellcheck source=scripts/lib/gobuild.sh
. "$HERE/lib/gobuild.sh"
CACHE="$(tools_cache)"
GOMOD_CACHE="${DAPR_GOMODCACHE:-$CACHE/dapr/gomod}"

# Which binary: daprd (our module's main package) or the scheduler (Dapr's).
NAME=daprd
PACKAGE=.
if [[ "${1:-}" == scheduler ]]; then
  NAME=scheduler
  PACKAGE=github.com/dapr/dapr/cmd/scheduler
  shift
fi
BIN="$CACHE/dapr/$NAME-v$DAPR_VERSION-r$RECIPE"

build() {
  local go tmp started
  go="$(find_go "$NAME is built from the Go module proxy" 1.24)"
  mkdir -p "$(dirname "$BIN")" "$GOMOD_CACHE"
  tmp="$BIN.tmp.$$"
  started=$SECONDS
  log "building $NAME $DAPR_VERSION (a cold build downloads the modules and compiles for several minutes)"
  GOMODCACHE="$GOMOD_CACHE" build_module "$go" "$HERE/dapr" "$tmp" \
    "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION -X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$DAPR_VERSION -X github.com/dapr/kit/logger.DaprVersion=$DAPR_VERSION" \
    -modcacherw "$PACKAGE" || { rm -f "$tmp"; die "building $NAME failed"; }
  mv -f "$tmp" "$BIN"
  log "built $BIN in $((SECONDS - started)) s"
}

version() {
  if [[ "$NAME" == daprd ]]; then
    "$BIN" --version
  else
    # The scheduler has no --version flag; it logs its version as it starts.
    printf '%s\n' "$DAPR_VERSION"
  fi
}

case "${1:-}" in
  --print) printf '%s\n' "$BIN" ;;
  --check) [[ -x "$BIN" ]] || exit 3 ;;
  --version)
    [[ -x "$BIN" ]] || build
    version
    ;;
  "")
    [[ -x "$BIN" ]] || build
    log "$NAME $(version) at $BIN"
    printf '%s\n' "$BIN"
    ;;
  *) die "unknown argument: $1 (use [scheduler] --print, --check or --version)" ;;
esac
