#!/usr/bin/env bash
# todo-app on Minikube, end to end: the cluster, Dapr, Strimzi and Kafka with
# the contract's topics, the image built inside Minikube, the Helm release
# (with its bundled PostgreSQL and Redis), `helm test`, and the URL.
# Every step is idempotent: run it again after a change to redeploy.
#
#   scripts/minikube-up.sh            bring everything up (or update it)
#   scripts/minikube-up.sh --with-observability
#                                     also the observability stack in namespace monitoring:
#                                     kube-prometheus-stack (Prometheus, Alertmanager, Grafana),
#                                     Loki with Grafana Alloy, Tempo, the OpenTelemetry Collector
#                                     (their own charts, our values in charts/observability/values/),
#                                     and charts/observability (collector pipeline, scrape
#                                     configs, alerts, dashboards); the services send traces to it
#   scripts/minikube-up.sh down       uninstall the release (keeps the cluster, Dapr and Kafka;
#                                     with --with-observability also the observability releases)
#   scripts/minikube-up.sh delete     delete the whole Minikube profile
#   scripts/minikube-up.sh status     what is running
#
# Environment:
#   MINIKUBE_PROFILE     profile name (todo-app)
#   MINIKUBE_CPUS        CPUs for a new cluster (4)
#   MINIKUBE_MEMORY      memory for a new cluster, MiB (8192; 12288 with --with-observability)
#   MINIKUBE_CNI         CNI for a new cluster; calico enforces NetworkPolicies (calico)
#   KUBERNETES_VERSION   Kubernetes version for a new cluster (minikube's default)
#   NAMESPACE            the app's namespace (todo)
#   RELEASE              Helm release name (todo-app)
#   IMAGE_TAG            tag of the image built into Minikube (dev)
#   DAPR_VERSION         Dapr Helm chart version (1.17.0)
#   STRIMZI_VERSION      Strimzi operator Helm chart version (1.2.0)
#   HELM_EXTRA_ARGS      more arguments for `helm upgrade --install` (e.g. "-f my-values.yaml")
#   WAIT_TIMEOUT         how long to wait for each part to be ready (10m)
#   WITH_OBSERVABILITY   1: same as --with-observability
#   OBSERVABILITY_NAMESPACE  namespace of the observability stack (monitoring)
#   KUBE_PROMETHEUS_STACK_VERSION, LOKI_VERSION, ALLOY_VERSION, TEMPO_VERSION,
#   OTEL_COLLECTOR_CHART_VERSION
#                        versions of the community charts (default: the ones
#                        charts/observability/Chart.yaml names in its annotations)
#
# Needs minikube, kubectl and helm on PATH (helm also comes from scripts/tools.sh).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"

PROFILE="${MINIKUBE_PROFILE:-todo-app}"
CPUS="${MINIKUBE_CPUS:-4}"
WITH_OBSERVABILITY="${WITH_OBSERVABILITY:-0}"
CNI="${MINIKUBE_CNI:-calico}"
NAMESPACE="${NAMESPACE:-todo}"
RELEASE="${RELEASE:-todo-app}"
IMAGE_REPOSITORY="todo-app"
IMAGE_TAG="${IMAGE_TAG:-dev}"
DAPR_VERSION="${DAPR_VERSION:-1.17.0}"
STRIMZI_VERSION="${STRIMZI_VERSION:-1.2.0}"
WAIT_TIMEOUT="${WAIT_TIMEOUT:-10m}"
CHART="$REPO/charts/todo-app"
OBS_CHART="$REPO/charts/observability"
OBS_VALUES="$OBS_CHART/values"
OBS_NAMESPACE="${OBSERVABILITY_NAMESPACE:-monitoring}"

log() { printf '\n==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() { printf '\nminikube-up: ERROR: %s\n' "$*" >&2; exit 1; }

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

# --- prerequisites ------------------------------------------------------------------

need() {
  local missing=() tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    printf '\nminikube-up: missing: %s\n' "${missing[*]}" >&2
    for tool in "${missing[@]}"; do
      case "$tool" in
        minikube) note "minikube: https://minikube.sigs.k8s.io/docs/start/ (a container or VM driver: Docker, Podman, KVM, HyperKit, Hyper-V)" ;;
        kubectl) note "kubectl: https://kubernetes.io/docs/tasks/tools/ (or use 'minikube kubectl --')" ;;
        helm) note "helm: scripts/tools.sh builds it (then: export PATH=\"\$(scripts/tools.sh):\$PATH\")" ;;
      esac
    done
    exit 1
  fi
}

