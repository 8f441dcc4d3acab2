#!/usr/bin/env bash
# The command-line tools the deployment checks use, built from source through
# the Go module proxy (helm, kubeconform, actionlint, promtool, and otelcol-todo:
# an OpenTelemetry Collector of core components from the module in
# scripts/otelcol/) or installed from Debian (shellcheck), and cached outside the
# repository so a second run builds nothing.
#
#   scripts/tools.sh            build what is missing, print the bin dir
#   scripts/tools.sh --check    exit 0 when every tool is there at its version, 3 otherwise
#   scripts/tools.sh --print    print the bin dir only (builds nothing)
#
# Use: PATH="$(scripts/tools.sh):$PATH"
#
# Environment:
#   TODO_TOOLS_CACHE      cache dir ($XDG_CACHE_HOME or ~/.cache, then todo-app); the
#                         tools land in $TODO_TOOLS_CACHE/bin
#   HELM_VERSION          helm.sh/helm/v3 version (v3.22.0)
#   KUBECONFORM_VERSION   github.com/yannh/kubeconform version (v0.7.0)
#   ACTIONLINT_VERSION    github.com/rhysd/actionlint version (v1.7.12)
#   PROMTOOL_VERSION      github.com/prometheus/prometheus version (v0.316.0: Prometheus 3.16.0)
#   (otelcol-todo's collector release is the one pinned in scripts/otelcol/go.mod)
#   GO                    the go command (go on PATH, else /usr/local/go/bin/go)
#
# Everything goes to stderr except the bin dir, which is the only line on stdout.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.7.0}"
ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-v1.7.12}"
PROMTOOL_VERSION="${PROMTOOL_VERSION:-v0.316.0}"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_PREFIX=tools
# shellcheck source=scripts/lib/gobuild.sh
. "$HERE/lib/gobuild.sh"

CACHE="$(tools_cache)"
BIN="$CACHE/bin"
BUILDS="$CACHE/tools"

# name|module package path|version
go_tools() {
  printf '%s\n' \
    "helm|helm.sh/helm/v3/cmd/helm|$HELM_VERSION" \
    "kubeconform|github.com/yannh/kubeconform/cmd/kubeconform|$KUBECONFORM_VERSION" \
    "actionlint|github.com/rhysd/actionlint/cmd/actionlint|$ACTIONLINT_VERSION" \
    "promtool|github.com/prometheus/prometheus/cmd/promtool|$PROMTOOL_VERSION"
}

OTELCOL_MODULE="$HERE/otelcol"

tools_go() { find_go "helm, kubeconform, actionlint, promtool and otelcol-todo are built from the Go module proxy" 1.26; }

# Bumped when the way a tool is built changes, so a cached build is redone.
RECIPE=2

build_dir() { printf '%s/%s@%s-r%s\n' "$BUILDS" "$1" "$2" "$RECIPE"; }

# What helm's own release build stamps into the binary: its version, and the
# Kubernetes version of its client libraries as the default for `helm
# template` and `helm lint` (without it, a source build assumes v1.20).
helm_ldflags() {
  local version="$1" go="$2" gomod client_go major minor
  gomod="$("$go" mod download -json "helm.sh/helm/v3@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "$gomod" ]] || die "could not download helm.sh/helm/v3@$version's go.mod"
  client_go="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$gomod")"
  [[ "$client_go" =~ ^v0\.([0-9]+)\. ]] || die "no k8s.io/client-go version in $gomod"
  major=1
  minor="${BASH_REMATCH[1]}"
  local x="-X helm.sh/helm/v3"
  printf '%s' "-s -w $x/internal/version.version=$version" \
    " $x/pkg/chartutil.k8sVersionMajor=$major $x/pkg/chartutil.k8sVersionMinor=$minor" \
    " $x/pkg/lint/rules.k8sVersionMajor=$major $x/pkg/lint/rules.k8sVersionMinor=$minor"
}

# Prometheus's module versions v0.3MM.P are its releases 3.MM.P: stamp the
# release so `promtool --version` names it.
promtool_ldflags() {
  local version="$1" release
  if [[ "$version" =~ ^v0\.3([0-9][0-9])\.([0-9]+)$ ]]; then
    release="3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}"
  else
    release="${version#v}"
  fi
  printf '%s' "-s -w -X github.com/prometheus/common/version.Version=$release" \
    " -X github.com/prometheus/common/version.Branch=release"
}

# One build dir per tool, version and recipe: changing a version builds the
# new one next to the old, and the symlink in $BIN moves over.
build_go_tool() {
  local name="$1" pkg="$2" version="$3" go="$4"
  local dir
  dir="$(build_dir "$name" "$version")"
  if [[ ! -x "$dir/$name" ]]; then
    log "building $name $version from the Go module proxy (go install $pkg@$version)"
    local started=$SECONDS tmp ldflags="-s -w"
    [[ "$name" != helm ]] || ldflags="$(helm_ldflags "$version" "$go")"
    [[ "$name" != promtool ]] || ldflags="$(promtool_ldflags "$version")"
    mkdir -p "$BUILDS"
    tmp="$(mktemp -d "$BUILDS/.$name.XXXXXX")"
    # CGO off: static binaries that need no C toolchain; -trimpath: reproducible.
    if ! GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" \
      "$go" install -ldflags "$ldflags" "$pkg@$version" >&2; then
      rm -rf "$tmp"
      die "go install $pkg@$version failed (see above)"
    fi
    [[ -x "$tmp/$name" ]] || { rm -rf "$tmp"; die "go install $pkg@$version left no $name binary"; }
    rm -rf "$dir"
    mv "$tmp" "$dir"
    log "built $name $version in $((SECONDS - started))s"
  fi
  mkdir -p "$BIN"
  ln -sfn "$dir/$name" "$BIN/$name"
}

