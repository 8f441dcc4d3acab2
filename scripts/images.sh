#!/usr/bin/env bash
# Builds every image the compose stack and the cluster run, on this machine,
# without pulling from any registry:
#
#   todo-app/debian:bookworm-local   Debian bookworm (minbase) from Debian's packages, by
#                                    mmdebstrap, then `docker import`: the base of the others
#   todo-app/python:3.11-local       a stand-in for python:3.11-slim-bookworm (Debian's Python)
#   todo-app/app:local               the repository's Dockerfile, unchanged, on that stand-in
#   todo-app/postgres:local          PostgreSQL 15        (scripts/images/postgres)
#   todo-app/redis:local             Redis                (scripts/images/redis)
#   todo-app/kafka:local             Apache Kafka, KRaft  (scripts/images/kafka)
#   todo-app/daprd:local             the daprd of scripts/dapr.sh (scripts/images/daprd)
#   todo-app/gateway:local           nginx routing by path like the Ingress (scripts/images/gateway)
#
#   scripts/images.sh [NAME…]        build the named images (default: all), cached layers reused
#   scripts/images.sh --list         the image names, one a line
#
# The base is built once and kept; TODO_REBUILD_BASE=1 builds it again (a newer
# Debian point release). Every other image is a `docker build`, so a second run
# only rebuilds what changed. Build logs go to build/images/NAME.log.
#
# The base trusts the same extra certificate authorities as this machine
# (/usr/local/share/ca-certificates), so images build behind a TLS-inspecting proxy.
#
# Environment:
#   DEBIAN_MIRROR   Debian mirror for the base (http://deb.debian.org)
#   IMAGE_TAG       tag of the images of ours (local)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LOGS="$ROOT/build/images"
STAGE="$ROOT/build/images/context"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org}"
TAG="${IMAGE_TAG:-local}"
BASE_IMAGE="todo-app/debian:bookworm-local"
PYTHON_IMAGE="todo-app/python:3.11-local"
ALL=(base python app postgres redis kafka daprd gateway)
SUDO=""
[[ "$(id -u)" == 0 ]] || SUDO=sudo

log() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: ERROR: %s\n' "$*" >&2; exit 1; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# fail NAME STEP HINT: the step that failed, the end of its log, and what to do.
fail() {
  local name="$1" step="$2" hint="$3"
  if [[ -s "$LOGS/$name.log" ]]; then
    printf -- '--- last lines of %s ---\n' "$LOGS/$name.log" >&2
    tail -n 25 "$LOGS/$name.log" >&2
  fi
  die "$name: $step failed: $hint (log: $LOGS/$name.log)"
}

# docker_build NAME TAG CONTEXT [ARGS…]: a `docker build`, logged; on failure, the
# Dockerfile step it stopped at.
docker_build() {
  local name="$1" tag="$2" context="$3" step
  shift 3
  have_image "$BASE_IMAGE" || die "$name needs $BASE_IMAGE: run scripts/images.sh base first"
  if ! docker build --tag "$tag" "$@" "$context" >>"$LOGS/$name.log" 2>&1; then
    step="$(grep -E '^Step [0-9]+/[0-9]+ : ' "$LOGS/$name.log" | tail -n 1 || true)"
    fail "$name" "docker build${step:+ at \"$step\"}" \
      "a RUN step that installs packages needs $MIRROR (Debian) or PyPI to be reachable from containers"
  fi
  log "$tag $(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
}

