#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, as host processes:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a containerd of
# its own, kubelet, kube-proxy, and CoreDNS as a Deployment. Everything is built
# from the Go module proxy at pinned releases and cached outside the
# repository; every image is built here and imported, none is ever pulled.
# See docs/cluster.md.
#
#   scripts/cluster/cluster.sh up           build what is missing, start what is not running,
#                                           wait for the node and CoreDNS, run the smoke check
#   scripts/cluster/cluster.sh down         stop everything, remove its mounts, interfaces,
#                                           iptables rules and state (logs are kept)
#   scripts/cluster/cluster.sh status       the processes, the node and the pods
#   scripts/cluster/cluster.sh kubeconfig   print the admin kubeconfig's path
#   scripts/cluster/cluster.sh kubectl-path print the path of the kubectl it built
#   scripts/cluster/cluster.sh load TAG...  load local Docker images into the cluster's containerd
#   scripts/cluster/cluster.sh smoke        run the smoke check again
#   scripts/cluster/cluster.sh build        only build the binaries and images
#   scripts/cluster/cluster.sh dapr-images  build Dapr's control plane (operator, injector, sentry,
#                                           placement, scheduler) as todo-app/dapr-<name>:local,
#                                           loaded into the cluster when it is up; prints the tags
#   scripts/cluster/cluster.sh dapr-up      install Dapr's control plane (its own chart, these images)
#                                           in namespace dapr-system
#   scripts/cluster/cluster.sh install [HELM_ARGS]
#                                           helm upgrade --install of charts/todo-app with values-local.yaml
#                                           (and HELM_ARGS, e.g. --set config.defaultTimezone=Europe/Paris)
#                                           in namespace todo (images built here and loaded), wait
#                                           until the host reaches it; the last line is
#                                           `URL http://127.0.0.1:PORT` (its gateway's NodePort)
#   scripts/cluster/cluster.sh uninstall    helm uninstall, and the namespace deleted
#   scripts/cluster/cluster.sh app-images   the image tags install needs (scripts/images.sh builds them)
#   scripts/cluster/cluster.sh kubectl ARGS kubectl with the admin kubeconfig
#   scripts/cluster/cluster.sh crictl ARGS  crictl on the cluster's containerd
#
# Environment:
#   CLUSTER_DIR        state, certificates, kubeconfigs and logs (build/cluster in the repository)
#   TODO_TOOLS_CACHE   cache dir ($XDG_CACHE_HOME or ~/.cache, then todo-app); binaries in cluster/
#   CLUSTER_GOMODCACHE module cache for the builds ($TODO_TOOLS_CACHE/cluster/gomod)
#   CLUSTER_WAIT       seconds to wait for each component (180)
#   DAPRD_IMAGE        the Dapr sidecar image for dapr-up (todo-app/daprd:local; the injector runs /daprd)
#   TODO_CLUSTER_PORT  the NodePort install serves the app on, at 127.0.0.1 (30080; 30000-32767)
#   TODO_CLUSTER_NAMESPACE  install's namespace (todo)
#   TODO_CLUSTER_INSTALL_WAIT  seconds helm waits for install (480)
#   GO                 the go command (go on PATH, else /usr/local/go/bin/go)
#
# Needs root (network interfaces, iptables, mounts), Docker (to build and hand
# over images), and Debian's containerd, runc, containernetworking-plugins,
# conntrack and iptables (installed with apt-get when missing).
set -euo pipefail

K8S_VERSION=1.34.2
ETCD_VERSION=3.6.17
COREDNS_VERSION=1.13.2
CRICTL_VERSION=1.34.0
# Dapr's control plane, at the release of the daprd of scripts/dapr.sh.
DAPR_VERSION=1.16.0
DAPR_COMMANDS=(operator injector sentry placement scheduler)
DAPRD_IMAGE="${DAPRD_IMAGE:-todo-app/daprd:local}"
# Bumped when the way the binaries are built changes, so a cached build is redone.
RECIPE=1

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LOG_PREFIX=cluster
# shellcheck source=scripts/lib/gobuild.sh
. "$HERE/../lib/gobuild.sh"

CACHE="$(tools_cache)/cluster"
GOMOD_CACHE="${CLUSTER_GOMODCACHE:-$CACHE/gomod}"
KUBE_BIN="$CACHE/kube-v$K8S_VERSION-r$RECIPE"
ETCD_BIN="$CACHE/etcd-v$ETCD_VERSION-r$RECIPE/etcd"
COREDNS_BIN="$CACHE/coredns-v$COREDNS_VERSION-r$RECIPE/coredns"
CRICTL_BIN="$CACHE/crictl-v$CRICTL_VERSION-r$RECIPE/crictl"
DAPR_BIN="$CACHE/dapr-v$DAPR_VERSION-r$RECIPE"
STATE="${CLUSTER_DIR:-$REPO/build/cluster}"
LOGS="$STATE/logs"
RUN="$STATE/run"
PKI="$STATE/pki"
KUBECONFIG_ADMIN="$STATE/kubeconfig"
CONTAINERD_SOCK="$STATE/containerd/containerd.sock"
WAIT="${CLUSTER_WAIT:-180}"

# The node's network: nothing of it is reachable from outside the machine.
NODE_NAME=todo-node
NODE_IF=todo-k8s0         # an interface of ours holding the node's address
NODE_IP=10.244.255.1
BRIDGE=todo-cni0          # the pods' bridge (created by the CNI bridge plugin)
POD_CIDR=10.88.0.0/16
# shellcheck disable=SC2034 # read by render()
POD_GATEWAY=10.88.0.1
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
# shellcheck disable=SC2034 # read by render()
DNS_IP=10.96.0.10
CLUSTER_DOMAIN=cluster.local
API_PORT=6443
ETCD_CLIENT=127.0.0.1:2379
ETCD_PEER=127.0.0.1:2380
CNI_BIN_DIR=/usr/lib/cni
IPT_COMMENT=todo-cluster
# shellcheck disable=SC2034 # read by render()
RUNC=/usr/sbin/runc
SMOKE_ID=0