find_helm() {
  if ! command -v helm >/dev/null 2>&1; then
    local bin
    bin="$("$SCRIPT_DIR/tools.sh" --print)"
    if [[ -x "$bin/helm" ]]; then
      PATH="$bin:$PATH"
    fi
  fi
}

kube() { kubectl --context "$PROFILE" "$@"; }

# The version of a community chart that charts/observability/Chart.yaml names
# (annotation todo-app/<name>-version).
obs_chart_version() {
  awk -v key="todo-app/$1-version:" '$1 == key { gsub(/"/, "", $2); print $2; exit }' "$OBS_CHART/Chart.yaml"
}

# --- steps --------------------------------------------------------------------------

start_cluster() {
  log "Minikube profile '$PROFILE'"
  if minikube -p "$PROFILE" status --format '{{.APIServer}}' 2>/dev/null | grep -qx Running; then
    note "already running"
  else
    local args=(start -p "$PROFILE" --cpus "$CPUS" --memory "$MEMORY" --cni "$CNI")
    [[ -z "${KUBERNETES_VERSION:-}" ]] || args+=(--kubernetes-version "$KUBERNETES_VERSION")
    minikube "${args[@]}" || die "minikube start failed: see its message above (not enough memory for $MEMORY MiB? set MINIKUBE_MEMORY)"
  fi
  # The ingress controller (for the URL) and metrics-server (for the HPA).
  minikube -p "$PROFILE" addons enable ingress >/dev/null
  minikube -p "$PROFILE" addons enable metrics-server >/dev/null
  kube -n ingress-nginx rollout status deployment/ingress-nginx-controller --timeout "$WAIT_TIMEOUT" >/dev/null \
    || die "the ingress controller did not become ready (kubectl -n ingress-nginx get pods)"
}

helm_repos() {
  helm repo add dapr https://dapr.github.io/helm-charts --force-update >/dev/null
  helm repo add strimzi https://strimzi.io/charts/ --force-update >/dev/null
  local repos=(dapr strimzi)
  if [[ "$WITH_OBSERVABILITY" == 1 ]]; then
    helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
    helm repo add grafana https://grafana.github.io/helm-charts --force-update >/dev/null
    helm repo add open-telemetry https://open-telemetry.github.io/opentelemetry-helm-charts --force-update >/dev/null
    repos+=(prometheus-community grafana open-telemetry)
  fi
  helm repo update "${repos[@]}" >/dev/null
}

install_dapr() {
  log "Dapr $DAPR_VERSION (control plane in dapr-system)"
  helm --kube-context "$PROFILE" upgrade --install dapr dapr/dapr \
    --version "$DAPR_VERSION" --namespace dapr-system --create-namespace \
    --set global.ha.enabled=false --wait --timeout "$WAIT_TIMEOUT" >/dev/null \
    || die "installing Dapr failed (kubectl -n dapr-system get pods; docs/runbook.md)"
  note "$(kube -n dapr-system get pods --no-headers | awk '{print $1, $3}' | tr '\n' ' ')"
}

install_kafka() {
  log "Strimzi $STRIMZI_VERSION and Kafka (KRaft) in namespace kafka"
  kube apply -f "$REPO/k8s/kafka/namespace.yaml" >/dev/null
  helm --kube-context "$PROFILE" upgrade --install strimzi strimzi/strimzi-kafka-operator \
    --version "$STRIMZI_VERSION" --namespace kafka \
    --wait --timeout "$WAIT_TIMEOUT" >/dev/null \
    || die "installing the Strimzi operator failed (kubectl -n kafka get pods)"
  kube apply -f "$REPO/k8s/kafka/kafka-nodepool.yaml" -f "$REPO/k8s/kafka/kafka-cluster.yaml" >/dev/null
  note "waiting for the Kafka cluster (the first start pulls images; a few minutes)"
  kube -n kafka wait kafka/todo-kafka --for=condition=Ready --timeout "$WAIT_TIMEOUT" >/dev/null \
    || die "Kafka is not ready (kubectl -n kafka get kafka,kafkanodepool,pods; docs/runbook.md)"
  kube apply -f "$REPO/k8s/kafka/kafka-topics.yaml" >/dev/null
  kube -n kafka wait kafkatopic --all --for=condition=Ready --timeout "$WAIT_TIMEOUT" >/dev/null \
    || die "the topics are not ready (kubectl -n kafka get kafkatopics)"
  note "topics: $(kube -n kafka get kafkatopics --no-headers -o custom-columns=N:.metadata.name | tr '\n' ' ')"
}