# otelcol-todo: scripts/otelcol/ is a module of ours (main.go, components.go)
# that pins every collector module at one release. Its build dir is named after
# that release and a hash of the module's files, so a change to the components
# builds a new binary.
otelcol_release() { awk '$1 == "go.opentelemetry.io/collector/otelcol" { print $2; exit }' "$OTELCOL_MODULE/go.mod"; }

otelcol_dir() {
  local release digest
  release="$(otelcol_release)"
  [[ -n "$release" ]] || die "scripts/otelcol/go.mod does not require go.opentelemetry.io/collector/otelcol"
  digest="$(cat "$OTELCOL_MODULE"/go.mod "$OTELCOL_MODULE"/go.sum "$OTELCOL_MODULE"/*.go | sha256sum | cut -c1-12)"
  printf '%s/otelcol-todo@%s-%s-r%s\n' "$BUILDS" "$release" "$digest" "$RECIPE"
}

build_otelcol() {
  local go="$1" dir
  dir="$(otelcol_dir)"
  if [[ ! -x "$dir/otelcol-todo" ]]; then
    local started=$SECONDS tmp release
    release="$(otelcol_release)"
    log "building otelcol-todo (collector $release, core components) from the Go module proxy"
    mkdir -p "$BUILDS"
    tmp="$(mktemp -d "$BUILDS/.otelcol-todo.XXXXXX")"
    if ! build_module "$go" "$OTELCOL_MODULE" "$tmp/otelcol-todo" "-s -w -X main.version=${release#v}"; then
      rm -rf "$tmp"
      die "building otelcol-todo in scripts/otelcol failed (see above)"
    fi
    rm -rf "$dir"
    mv "$tmp" "$dir"
    log "built otelcol-todo $release in $((SECONDS - started))s"
  fi
  mkdir -p "$BIN"
  ln -sfn "$dir/otelcol-todo" "$BIN/otelcol-todo"
}

# The system's shellcheck: on PATH, not counting our own link to it (PATH may include $BIN).
system_shellcheck() {
  local dir
  local -a dirs
  IFS=: read -r -a dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    [[ -n "$dir" && "$dir" != "$BIN" && -x "$dir/shellcheck" ]] || continue
    printf '%s\n' "$dir/shellcheck"
    return 0
  done
  return 1
}

ensure_shellcheck() {
  local found
  if found="$(system_shellcheck)"; then
    ln -sfn "$found" "$BIN/shellcheck"
    return
  fi
  [[ "$(id -u)" == 0 ]] || die "shellcheck is missing: apt-get install shellcheck (as root)"
  command -v apt-get >/dev/null || die "shellcheck is missing and there is no apt-get here"
  log "installing shellcheck from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null || die "apt-get update failed"
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends shellcheck >/dev/null \
    || die "apt-get install shellcheck failed"
  found="$(system_shellcheck)" || die "apt-get installed shellcheck, but it is not on PATH"
  ln -sfn "$found" "$BIN/shellcheck"
}

check() {
  local name pkg version missing=0
  while IFS='|' read -r name pkg version; do
    if [[ ! -x "$(build_dir "$name" "$version")/$name" || ! -e "$BIN/$name" ]]; then
      log "missing: $name $version"
      missing=1
    fi
  done < <(go_tools)
  if [[ ! -x "$(otelcol_dir)/otelcol-todo" || ! -e "$BIN/otelcol-todo" ]]; then
    log "missing: otelcol-todo"
    missing=1
  fi
  if [[ ! -e "$BIN/shellcheck" ]] && ! command -v shellcheck >/dev/null; then
    log "missing: shellcheck"
    missing=1
  fi
  return "$missing"
}

main() {
  case "${1:-}" in
    --print) printf '%s\n' "$BIN"; return ;;
    --check) if check; then return 0; else exit 3; fi ;;
    "") ;;
    *) die "unknown argument $1 (use --check or --print)" ;;
  esac
  mkdir -p "$BIN"
  local name pkg version go=""
  while IFS='|' read -r name pkg version; do
    if [[ ! -x "$(build_dir "$name" "$version")/$name" ]]; then
      [[ -n "$go" ]] || go="$(tools_go)"
    fi
    build_go_tool "$name" "$pkg" "$version" "$go"
  done < <(go_tools)
  if [[ ! -x "$(otelcol_dir)/otelcol-todo" ]]; then
    [[ -n "$go" ]] || go="$(tools_go)"
  fi
  build_otelcol "$go"
  ensure_shellcheck
  printf '%s\n' "$BIN"
}

main "$@"