# The app as `install` puts it on the cluster.
APP_RELEASE=todo-app
APP_NAMESPACE="${TODO_CLUSTER_NAMESPACE:-todo}"
APP_PORT="${TODO_CLUSTER_PORT:-30080}"
APP_WAIT="${TODO_CLUSTER_INSTALL_WAIT:-480}"
APP_IMAGES=(todo-app/app:local todo-app/postgres:local todo-app/redis:local todo-app/kafka:local
  todo-app/daprd:local todo-app/gateway:local)

SANDBOX_IMAGE=todo-app/pause:local
COREDNS_IMAGE=todo-app/coredns:local
PROBE_IMAGE=todo-app/probe:local

# The order components start in; down stops them in reverse.
COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

# --- prerequisites ------------------------------------------------------------------

need_root() {
  [[ "$(id -u)" == 0 ]] || die "needs root (network interfaces, iptables, mounts): run it with sudo"
}

# apt_install PACKAGE...: install Debian packages, refreshing the lists once if that fails.
apt_install() {
  command -v apt-get >/dev/null || die "missing: $* (install them with your package manager)"
  log "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2; } \
    || die "apt-get install $* failed"
}

prerequisites() {
  need_root
  local missing=() cmd plugin
  declare -A package=([containerd]=containerd [ctr]=containerd [runc]=runc [iptables]=iptables
    [iptables-save]=iptables [conntrack]=conntrack [ip]=iproute2 [openssl]=openssl [curl]=curl
    [findmnt]=util-linux)
  for cmd in "${!package[@]}"; do
    command -v "$cmd" >/dev/null || missing+=("${package[$cmd]}")
  done
  for plugin in bridge host-local loopback portmap; do
    [[ -x "$CNI_BIN_DIR/$plugin" ]] || missing+=(containernetworking-plugins)
  done
  if ((${#missing[@]})); then
    # shellcheck disable=SC2046 # one word per package
    apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
  fi
  command -v docker >/dev/null \
    || die "missing: docker (builds and hands over the images): apt-get install docker.io"
  docker info >/dev/null 2>&1 \
    || die "the Docker daemon does not answer (docker info): start it (dockerd, or systemctl start docker)"
  [[ -d /proc/sys/net/bridge ]] || modprobe br_netfilter 2>/dev/null \
    || die "missing: the br_netfilter kernel module (modprobe br_netfilter)"
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 >/dev/null \
    || die "cannot set net.ipv4.ip_forward and net.bridge.bridge-nf-call-iptables (sysctl)"
}

# --- builds ---------------------------------------------------------------------------

# go_build DIR OUT LDFLAGS PACKAGE...: build the PACKAGEs of the module of ours in DIR
# (static, reproducible, with the versions its go.sum pins) into OUT: a directory
# (ending in /) for several commands, else the file for one.
go_build() {
  local dir="$1" out="$2" ldflags="$3" go
  shift 3
  go="$(find_go "the cluster's binaries are built from the Go module proxy" 1.24)"
  mkdir -p "$GOMOD_CACHE"
  (cd "$dir" && GOMODCACHE="$GOMOD_CACHE" CGO_ENABLED=0 \
    GOFLAGS="${GOFLAGS:-} -mod=readonly -trimpath -modcacherw -buildvcs=false" \
    "$go" build -ldflags "$ldflags" -o "$out" "$@" >&2)
}

# module_download DIR MODULE@VERSION: put a module the module of ours in DIR requires
# into the module cache.
module_download() {
  local go
  go="$(find_go "the cluster's binaries are built from the Go module proxy" 1.24)"
  (cd "$1" && GOMODCACHE="$GOMOD_CACHE" GOFLAGS="${GOFLAGS:-} -mod=readonly -modcacherw" "$go" mod download "$2" >&2)
}

# The release date of a module version, from the module cache (reproducible build dates).
module_time() {
  local info="$GOMOD_CACHE/cache/download/$1/@v/$2.info"
  [[ -f "$info" ]] || module_download "$HERE/kube" "$1@$2"
  sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info"
}

# build_set LABEL OUT DIR LDFLAGS PREFIX CMD...: the commands PREFIX/CMD of the module of
# ours in DIR, built by one `go build` (so they share its compilation) into the
# directory OUT; nothing to do when they are all there.
build_set() {
  local label="$1" out="$2" dir="$3" ldflags="$4" prefix="$5" cmd absent=0 pkgs=()
  shift 5
  for cmd in "$@"; do
    [[ -x "$out/$cmd" ]] || absent=1
    pkgs+=("$prefix/$cmd")
  done
  ((absent)) || return 0
  local tmp="$out.tmp.$$" started=$SECONDS
  log "building $label ($*); a cold build compiles for minutes"
  rm -rf "$tmp" && mkdir -p "$tmp"
  go_build "$dir" "$tmp/" "$ldflags" "${pkgs[@]}" || { rm -rf "$tmp"; die "building $label failed"; }
  rm -rf "$out" && mv "$tmp" "$out"
  log "built $label in $((SECONDS - started)) s into $out"
}

build_kube() {
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl) cmd absent=0
  for cmd in "${cmds[@]}"; do [[ -x "$KUBE_BIN/$cmd" ]] || absent=1; done
  ((absent)) || return 0
  local date ldflags="-s -w" pkg
  date="$(module_time k8s.io/kubernetes "v$K8S_VERSION")"
  # Without these the commands report v0.0.0-master.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=${K8S_VERSION%%.*}"
    ldflags+=" -X $pkg.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION") -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  build_set "Kubernetes $K8S_VERSION" "$KUBE_BIN" "$HERE/kube" "$ldflags" k8s.io/kubernetes/cmd "${cmds[@]}"
}

# build_one NAME BIN DIR LDFLAGS PACKAGE: one cached command.
build_one() {
  local name="$1" bin="$2" dir="$3" ldflags="$4" pkg="$5"
  [[ -x "$bin" ]] && return 0
  local tmp="$bin.tmp.$$" started=$SECONDS
  log "building $name"
  mkdir -p "$(dirname "$bin")"
  go_build "$dir" "$tmp" "$ldflags" "$pkg" || { rm -f "$tmp"; die "building $name failed"; }
  mv -f "$tmp" "$bin"
  log "built $name in $((SECONDS - started)) s into $bin"
}

# The programs of our own images, rebuilt when their source changes.
images_bin() {
  local sum
  sum="$(cat "$HERE/images/go.mod" "$HERE"/images/*/*.go | sha256sum | cut -c1-12)"
  printf '%s\n' "$CACHE/images-$sum"
}

build_all() {
  build_kube
  build_one "etcd $ETCD_VERSION" "$ETCD_BIN" "$HERE/etcd" \
    "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$ETCD_VERSION" go.etcd.io/etcd/server/v3
  build_one "CoreDNS $COREDNS_VERSION" "$COREDNS_BIN" "$HERE/coredns" \
    "-s -w -X github.com/coredns/coredns/coremain.GitCommit=v$COREDNS_VERSION" github.com/coredns/coredns
  build_one "crictl $CRICTL_VERSION" "$CRICTL_BIN" "$HERE/crictl" \
    "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
  local images old
  images="$(images_bin)"
  build_one pause "$images/pause" "$HERE/images" "-s -w" ./pause
  build_one probe "$images/probe" "$HERE/images" "-s -w" ./probe
  # Builds of an earlier source of these programs.
  for old in "$CACHE"/images-*; do
    [[ "$old" == "$images" ]] || rm -rf "$old"
  done
}

# --- images -----------------------------------------------------------------------------

# docker_image_from_binary TAG BINARY [USER]: an image holding only BINARY (as /NAME,
# its entrypoint, run as USER, root by default), made with `docker import`; redone
# only when the binary changed.
docker_image_from_binary() {
  local tag="$1" bin="$2" user="${3:-0:0}" name sum have tmp
  name="$(basename "$bin")"
  # The label names the binary, the user and the layout below (bump l2 when it changes).
  sum="$(sha256sum "$bin" | cut -d' ' -f1)-$user-l2"
  have="$(docker image inspect -f '{{ index .Config.Labels "todo-app.binary-sha256" }}' "$tag" 2>/dev/null || true)"
  [[ "$have" == "$sum" ]] && return 0
  tmp="$(mktemp -d)"
  install -m 0755 "$bin" "$tmp/$name"
  mkdir -p "$tmp/etc" "$tmp/tmp" && chmod 1777 "$tmp/tmp"
  # Users and groups, so the runtime finds the group of a numeric runAsUser.
  printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"$tmp/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$tmp/etc/group"
  tar -C "$tmp" --owner=0 --group=0 --numeric-owner -cf - "$name" etc tmp \
    | docker import --change "ENTRYPOINT [\"/$name\"]" --change "USER $user" \
      --change "LABEL todo-app.binary-sha256=$sum" - "$tag" >/dev/null \
    || { rm -rf "$tmp"; die "docker import of $tag failed"; }
  rm -rf "$tmp"
  log "image $tag built from $bin"
}

build_images() {
  local images
  images="$(images_bin)"
  docker_image_from_binary "$SANDBOX_IMAGE" "$images/pause"
  docker_image_from_binary "$PROBE_IMAGE" "$images/probe"
  docker_image_from_binary "$COREDNS_IMAGE" "$COREDNS_BIN"
}

# Dapr's control plane as images todo-app/dapr-<command>:local (the binary at
# /<command>, as in Dapr's own images), loaded into the cluster when it is up.
dapr_images() {
  build_set "Dapr $DAPR_VERSION control plane" "$DAPR_BIN" "$HERE/dapr" \
    "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION -X github.com/dapr/dapr/pkg/buildinfo.gitversion=v$DAPR_VERSION -X github.com/dapr/kit/logger.DaprVersion=$DAPR_VERSION" \
    github.com/dapr/dapr/cmd "${DAPR_COMMANDS[@]}"
  local name tags=()
  for name in "${DAPR_COMMANDS[@]}"; do
    # A numeric non-root user: Dapr's charts require runAsNonRoot.
    docker_image_from_binary "todo-app/dapr-$name:local" "$DAPR_BIN/$name" 65532:65532
    tags+=("todo-app/dapr-$name:local")
  done
  if running containerd; then
    load_images "${tags[@]}"
  fi
  printf '%s\n' "${tags[@]}"
}

# dapr_up: Dapr's control plane in namespace dapr-system, from the Helm chart that
# the github.com/dapr/dapr module carries (charts/dapr, in the module cache after
# the build) and the images built here; the sidecar is $DAPRD_IMAGE.
dapr_up() {
  running kube-apiserver || die "the cluster is not up (cluster.sh up)"
  dapr_images >/dev/null
  local chart="$GOMOD_CACHE/github.com/dapr/dapr@v$DAPR_VERSION/charts/dapr" i
  [[ -d "$chart" ]] || module_download "$HERE/dapr" "github.com/dapr/dapr@v$DAPR_VERSION"
  [[ -d "$chart" ]] || die "no Dapr chart at $chart"
  if docker image inspect "$DAPRD_IMAGE" >/dev/null 2>&1; then
    load_images "$DAPRD_IMAGE"
  else
    log "no image $DAPRD_IMAGE: Dapr's control plane starts, but no sidecar can (DAPRD_IMAGE=...)"
  fi
  # The scheduler's three volumes; its pods run as 65532.
  for i in 0 1 2; do
    install -d -o 65532 -g 65532 "$STATE/volumes/dapr-scheduler-$i"
  done
  render dapr-volumes.yaml "$STATE/dapr-volumes.yaml"
  kubectl_admin apply -f "$STATE/dapr-volumes.yaml" >/dev/null || die "kubectl apply -f $STATE/dapr-volumes.yaml failed"
  local started=$SECONDS
  helm_admin upgrade --install dapr "$chart" \
    --namespace dapr-system --create-namespace \
    --set global.ha.enabled=false --set global.imagePullPolicy=Never \
    --set dapr_operator.image.name=todo-app/dapr-operator:local \
    --set dapr_sentry.image.name=todo-app/dapr-sentry:local \
    --set dapr_placement.image.name=todo-app/dapr-placement:local \
    --set dapr_scheduler.image.name=todo-app/dapr-scheduler:local \
    --set dapr_sidecar_injector.injectorImage.name=todo-app/dapr-injector:local \
    --set dapr_sidecar_injector.image.name="$DAPRD_IMAGE" \
    --set dapr_sidecar_injector.sidecarImagePullPolicy=Never \
    --set dapr_placement.cluster.forceInMemoryLog=true \
    --wait --timeout "${WAIT}s" >/dev/null \
    || { kubectl_admin -n dapr-system get pods >&2; die "Dapr's control plane is not ready (kubectl -n dapr-system get pods)"; }
  log "Dapr $DAPR_VERSION control plane ready in $((SECONDS - started)) s (namespace dapr-system)"
}

helm_path() {
  local helm
  helm="$(command -v helm || printf '%s/helm' "$("$HERE/../tools.sh" --print)")"
  [[ -x "$helm" ]] || die "missing: helm (scripts/tools.sh builds it)"
  printf '%s\n' "$helm"
}

helm_admin() { KUBECACHEDIR="$STATE/kubectl-cache" "$(helm_path)" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# install_failed: what an operator looks at first, then give up.
install_failed() {
  local pod
  log "helm status $APP_RELEASE -n $APP_NAMESPACE:"
  helm_admin status "$APP_RELEASE" -n "$APP_NAMESPACE" >&2 || true
  kubectl_admin -n "$APP_NAMESPACE" get pods -o wide >&2 || true
  for pod in $(kubectl_admin -n "$APP_NAMESPACE" get pods \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.containerStatuses[*].ready}{"\n"}{end}' \
    | awk '/false/ || NF == 1 { print $1 }'); do
    log "pod $pod, not ready: its events and logs"
    kubectl_admin -n "$APP_NAMESPACE" describe pod "$pod" | sed -n '/^Events:/,$p' >&2 || true
    kubectl_admin -n "$APP_NAMESPACE" logs "$pod" --all-containers --tail 40 --prefix >&2 || true
  done
  die "$1"
}

# install: the chart with values-local.yaml (images built here, the chart's own Kafka, its
# gateway on a NodePort), then wait until the host reaches it; the last line is its URL.
install_app() {
  running kube-apiserver || die "the cluster is not up (cluster.sh up)"
  kubectl_admin -n dapr-system get deployment dapr-sidecar-injector >/dev/null 2>&1 \
    || die "Dapr's control plane is not installed (cluster.sh dapr-up)"
  local tag
  for tag in "${APP_IMAGES[@]}"; do
    docker image inspect "$tag" >/dev/null 2>&1 || die "no Docker image $tag: build it with scripts/images.sh"
  done
  load_images "${APP_IMAGES[@]}"
  if ! [[ "$APP_PORT" =~ ^[0-9]+$ ]] || ((APP_PORT < 30000 || APP_PORT > 32767)); then
    die "TODO_CLUSTER_PORT=$APP_PORT: choose a port from 30000 to 32767 (the cluster's NodePort range)"
  fi
  local owner
  owner="$(kubectl_admin get services -A -o jsonpath="{range .items[*]}{.metadata.namespace}/{.metadata.name}{' '}{.spec.ports[*].nodePort}{'\n'}{end}" \
    | awk -v port="$APP_PORT" -v mine="$APP_NAMESPACE/$APP_RELEASE-gateway" '$1 != mine { for (i = 2; i <= NF; i++) if ($i == port) print $1 }')"
  [[ -z "$owner" ]] || die "NodePort $APP_PORT is taken by $owner: set TODO_CLUSTER_PORT to another port (30000-32767)"
  local started=$SECONDS
  log "helm upgrade --install $APP_RELEASE (namespace $APP_NAMESPACE, charts/todo-app with values-local.yaml)"
  helm_admin upgrade --install "$APP_RELEASE" "$REPO/charts/todo-app" \
    --namespace "$APP_NAMESPACE" --create-namespace \
    -f "$REPO/charts/todo-app/values-local.yaml" \
    --set gateway.service.nodePort="$APP_PORT" "$@" \
    --wait --timeout "${APP_WAIT}s" >"$LOGS/helm-install.log" 2>&1 \
    || { cat "$LOGS/helm-install.log" >&2; install_failed "the install did not become ready within ${APP_WAIT} s"; }
  local url="http://127.0.0.1:$APP_PORT"
  local deadline=$((SECONDS + WAIT))
  until curl -fsS -o /dev/null --max-time 3 "$url/readyz" 2>/dev/null; do
    ((SECONDS < deadline)) || install_failed "$url/readyz does not answer from the host after $WAIT s"
    sleep 1
  done
  log "todo-app installed in $((SECONDS - started)) s"
  printf 'URL %s\n' "$url"
}

uninstall_app() {
  running kube-apiserver || die "the cluster is not up (cluster.sh up)"
  helm_admin uninstall "$APP_RELEASE" -n "$APP_NAMESPACE" --wait --timeout 3m --ignore-not-found >&2
  kubectl_admin delete namespace "$APP_NAMESPACE" --ignore-not-found --wait=true --timeout=180s >&2
}

ctr_k8s() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# load_images TAG...: hand local Docker images over to the cluster's containerd
# (`docker save | ctr images import`), skipping those it already has.
load_images() {
  local tag id stamp
  mkdir -p "$STATE/images"
  for tag in "$@"; do
    id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null)" \
      || die "no Docker image $tag: build it first (docker images $tag)"
    stamp="$STATE/images/$(tr '/:' '__' <<<"$tag")"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$id" ]] \
      && ctr_k8s images ls -q | grep -qx "docker.io/$tag\|$tag"; then
      continue
    fi
    docker save "$tag" | ctr_k8s images import --snapshotter overlayfs - >/dev/null \
      || die "importing $tag into the cluster's containerd failed"
    printf '%s\n' "$id" >"$stamp"
    log "loaded $tag ($(cut -c8-19 <<<"$id")) into the cluster's containerd"
  done
}

# --- processes ---------------------------------------------------------------------------

pid_of() {
  local pidfile="$RUN/$1.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  # The pid is ours only while it still runs the binary we started.
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q -- "$1" || return 1
  printf '%s\n' "$pid"
}

running() { pid_of "$1" >/dev/null; }

# start NAME COMMAND...: start COMMAND in the background, in a session of its own,
# logging to logs/NAME.log; does nothing when it is running already.
start() {
  local name="$1"
  shift
  if running "$name"; then
    log "$name is running (pid $(pid_of "$name"))"
    return 0
  fi
  mkdir -p "$LOGS" "$RUN"
  printf '\n==== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$LOGS/$name.log"
  ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$RUN/$name.pid"
  log "started $name (pid $!, log $LOGS/$name.log)"
}

# fail_with_log NAME MESSAGE: stop with the tail of NAME's log.
fail_with_log() {
  printf '%s: ERROR: %s; the end of %s:\n' "$LOG_PREFIX" "$2" "$LOGS/$1.log" >&2
  # This start's lines only (each start begins with a ==== line).
  awk '/^==== / { n = 0; delete line } { line[n++] = $0 } END { for (i = (n > 25 ? n - 25 : 0); i < n; i++) print line[i] }' \
    "$LOGS/$1.log" >&2 || true
  exit 1
}

# wait_until NAME WHAT COMMAND...: retry COMMAND until it succeeds; fail with NAME's
# log when NAME dies or $WAIT seconds pass.
wait_until() {
  local name="$1" what="$2" deadline=$((SECONDS + WAIT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    running "$name" || fail_with_log "$name" "$name exited before $what"
    ((SECONDS < deadline)) || fail_with_log "$name" "no $what after $WAIT s"
    sleep 1
  done
}

# alive PID: the process exists and has not exited (a zombie waiting for its
# parent to collect it counts as gone).
alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# stop NAME: SIGTERM, then SIGKILL after 20 s.
stop() {
  local name="$1" pid i
  if pid="$(pid_of "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "$name did not stop on SIGTERM, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
    log "stopped $name"
  fi
  rm -f "$RUN/$name.pid"
}

# --- network ----------------------------------------------------------------------------

network_up() {
  # A dummy interface where the kernel has them, else an empty bridge: either
  # way an address of this machine that no other machine can reach.
  if ! ip link show "$NODE_IF" >/dev/null 2>&1; then
    ip link add "$NODE_IF" type dummy 2>/dev/null || ip link add "$NODE_IF" type bridge \
      || die "cannot create the network interface $NODE_IF (ip link add $NODE_IF type dummy|bridge)"
  fi
  ip addr replace "$NODE_IP/32" dev "$NODE_IF"
  ip link set "$NODE_IF" up
  # Docker sets the FORWARD policy to DROP: let the pods' traffic through.
  local rule
  for rule in "-s $POD_CIDR" "-d $POD_CIDR"; do
    # shellcheck disable=SC2086 # rule is two words
    iptables -C FORWARD $rule -m comment --comment "$IPT_COMMENT" -j ACCEPT 2>/dev/null \
      || iptables -I FORWARD 1 $rule -m comment --comment "$IPT_COMMENT" -j ACCEPT
  done
  # A Service address kube-proxy did not translate (no such Service, or a
  # stale one) would be routed off the machine: refuse it here instead. The
  # filter chains see packets after kube-proxy's DNAT, so real Services pass.
  for rule in FORWARD OUTPUT; do
    iptables -C "$rule" -d "$SERVICE_CIDR" -m comment --comment "$IPT_COMMENT" -j REJECT 2>/dev/null \
      || iptables -I "$rule" 1 -d "$SERVICE_CIDR" -m comment --comment "$IPT_COMMENT" -j REJECT
  done
  # The pods' resolv.conf (dnsPolicy Default) and CoreDNS's upstream: the host's
  # nameservers, without loopback ones a pod cannot reach.
  local source=/etc/resolv.conf
  if grep -qE '^nameserver 127\.' /etc/resolv.conf && [[ -f /run/systemd/resolve/resolv.conf ]]; then
    source=/run/systemd/resolve/resolv.conf
  fi
  mkdir -p "$STATE"
  grep -E '^nameserver ' "$source" | grep -vE ' (127\.|::1)' >"$STATE/resolv.conf" \
    || die "no nameserver in $source that a pod could reach (loopback ones are left out)"
}

# --- certificates and kubeconfigs ---------------------------------------------------------

# cert NAME SUBJECT EXTENSIONS: a key and a certificate signed by the cluster's CA
# (or by $PKI/$CA.crt).
cert() {
  local name="$1" subject="$2" ext="$3"
  [[ -f "$PKI/$name.crt" ]] && return 0
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/${CA:-ca}.crt" -CAkey "$PKI/${CA:-ca}.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null \
    || die "openssl could not sign the certificate $name"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

client_cert() {
  cert "$1" "$2" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
}

pki() {
  mkdir -p "$PKI" && chmod 700 "$PKI"
  if [[ ! -f "$PKI/ca.crt" ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/ca.key" 2>/dev/null
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=todo-cluster-ca" -days 3650 -sha256 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "$PKI/ca.crt" 2>/dev/null || die "openssl could not make the cluster's CA"
  fi
  cert apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,IP:$API_SERVICE_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
  cert kubelet-serving "/CN=$NODE_NAME" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME"
  client_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  client_cert admin "/O=system:masters/CN=todo-cluster-admin"
  client_cert kube-controller-manager "/CN=system:kube-controller-manager"
  client_cert kube-scheduler "/CN=system:kube-scheduler"
  client_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  client_cert kube-proxy "/CN=system:kube-proxy"
  # The front proxy (aggregated APIs such as metrics-server): a CA of its own.
  if [[ ! -f "$PKI/front-proxy-ca.crt" ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/front-proxy-ca.key" 2>/dev/null
    openssl req -x509 -new -key "$PKI/front-proxy-ca.key" -subj "/CN=todo-cluster-front-proxy-ca" -days 3650 -sha256 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "$PKI/front-proxy-ca.crt" 2>/dev/null || die "openssl could not make the front proxy's CA"
  fi
  CA=front-proxy-ca client_cert front-proxy-client "/CN=front-proxy-client"
  if [[ ! -f "$PKI/sa.key" ]]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/sa.key" 2>/dev/null
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
}

# kubeconfig FILE CERT: a kubeconfig for the client certificate CERT.
kubeconfig() {
  local file="$1" user="$2"
  [[ -f "$file" ]] && return 0
  umask 077
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: todo-cluster
    cluster:
      server: https://$NODE_IP:$API_PORT
      certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
  - name: $user
    user:
      client-certificate-data: $(base64 -w0 <"$PKI/$user.crt")
      client-key-data: $(base64 -w0 <"$PKI/$user.key")
contexts:
  - name: todo-cluster
    context:
      cluster: todo-cluster
      user: $user
current-context: todo-cluster
EOF
  umask 022
}

# render TEMPLATE OUT: config/TEMPLATE with every @NAME@ replaced, into OUT.
render() {
  local value name script=()
  for name in STATE RUNC CNI_BIN_DIR SANDBOX_IMAGE COREDNS_IMAGE PROBE_IMAGE BRIDGE POD_CIDR POD_GATEWAY \
    NODE_IP NODE_NAME DNS_IP CLUSTER_DOMAIN SMOKE_ID; do
    value="${!name}"
    value="${value//\\/\\\\}"
    script+=(-e "s|@$name@|${value//|/\\|}|g")
  done
  sed "${script[@]}" "$HERE/config/$1" >"$2.new"
  # Only a real change touches the file: kube-proxy exits when its config is written.
  if cmp -s "$2.new" "$2"; then
    rm -f "$2.new"
  else
    mv -f "$2.new" "$2"
  fi
}

configs() {
  pki
  kubeconfig "$KUBECONFIG_ADMIN" admin
  local name
  for name in kube-controller-manager kube-scheduler kubelet kube-proxy; do
    kubeconfig "$STATE/$name.kubeconfig" "$name"
  done
  mkdir -p "$STATE/containerd" "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/pod-logs" "$STATE/kubelet"
  # shellcheck disable=SC2034 # read by render()
  RUNC="$(command -v runc)"
  render containerd.toml "$STATE/containerd/config.toml"
  render cni.conflist "$STATE/cni/net.d/10-todo-cluster.conflist"
  render kubelet.yaml "$STATE/kubelet.yaml"
  render kube-proxy.yaml "$STATE/kube-proxy.yaml"
}

# --- components ---------------------------------------------------------------------------

kubectl_admin() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" --cache-dir "$STATE/kubectl-cache" "$@"; }

port_free() {
  ! (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null
}

# check_port NAME ADDR:PORT: the port is free when NAME is not running.
check_port() {
  running "$1" && return 0
  port_free "$2" || die "$2 is in use (needed by $1): ss -ltnp | grep ${2##*:}"
}

start_containerd() {
  start containerd containerd --config "$STATE/containerd/config.toml" --log-level warn
  wait_until containerd "its socket" ctr --address "$CONTAINERD_SOCK" version
  load_images "$SANDBOX_IMAGE" "$COREDNS_IMAGE" "$PROBE_IMAGE"
}

start_etcd() {
  check_port etcd "$ETCD_CLIENT"
  check_port etcd "$ETCD_PEER"
  start etcd "$ETCD_BIN" --name "$NODE_NAME" --data-dir "$STATE/etcd" \
    --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
    --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
    --initial-cluster "$NODE_NAME=http://$ETCD_PEER" --log-level warn
  wait_until etcd "health" curl -fsS "http://$ETCD_CLIENT/health"
}

start_apiserver() {
  check_port kube-apiserver "$NODE_IP:$API_PORT"
  start kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --etcd-servers "http://$ETCD_CLIENT" \
    --advertise-address "$NODE_IP" --bind-address "$NODE_IP" --secure-port "$API_PORT" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false --v=1
  wait_until kube-apiserver "/readyz" kubectl_admin get --raw /readyz
}

start_controllers() {
  local common=(--bind-address 127.0.0.1 --leader-elect=false --profiling=false --v=1)
  check_port kube-controller-manager 127.0.0.1:10257
  check_port kube-scheduler 127.0.0.1:10259
  start kube-controller-manager "$KUBE_BIN/kube-controller-manager" "${common[@]}" \
    --kubeconfig "$STATE/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/kube-controller-manager.kubeconfig" \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --use-service-account-credentials=true --service-cluster-ip-range "$SERVICE_CIDR" \
    --allocate-node-cidrs=false --flex-volume-plugin-dir "$STATE/volume-plugins"
  start kube-scheduler "$KUBE_BIN/kube-scheduler" "${common[@]}" \
    --kubeconfig "$STATE/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/kube-scheduler.kubeconfig"
  wait_until kube-controller-manager "/healthz" curl -fsSk https://127.0.0.1:10257/healthz
  wait_until kube-scheduler "/healthz" curl -fsSk https://127.0.0.1:10259/healthz
}

start_node() {
  check_port kubelet "$NODE_IP:10250"
  check_port kubelet 127.0.0.1:10248
  check_port kube-proxy 127.0.0.1:10256
  start kubelet "$KUBE_BIN/kubelet" --config "$STATE/kubelet.yaml" \
    --kubeconfig "$STATE/kubelet.kubeconfig" --root-dir "$STATE/kubelet" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v=1
  start kube-proxy "$KUBE_BIN/kube-proxy" --config "$STATE/kube-proxy.yaml" --v=1
  wait_until kubelet "/healthz" curl -fsS http://127.0.0.1:10248/healthz
  wait_until kube-proxy "/healthz" curl -fsS http://127.0.0.1:10256/healthz
  wait_until kubelet "a Ready node" kubectl_admin wait "node/$NODE_NAME" --for condition=Ready --timeout 5s
}

start_dns() {
  local manifest="$STATE/coredns.yaml"
  render coredns.yaml "$manifest"
  kubectl_admin apply -f "$manifest" >/dev/null || die "kubectl apply -f $manifest failed"
  if ! kubectl_admin -n kube-system rollout status deployment/coredns --timeout "${WAIT}s" >/dev/null; then
    kubectl_admin -n kube-system get pods -o wide >&2 || true
    kubectl_admin -n kube-system logs deployment/coredns --tail 20 >&2 || true
    fail_with_log kubelet "CoreDNS is not ready"
  fi
}

smoke() {
  local manifest="$STATE/smoke.yaml" phase="" deadline=$((SECONDS + WAIT)) started=$SECONDS ns
  # A namespace of its own each run: no DNS cache or connection can point at an
  # earlier run's Service.
  # shellcheck disable=SC2034 # read by render()
  SMOKE_ID="$(date +%s)"
  ns="cluster-smoke-$SMOKE_ID"
  render smoke.yaml "$manifest"
  kubectl_admin apply -f "$manifest" >/dev/null || die "kubectl apply -f $manifest failed"
  kubectl_admin -n "$ns" wait pod/server --for condition=Ready --timeout "${WAIT}s" >/dev/null \
    || { kubectl_admin -n "$ns" describe pod server >&2; die "the smoke server pod is not Running and ready"; }
  until [[ "$phase" == Succeeded || "$phase" == Failed ]]; do
    ((SECONDS < deadline)) || break
    sleep 1
    phase="$(kubectl_admin -n "$ns" get pod check -o jsonpath='{.status.phase}' 2>/dev/null || true)"
  done
  kubectl_admin -n "$ns" logs check 2>/dev/null | sed 's/^/    /' >&2 || true
  if [[ "$phase" != Succeeded ]]; then
    kubectl_admin -n "$ns" describe pod check >&2 || true
    die "smoke check failed (pod phase: ${phase:-none}; kubectl -n $ns get all): DNS or Service routing inside the cluster does not work"
  fi
  kubectl_admin delete namespace "$ns" --wait=false >/dev/null
  log "smoke check passed in $((SECONDS - started)) s: a pod Running, cluster DNS and a Service answer from inside"
}

up() {
  local started=$SECONDS
  prerequisites
  build_all
  build_images
  network_up
  configs
  start_containerd
  start_etcd
  start_apiserver
  start_controllers
  start_node
  log "node $NODE_NAME Ready $((SECONDS - started)) s after start"
  start_dns
  log "CoreDNS ready"
  smoke
  log "cluster up in $((SECONDS - started)) s; KUBECONFIG=$KUBECONFIG_ADMIN (kubectl: $KUBE_BIN/kubectl)"
}

# --- teardown ------------------------------------------------------------------------------

# Every pod sandbox goes through the CNI plugins' DEL (veth, IP, portmap rules).
remove_pods() {
  [[ -S "$CONTAINERD_SOCK" ]] && running containerd || return 0
  local crictl=(env CONTAINER_RUNTIME_ENDPOINT="unix://$CONTAINERD_SOCK" IMAGE_SERVICE_ENDPOINT="unix://$CONTAINERD_SOCK")
  if [[ -x "$CRICTL_BIN" ]]; then
    "${crictl[@]}" "$CRICTL_BIN" --timeout 60s rmp --all --force >/dev/null 2>&1 \
      || log "crictl rmp --all --force failed; removing what is left by hand"
  fi
  # Whatever crictl could not remove: kill its processes, then drop the containers.
  local id
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
    ctr_k8s tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true
  done
  sleep 1
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
    ctr_k8s tasks delete --force "$id" >/dev/null 2>&1 || true
  done
}

# The network namespaces of our pods that containerd did not get to remove.
remove_netns() {
  local ns
  [[ -d "$STATE/containerd" ]] || return 0
  while read -r ns; do
    [[ -e "$ns" ]] || continue
    umount "$ns" 2>/dev/null || true
    rm -f "$ns"
  done < <(grep -rhaoE '/var/run/netns/cni-[0-9a-f-]+' "$STATE/containerd/root/io.containerd.metadata.v1.bolt" 2>/dev/null | sort -u)
}

unmount_state() {
  local target
  while read -r target; do
    umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || log "could not unmount $target"
  done < <(findmnt -rn -o TARGET | awk -v dir="$STATE/" 'index($0, dir) == 1' | sort -r)
}

# iptables_sweep IPTABLES: the rules and chains of kube-proxy, the kubelet and the
# CNI plugins, and ours; Docker's are left alone.
iptables_sweep() {
  local ipt="$1" table line chain
  command -v "$ipt" >/dev/null || return 0
  for table in filter nat mangle; do
    "$ipt" -t "$table" -S >/dev/null 2>&1 || continue
    # Rules of the built-in (and other) chains that lead to ours, or are about our networks.
    while IFS= read -r line; do
      eval "\"\$ipt\" -w -t \"\$table\" -D ${line#-A }" 2>/dev/null || true
    done < <("$ipt" -t "$table" -S | grep -E '^-A ' | grep -vE '^-A (KUBE-|CNI-)' \
      | grep -E -- "-j (KUBE-|CNI-)|-g (KUBE-|CNI-)|$IPT_COMMENT|${POD_CIDR//./\\.}| $BRIDGE( |$)" || true)
    for chain in $("$ipt" -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ { print $2 }'); do
      "$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $("$ipt" -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ { print $2 }'); do
      "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

# What the kubelet and the CNI library keep at fixed host paths: the kubelet's
# /var/log/containers links into our pod logs, its device-plugin socket (only
# where no other kubelet keeps state in /var/lib/kubelet), and the CNI result
# cache, containerd's /run/netns; directories only when nothing else is left in them.
remove_host_leftovers() {
  local link
  for link in /var/log/containers/*.log; do
    [[ -L "$link" && "$(readlink "$link")" == "$STATE/"* ]] && rm -f "$link"
  done
  rmdir /var/log/containers 2>/dev/null || true
  if [[ "$(ls -A /var/lib/kubelet 2>/dev/null)" == device-plugins ]]; then
    rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint
    rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null || true
  fi
  rmdir /var/lib/cni/results /var/lib/cni /run/netns 2>/dev/null || true
}

remove_cgroups() {
  local hierarchy dir
  for hierarchy in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    dir="$hierarchy/kubepods"
    [[ -d "$dir" ]] || continue
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

down() {
  need_root
  local i
  # The kubelet first, so nothing restarts what is being removed.
  stop kubelet
  remove_pods
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop "${COMPONENTS[i]}"
  done
  remove_netns
  unmount_state
  if [[ -x "$KUBE_BIN/kube-proxy" ]]; then
    "$KUBE_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  iptables_sweep iptables
  iptables_sweep ip6tables
  local link
  for link in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
    ip link delete "$link" 2>/dev/null || true
  done
  for link in "$BRIDGE" "$NODE_IF"; do
    ip link delete "$link" 2>/dev/null || true
  done
  remove_cgroups
  remove_host_leftovers
  if findmnt -rn -o TARGET | awk -v dir="$STATE/" 'index($0, dir) == 1' | grep -q .; then
    die "mounts are left under $STATE (findmnt | grep $STATE); not removing it"
  fi
  # Everything but the logs.
  if [[ -d "$STATE" ]]; then
    find "$STATE" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
  fi
  log "cluster down (logs kept in $LOGS)"
}

rss_kib() { awk '/^VmRSS/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# The containerd shims of the cluster's containerd (they name its socket).
shim_pids() {
  local cmdline
  for cmdline in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' 2>/dev/null <"$cmdline" | grep -q "containerd-shim[^ ]* .*-address $CONTAINERD_SOCK " \
      && basename "$(dirname "$cmdline")"
  done
  return 0
}

status() {
  local name pid kib total=0 shims=0 pods=0
  for name in "${COMPONENTS[@]}"; do
    if pid="$(pid_of "$name")"; then
      kib="$(rss_kib "$pid")"
      total=$((total + kib))
      printf '%-24s running  pid %-7s rss %4d MiB\n' "$name" "$pid" "$((kib / 1024))"
    else
      printf '%-24s stopped\n' "$name"
    fi
  done
  for pid in $(shim_pids); do shims=$((shims + $(rss_kib "$pid"))); done
  if [[ -f /sys/fs/cgroup/memory/kubepods/memory.stat ]]; then
    pods=$(($(awk '$1 == "total_rss" { print $2 }' /sys/fs/cgroup/memory/kubepods/memory.stat) / 1024))
  fi
  printf 'memory: components %d MiB, containerd shims %d MiB, pods %d MiB (rss); total %d MiB\n' \
    "$((total / 1024))" "$((shims / 1024))" "$((pods / 1024))" "$(((total + shims + pods) / 1024))"
  if running kube-apiserver; then
    kubectl_admin get nodes -o wide || true
    kubectl_admin get pods -A -o wide || true
  fi
}

main() {
  case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    kubeconfig) printf '%s\n' "$KUBECONFIG_ADMIN" ;;
    kubectl-path) printf '%s\n' "$KUBE_BIN/kubectl" ;;
    build) build_all && build_images ;;
    dapr-images) dapr_images ;;
    dapr-up) dapr_up ;;
    install) shift && install_app "$@" ;;
    uninstall) uninstall_app ;;
    app-images) printf '%s\n' "${APP_IMAGES[@]}" ;;
    load)
      shift
      (($#)) || die "usage: cluster.sh load TAG..."
      running containerd || die "the cluster is not up (cluster.sh up)"
      load_images "$@"
      ;;
    smoke) smoke ;;
    kubectl) shift && kubectl_admin "$@" ;;
    crictl)
      shift
      CONTAINER_RUNTIME_ENDPOINT="unix://$CONTAINERD_SOCK" IMAGE_SERVICE_ENDPOINT="unix://$CONTAINERD_SOCK" \
        exec "$CRICTL_BIN" "$@"
      ;;
    -h | --help | help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" ;;
    *) die "unknown command: ${1:-} (use up, down, status, kubeconfig, kubectl-path, load, smoke, build, dapr-images, dapr-up, install, uninstall, app-images, kubectl or crictl)" ;;
  esac
}

main "$@"