# One community chart of the observability stack, with our Minikube values.
install_upstream() {
  local release="$1" chart="$2" version="$3" values="$4"
  note "$release: $chart $version"
  helm --kube-context "$PROFILE" upgrade --install "$release" "$chart" \
    --version "$version" --namespace "$OBS_NAMESPACE" --create-namespace \
    -f "$OBS_VALUES/$values" --wait --timeout "$WAIT_TIMEOUT" >/dev/null \
    || die "installing $release failed (kubectl -n $OBS_NAMESPACE get pods; helm -n $OBS_NAMESPACE status $release)"
}

install_observability() {
  log "Observability stack in namespace $OBS_NAMESPACE"
  # The Prometheus operator first: its CRDs (ServiceMonitor, PodMonitor,
  # PrometheusRule) are what charts/observability renders.
  install_upstream kube-prometheus-stack prometheus-community/kube-prometheus-stack \
    "${KUBE_PROMETHEUS_STACK_VERSION:-$(obs_chart_version kube-prometheus-stack)}" kube-prometheus-stack.minikube.yaml
  install_upstream loki grafana/loki "${LOKI_VERSION:-$(obs_chart_version loki)}" loki.minikube.yaml
  install_upstream alloy grafana/alloy "${ALLOY_VERSION:-$(obs_chart_version alloy)}" alloy.minikube.yaml
  install_upstream tempo grafana/tempo "${TEMPO_VERSION:-$(obs_chart_version tempo)}" tempo.minikube.yaml
  # Ours before the collector: the collector mounts its pipeline ConfigMap.
  note "todo-app-observability: charts/observability (pipeline, scrape configs, alerts, dashboards)"
  helm --kube-context "$PROFILE" upgrade --install todo-app-observability "$OBS_CHART" \
    --namespace "$OBS_NAMESPACE" --set app.namespace="$NAMESPACE" --set app.release="$RELEASE" \
    --wait --timeout "$WAIT_TIMEOUT" >/dev/null \
    || die "installing charts/observability failed (helm -n $OBS_NAMESPACE status todo-app-observability)"
  install_upstream otel-collector open-telemetry/opentelemetry-collector \
    "${OTEL_COLLECTOR_CHART_VERSION:-$(obs_chart_version opentelemetry-collector)}" opentelemetry-collector.minikube.yaml
}

build_image() {
  log "Building the image $IMAGE_REPOSITORY:$IMAGE_TAG inside Minikube"
  # Built by Minikube's own container runtime: no local Docker engine needed.
  minikube -p "$PROFILE" image build -t "$IMAGE_REPOSITORY:$IMAGE_TAG" "$REPO" \
    || die "the image build failed (see above)"
}

deploy() {
  log "helm upgrade --install $RELEASE (namespace $NAMESPACE)"
  # PostgreSQL and Redis come with the chart (postgresql.enabled, redis.enabled in values.yaml).
  local extra=()
  if [[ "$WITH_OBSERVABILITY" == 1 ]]; then
    # Traces of the services (OTLP/HTTP) and of their sidecars (OTLP/gRPC) to the collector.
    extra+=(--set "observability.otlpEndpoint=http://otel-collector.$OBS_NAMESPACE.svc:4318"
      --set "observability.collectorNamespace=$OBS_NAMESPACE"
      --set "dapr.tracing.otlpEndpoint=otel-collector.$OBS_NAMESPACE.svc:4317")
  fi
  if [[ -n "${HELM_EXTRA_ARGS:-}" ]]; then
    local more=()
    read -r -a more <<<"$HELM_EXTRA_ARGS"
    extra+=("${more[@]}")
  fi
  helm --kube-context "$PROFILE" upgrade --install "$RELEASE" "$CHART" \
    --namespace "$NAMESPACE" --create-namespace \
    --set image.repository="$IMAGE_REPOSITORY" --set image.tag="$IMAGE_TAG" \
    --set image.pullPolicy=Never \
    "${extra[@]}" \
    --wait --timeout "$WAIT_TIMEOUT" \
    || die "the release did not become ready (kubectl -n $NAMESPACE get pods; docs/runbook.md)"
  # A new image under the same tag: restart so the pods run it.
  kube -n "$NAMESPACE" rollout restart deployment -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/name=todo-app" >/dev/null
  kube -n "$NAMESPACE" rollout status deployment -l "app.kubernetes.io/instance=$RELEASE,app.kubernetes.io/name=todo-app" --timeout "$WAIT_TIMEOUT" >/dev/null \
    || die "the services did not become ready after the restart (kubectl -n $NAMESPACE get pods)"
}

