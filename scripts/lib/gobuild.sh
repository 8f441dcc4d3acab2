# shellcheck shell=bash
# What scripts/tools.sh, scripts/dapr.sh and scripts/docker.sh share: logging to stderr, the cache dir
# outside the repository, the Go toolchain, and building a module of ours.
#
# Source it after setting LOG_PREFIX (the name every message starts with):
#   LOG_PREFIX=dapr
#   . "$HERE/lib/gobuild.sh"

log() { printf '%s: %s\n' "$LOG_PREFIX" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$LOG_PREFIX" "$*" >&2; exit 1; }

# The cache dir: $TODO_TOOLS_CACHE, else $XDG_CACHE_HOME or ~/.cache, then todo-app.
tools_cache() { printf '%s\n' "${TODO_TOOLS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/todo-app}"; }

# find_go WHY VERSION: the go command ($GO, go on PATH, else /usr/local/go/bin/go); without
# one, fail saying WHY Go is needed and the oldest VERSION that builds it.
find_go() {
  local why="$1" version="$2"
  if [[ -n "${GO:-}" ]]; then
    command -v "$GO" >/dev/null || die "GO=$GO is not a command"
    printf '%s\n' "$GO"
  elif command -v go >/dev/null; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    printf '%s\n' /usr/local/go/bin/go
  else
    die "no Go toolchain (go on PATH or /usr/local/go/bin/go): $why; install Go $version or newer"
  fi
}

# build_module GO DIR OUT LDFLAGS [GOFLAGS] [PACKAGE]: `go build` of the module of ours in DIR
# (or of PACKAGE, a main package it requires) into OUT: static (no cgo), reproducible
# (-trimpath), with the versions its go.sum pins (-mod=readonly).
build_module() {
  local go="$1" dir="$2" out="$3" ldflags="$4" goflags="${5:-}" package="${6:-.}"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath $goflags" \
    "$go" build -ldflags "$ldflags" -o "$out" "$package" >&2)
}