build_base() {
  local tar extra=()
  if have_image "$BASE_IMAGE" && [[ "${TODO_REBUILD_BASE:-0}" != 1 ]]; then
    log "$BASE_IMAGE is there (TODO_REBUILD_BASE=1 builds it again)"
    return 0
  fi
  if ! command -v mmdebstrap >/dev/null; then
    log "installing mmdebstrap (Debian's package) to build $BASE_IMAGE"
    if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mmdebstrap \
        >>"$LOGS/base.log" 2>&1; then
      # A machine whose package lists were never fetched: fetch them once and try again.
      $SUDO apt-get update -qq >>"$LOGS/base.log" 2>&1 || true
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mmdebstrap \
        >>"$LOGS/base.log" 2>&1 \
        || fail base "installing mmdebstrap" "install Debian's mmdebstrap package (apt-get install mmdebstrap)"
    fi
  fi
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    # shellcheck disable=SC2016  # the hook's "$1" is mmdebstrap's, not ours
    extra=(--customize-hook='copy-in /usr/local/share/ca-certificates /usr/local/share/'
      --customize-hook='chroot "$1" update-ca-certificates')
  fi
  tar="$LOGS/debian-bookworm.tar"
  log "building $BASE_IMAGE from Debian's packages with mmdebstrap (a couple of minutes)"
  # Manual pages are left out, but their man1 folder stays: some packages' scripts
  # (Java's update-alternatives) link into it.
  # shellcheck disable=SC2016  # the hooks' "$1" is mmdebstrap's, not ours
  $SUDO mmdebstrap --variant=minbase --include=ca-certificates \
    --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='mkdir -p "$1/usr/share/man/man1"' \
    "${extra[@]}" \
    bookworm "$tar" \
    "deb $MIRROR/debian bookworm main" \
    "deb $MIRROR/debian bookworm-updates main" \
    "deb $MIRROR/debian-security bookworm-security main" >>"$LOGS/base.log" 2>&1 \
    || fail base "mmdebstrap" "Debian's mirror $MIRROR must be reachable (DEBIAN_MIRROR names another)"
  docker import \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "Debian bookworm minbase, built by scripts/images.sh" \
    "$tar" "$BASE_IMAGE" >>"$LOGS/base.log" 2>&1 || fail base "docker import" "the engine must be running (scripts/docker.sh start)"
  rm -f "$tar"
  log "$BASE_IMAGE $(docker image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
}

# A build context of its own under build/, for images that need files from outside
# scripts/images (jars, binaries).
fresh_context() {
  local dir="$STAGE/$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  cp -a "$HERE/images/$1/." "$dir/"
  printf '%s\n' "$dir"
}

build_one() {
  local name="$1" dir daprd version
  : >"$LOGS/$name.log"
  case "$name" in
    base) build_base ;;
    python) docker_build python "$PYTHON_IMAGE" "$HERE/images/python" --build-arg "BASE=$BASE_IMAGE" ;;
    app)
      have_image "$PYTHON_IMAGE" || die "app needs $PYTHON_IMAGE: run scripts/images.sh python first"
      version="$(awk -F'"' '/^version *=/ { print $2; exit }' "$ROOT/pyproject.toml")"
      docker_build app "todo-app/app:$TAG" "$ROOT" \
        --build-arg "PYTHON_IMAGE=$PYTHON_IMAGE" \
        --build-arg "VERSION=${version:-dev}" \
        --build-arg "REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
      ;;
    postgres | redis | gateway)
      docker_build "$name" "todo-app/$name:$TAG" "$HERE/images/$name" --build-arg "BASE=$BASE_IMAGE"
      ;;
    kafka)
      dir="$(fresh_context kafka)"
      "$HERE/kafka.sh" stage "$dir" >>"$LOGS/kafka.log" 2>&1 \
        || fail kafka "scripts/kafka.sh stage" "Maven (mvn) and Java 17 fetch Apache Kafka's jars from Maven Central"
      docker_build kafka "todo-app/kafka:$TAG" "$dir" --build-arg "BASE=$BASE_IMAGE"
      ;;
    daprd)
      dir="$(fresh_context daprd)"
      daprd="$("$HERE/dapr.sh" 2>>"$LOGS/daprd.log")" \
        || fail daprd "scripts/dapr.sh" "daprd is built from the Go module proxy with Go 1.24 or newer"
      cp "$daprd" "$dir/daprd"
      docker_build daprd "todo-app/daprd:$TAG" "$dir" --build-arg "BASE=$BASE_IMAGE"
      ;;
    *) die "no image called $name (one of: ${ALL[*]})" ;;
  esac
}

main() {
  local names=() name started
  if [[ "${1:-}" == "--list" ]]; then
    printf '%s\n' "${ALL[@]}"
    return 0
  fi
  names=("$@")
  ((${#names[@]})) || names=("${ALL[@]}")
  "$HERE/docker.sh" start
  mkdir -p "$LOGS"
  for name in "${names[@]}"; do
    started=$SECONDS
    build_one "$name"
    log "$name done in $((SECONDS - started)) s"
  done
}

main "$@"