run_tests() {
  log "helm test $RELEASE"
  helm --kube-context "$PROFILE" test "$RELEASE" --namespace "$NAMESPACE" --logs --timeout 5m \
    || die "helm test failed: a service's /readyz did not answer 200 (docs/runbook.md)"
}

print_url() {
  local host ip
  host="$(kube -n "$NAMESPACE" get ingress "$RELEASE" -o jsonpath='{.spec.rules[0].host}' 2>/dev/null || true)"
  host="${host:-todo.local}"
  ip="$(minikube -p "$PROFILE" ip)"
  log "todo-app is up"
  note "URL:   http://$host/"
  note "       add this line to /etc/hosts:  $ip $host"
  note "       (Docker driver on macOS/Windows: run 'minikube -p $PROFILE tunnel' and use 127.0.0.1 instead)"
  note "try:   curl -H 'Host: $host' http://$ip/readyz"
  note "API:   http://$host/docs   Kafka UI: kubectl apply -f k8s/kafka/kafka-ui.yaml"
  if [[ "$WITH_OBSERVABILITY" == 1 ]]; then
    note "Grafana: kubectl --context $PROFILE -n $OBS_NAMESPACE port-forward svc/kube-prometheus-stack-grafana 3000:80"
    note "         http://127.0.0.1:3000 (admin / todo-app): folder todo-app; Explore for Loki logs and Tempo traces"
    note "Prometheus: kubectl --context $PROFILE -n $OBS_NAMESPACE port-forward svc/kube-prometheus-stack-prometheus 9090"
  fi
}

up() {
  need minikube kubectl
  find_helm
  need helm
  start_cluster
  helm_repos
  install_dapr
  install_kafka
  [[ "$WITH_OBSERVABILITY" != 1 ]] || install_observability
  build_image
  deploy
  run_tests
  print_url
}

down() {
  need minikube kubectl
  find_helm
  need helm
  log "Uninstalling $RELEASE from $NAMESPACE (the cluster, Dapr and Kafka stay)"
  if helm --kube-context "$PROFILE" status "$RELEASE" -n "$NAMESPACE" >/dev/null 2>&1; then
    helm --kube-context "$PROFILE" uninstall "$RELEASE" -n "$NAMESPACE" --wait
  else
    note "no release $RELEASE in $NAMESPACE"
  fi
  note "kept: the JWT key and database Secrets (helm hooks); 'kubectl delete namespace $NAMESPACE' removes them"
  if [[ "$WITH_OBSERVABILITY" == 1 ]]; then
    local release
    for release in otel-collector todo-app-observability tempo alloy loki kube-prometheus-stack; do
      if helm --kube-context "$PROFILE" status "$release" -n "$OBS_NAMESPACE" >/dev/null 2>&1; then
        helm --kube-context "$PROFILE" uninstall "$release" -n "$OBS_NAMESPACE" --wait
      fi
    done
    note "kept: the Prometheus operator's CRDs (kubectl get crd | grep monitoring.coreos.com)"
  fi
}

status() {
  need minikube kubectl
  minikube -p "$PROFILE" status || true
  kube get pods -n dapr-system 2>/dev/null || true
  kube get kafka,kafkatopics -n kafka 2>/dev/null || true
  kube get pods,svc,ingress -n "$NAMESPACE" 2>/dev/null || true
  kube get pods -n "$OBS_NAMESPACE" 2>/dev/null || true
}

main() {
  local args=() arg
  for arg in "$@"; do
    case "$arg" in
      --with-observability) WITH_OBSERVABILITY=1 ;;
      *) args+=("$arg") ;;
    esac
  done
  set -- "${args[@]}"
  if [[ "$WITH_OBSERVABILITY" == 1 ]]; then
    MEMORY="${MINIKUBE_MEMORY:-12288}"
  else
    MEMORY="${MINIKUBE_MEMORY:-8192}"
  fi
  case "${1:-up}" in
    up) up ;;
    down) down ;;
    delete) need minikube; minikube delete -p "$PROFILE" ;;
    status) status ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
