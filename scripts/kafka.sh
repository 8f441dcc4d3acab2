#!/usr/bin/env bash
# Single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for the
# test suite and the local benchmarks. The broker is Apache Kafka's own jars from
# Maven Central, resolved through scripts/kafka/pom.xml and cached outside the
# repository, so a second start downloads nothing.
#
#   scripts/kafka.sh start     fetch jars if needed, format storage once, start, create topics
#   scripts/kafka.sh stop      SIGTERM, wait, SIGKILL after KAFKA_STOP_TIMEOUT seconds
#   scripts/kafka.sh kill      SIGKILL at once (simulates a broker crash)
#   scripts/kafka.sh status    exit 0 when running and listening, 3 otherwise
#   scripts/kafka.sh pid       print the broker pid (exit 1 when not running)
#   scripts/kafka.sh topics    create the application topics that are missing
#   scripts/kafka.sh classpath print the classpath of the cached jars
#   scripts/kafka.sh stage DIR  copy the jars, the compiled admin helper and the topic list
#       (NAME:PARTITIONS a line) into DIR: what the broker image is built from
#   scripts/kafka.sh run CLASS [ARGS...]   run a Kafka tool class, e.g.
#       scripts/kafka.sh run org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:59092 --list
#
# Environment:
#   TODO_TEST_STATE             state dir shared with test-services.sh (/tmp/todo-test-services)
#   TEST_KAFKA_PORT             client listener port (59092)
#   TEST_KAFKA_CONTROLLER_PORT  KRaft controller port (59093)
#   KAFKA_VERSION               Apache Kafka version (4.4.0)
#   KAFKA_HOME_CACHE            jar cache ($HOME/.cache/todo-app/kafka-$KAFKA_VERSION)
#   KAFKA_MAVEN_REPO            Maven local repository to resolve into (Maven's default)
#   KAFKA_HEAP_OPTS             broker heap (-Xms256m -Xmx512m)
#   KAFKA_START_TIMEOUT         seconds to wait for the broker (120)
#   KAFKA_STOP_TIMEOUT          seconds to wait after SIGTERM before SIGKILL (30)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
STATE_DIR="${TODO_TEST_STATE:-/tmp/todo-test-services}"
KAFKA_STATE="$STATE_DIR/kafka"
KAFKA_DATA="$KAFKA_STATE/data"
KAFKA_LOGS="$KAFKA_STATE/logs"
PID_FILE="$KAFKA_STATE/kafka.pid"
PORT="${TEST_KAFKA_PORT:-59092}"
CONTROLLER_PORT="${TEST_KAFKA_CONTROLLER_PORT:-59093}"
HOST=127.0.0.1
BOOTSTRAP="$HOST:$PORT"
CACHE="${KAFKA_HOME_CACHE:-${HOME:-/root}/.cache/todo-app/kafka-$KAFKA_VERSION}"
LIBS="$CACHE/libs"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

# name:partitions, all with replication factor 1.
TOPICS=(
  task-events:6
  reminder-events:3
  notification-events:3
  chat-events:3
  audit-events:3
  dlq-events:1
)

log() { printf 'kafka: %s\n' "$*" >&2; }
die() { printf 'kafka: ERROR: %s\n' "$*" >&2; exit 1; }

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    printf '%s\n' "$JAVA_HOME/bin/java"
  else
    command -v java || die "java not found (Kafka $KAFKA_VERSION needs Java 17 or newer)"
  fi
}

javac_bin() {
  local j
  j="$(readlink -f "$(java_bin)")"
  if [[ -x "$(dirname "$j")/javac" ]]; then
    printf '%s\n' "$(dirname "$j")/javac"
  else
    command -v javac || die "javac not found (a JDK is needed, not only a JRE)"
  fi
}

log_tail() {
  local f
  for f in "$KAFKA_LOGS/kafka.out" "$KAFKA_LOGS/server.log"; do
    if [[ -s "$f" ]]; then
      printf -- '--- last lines of %s ---\n' "$f" >&2
      tail -n 40 "$f" >&2
    fi
  done
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# --- jars -------------------------------------------------------------------

cache_key() {
  { printf '%s\n' "$KAFKA_VERSION"; cat "$POM"; } | sha256sum | cut -d' ' -f1
}

ensure_jars() {
  local key
  key="$(cache_key)"
  if [[ -f "$CACHE/.complete" && "$(cat "$CACHE/.complete")" == "$key" ]] \
      && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch the Kafka jars)"
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $CACHE"
  mkdir -p "$CACHE"
  local tmp="$CACHE/libs.tmp.$$" mvn_log="$CACHE/mvn.log"
  rm -rf "$tmp"
  local -a repo_opt=()
  [[ -n "${KAFKA_MAVEN_REPO:-}" ]] && repo_opt=("-Dmaven.repo.local=$KAFKA_MAVEN_REPO")
  if ! mvn -B -q -f "$POM" "${repo_opt[@]}" \
      "-Dkafka.version=$KAFKA_VERSION" \
      dependency:copy-dependencies \
      "-DoutputDirectory=$tmp" -DincludeScope=runtime >"$mvn_log" 2>&1; then
    tail -n 40 "$mvn_log" >&2
    rm -rf "$tmp"
    die "mvn could not resolve Kafka $KAFKA_VERSION (full output: $mvn_log)"
  fi
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "no kafka_2.13 jar after mvn (see $mvn_log)"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  rm -rf "$CACHE/helper"
  printf '%s\n' "$key" >"$CACHE/.complete"
  log "cached $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1))"
}

# --- admin helper (one JVM: wait for the broker, then create topics) ----------

helper_source() {
  cat <<'JAVA'
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;

/** wait | ensure NAME:PARTITIONS... | list, against one bootstrap server. */
public class TodoKafkaAdmin {
  public static void main(String[] args) throws Exception {
    String cmd = args[0];
    String bootstrap = args[1];
    long deadline = System.currentTimeMillis() + Long.parseLong(args[2]) * 1000L;
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
    props.put(AdminClientConfig.CLIENT_ID_CONFIG, "todo-test-admin");
    try (Admin admin = Admin.create(props)) {
      Set<String> existing;
      while (true) {
        try {
          admin.describeCluster().nodes().get(5, TimeUnit.SECONDS);
          existing = admin.listTopics().names().get(5, TimeUnit.SECONDS);
          break;
        } catch (Exception e) {
          if (System.currentTimeMillis() > deadline) {
            System.err.println("kafka: broker at " + bootstrap + " not ready: " + e);
            System.exit(2);
          }
          Thread.sleep(250);
        }
      }
      if (cmd.equals("wait")) return;
      if (cmd.equals("list")) {
        List<String> names = new ArrayList<>(existing);
        Collections.sort(names);
        if (!names.isEmpty()) {
          Map<String, TopicDescription> d = admin.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS);
          for (String n : names) System.out.println(n + "\t" + d.get(n).partitions().size());
        }
        return;
      }
      // ensure
      Map<String, Integer> wanted = new LinkedHashMap<>();
      for (int i = 3; i < args.length; i++) {
        String[] p = args[i].split(":");
        wanted.put(p[0], Integer.parseInt(p[1]));
      }
      List<NewTopic> create = new ArrayList<>();
      for (Map.Entry<String, Integer> w : wanted.entrySet()) {
        if (!existing.contains(w.getKey())) create.add(new NewTopic(w.getKey(), w.getValue(), (short) 1));
      }
      if (!create.isEmpty()) {
        CreateTopicsResult r = admin.createTopics(create);
        for (Map.Entry<String, org.apache.kafka.common.KafkaFuture<Void>> f : r.values().entrySet()) {
          try {
            f.getValue().get(30, TimeUnit.SECONDS);
            System.err.println("kafka: created topic " + f.getKey() + " (" + wanted.get(f.getKey()) + " partitions)");
          } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) throw e;
          }
        }
      }
      // Grow topics that exist with fewer partitions than wanted; never shrink.
      Map<String, TopicDescription> d =
          admin.describeTopics(new ArrayList<>(wanted.keySet())).allTopicNames().get(30, TimeUnit.SECONDS);
      Map<String, NewPartitions> grow = new HashMap<>();
      for (Map.Entry<String, Integer> w : wanted.entrySet()) {
        int have = d.get(w.getKey()).partitions().size();
        if (have < w.getValue()) grow.put(w.getKey(), NewPartitions.increaseTo(w.getValue()));
        else if (have > w.getValue())
          System.err.println("kafka: topic " + w.getKey() + " has " + have + " partitions (wanted " + w.getValue() + "), left as is");
      }
      if (!grow.isEmpty()) {
        admin.createPartitions(grow).all().get(30, TimeUnit.SECONDS);
        System.err.println("kafka: increased partitions of " + grow.keySet());
      }
      // Ready means every partition has a leader (after a crash that takes a moment).
      while (true) {
        Map<String, TopicDescription> now =
            admin.describeTopics(new ArrayList<>(wanted.keySet())).allTopicNames().get(30, TimeUnit.SECONDS);
        List<String> leaderless = new ArrayList<>();
        for (TopicDescription td : now.values())
          for (TopicPartitionInfo pi : td.partitions())
            if (pi.leader() == null || pi.leader().isEmpty()) leaderless.add(td.name() + "-" + pi.partition());
        if (leaderless.isEmpty()) break;
        if (System.currentTimeMillis() > deadline) {
          System.err.println("kafka: partitions without a leader: " + leaderless);
          System.exit(3);
        }
        Thread.sleep(200);
      }
    }
  }
}
JAVA
}

tools_log4j() {
  local f="$KAFKA_STATE/tools-log4j2.properties"
  if [[ ! -f "$f" ]]; then
    mkdir -p "$KAFKA_STATE"
    cat >"$f" <<'EOF'
status = error
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ERROR
rootLogger.appenderRef.err.ref = STDERR
EOF
  fi
  printf '%s\n' "$f"
}

ensure_helper() {
  local dir="$CACHE/helper" src
  src="$(helper_source)"
  if [[ -f "$dir/TodoKafkaAdmin.class" && -f "$dir/TodoKafkaAdmin.java" ]] \
      && [[ "$(cat "$dir/TodoKafkaAdmin.java")" == "$src" ]]; then
    return 0
  fi
  rm -rf "$dir.tmp.$$"
  mkdir -p "$dir.tmp.$$"
  printf '%s\n' "$src" >"$dir.tmp.$$/TodoKafkaAdmin.java"
  "$(javac_bin)" -nowarn -d "$dir.tmp.$$" -cp "$LIBS/*" "$dir.tmp.$$/TodoKafkaAdmin.java" >&2
  rm -rf "$dir"
  mv "$dir.tmp.$$" "$dir"
}

admin() {
  ensure_helper
  "$(java_bin)" -Xmx128m -XX:TieredStopAtLevel=1 -Xshare:auto \
    "-Dlog4j2.configurationFile=$(tools_log4j)" \
    -cp "$CACHE/helper:$LIBS/*" TodoKafkaAdmin "$@"
}

# --- broker -----------------------------------------------------------------

broker_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  printf '%s\n' "$pid"
}

write_config() {
  mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
  cat >"$KAFKA_STATE/server.properties" <<EOF
# Generated by scripts/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
# Consumer groups in tests should not wait 3 s for more members.
group.initial.rebalance.delay.ms=0
# After a crash (scripts/kafka.sh kill) the restarted broker cannot register
# until the old registration's session expires: keep that short (default 9 s).
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$KAFKA_STATE/log4j2.properties" <<'EOF'
status = warn
appender.server.type = RollingFile
appender.server.name = SERVER
appender.server.fileName = ${sys:kafka.logs.dir}/server.log
appender.server.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 50MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = SERVER
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
}

cluster_id() {
  local f="$KAFKA_STATE/cluster.id" id
  if [[ ! -s "$f" ]]; then
    # Same shape as org.apache.kafka.common.Uuid: 16 random bytes, URL-safe base64, no padding.
    while :; do
      id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
      [[ "$id" != -* ]] && break
    done
    printf '%s\n' "$id" >"$f"
  fi
  cat "$f"
}

format_storage() {
  if [[ -f "$KAFKA_DATA/meta.properties" ]]; then
    return 0
  fi
  local id
  id="$(cluster_id)"
  log "formatting KRaft storage in $KAFKA_DATA (cluster id $id)"
  if ! "$(java_bin)" -Xmx256m "-Dlog4j2.configurationFile=$(tools_log4j)" -cp "$LIBS/*" \
      kafka.tools.StorageTool format -t "$id" -c "$KAFKA_STATE/server.properties" \
      --ignore-formatted >"$KAFKA_LOGS/format.log" 2>&1; then
    cat "$KAFKA_LOGS/format.log" >&2
    die "formatting KRaft storage failed"
  fi
}

ensure_topics() {
  local spec=()
  local t
  for t in "${TOPICS[@]}"; do spec+=("$t"); done
  admin ensure "$BOOTSTRAP" "${1:-60}" "${spec[@]}" || die "could not create topics on $BOOTSTRAP"
}

cmd_start() {
  local pid t0
  t0=$SECONDS
  ensure_jars
  if pid="$(broker_pid)"; then
    log "already running (pid $pid) on $BOOTSTRAP"
    admin wait "$BOOTSTRAP" "$START_TIMEOUT" || { log_tail; die "broker pid $pid does not answer on $BOOTSTRAP"; }
    ensure_topics
    return 0
  fi
  rm -f "$PID_FILE"
  if port_open "$PORT"; then
    die "port $PORT is in use by another process (not the broker of $PID_FILE); stop it or set TEST_KAFKA_PORT"
  fi
  if port_open "$CONTROLLER_PORT"; then
    die "port $CONTROLLER_PORT is in use by another process; stop it or set TEST_KAFKA_CONTROLLER_PORT"
  fi
  write_config
  format_storage
  log "starting broker on $BOOTSTRAP (controller $HOST:$CONTROLLER_PORT, logs in $KAFKA_LOGS)"
  local java
  java="$(java_bin)"
  # shellcheck disable=SC2086  # HEAP_OPTS is a list of JVM flags
  nohup setsid "$java" $HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    "-Dkafka.logs.dir=$KAFKA_LOGS" "-Dlog4j2.configurationFile=$KAFKA_STATE/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$KAFKA_STATE/server.properties" \
    >>"$KAFKA_LOGS/kafka.out" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  # Wait for the listener, failing fast if the JVM dies.
  local deadline=$((SECONDS + START_TIMEOUT))
  until port_open "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      log_tail
      die "broker exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      log_tail
      die "broker did not listen on $BOOTSTRAP within ${START_TIMEOUT}s (pid $pid still running; 'scripts/kafka.sh stop' to end it)"
    fi
    sleep 0.2
  done
  local left=$((deadline - SECONDS))
  ((left < 10)) && left=10
  if ! admin wait "$BOOTSTRAP" "$left"; then
    log_tail
    die "broker listens on $BOOTSTRAP but does not answer admin requests"
  fi
  ensure_topics
  log "ready on $BOOTSTRAP (pid $pid, $((SECONDS - t0))s)"
}

wait_gone() {
  local pid=$1 timeout=$2 deadline
  deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.2
  done
}

cmd_stop() {
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
    log "still running after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "pid $pid did not exit after SIGKILL"
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_kill() {
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "killing broker (SIGKILL, pid $pid)"
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 10 || die "pid $pid did not exit after SIGKILL"
  rm -f "$PID_FILE"
}

cmd_status() {
  local pid
  if pid="$(broker_pid)"; then
    if port_open "$PORT"; then
      log "running (pid $pid) on $BOOTSTRAP"
      return 0
    fi
    log "process $pid is up but $BOOTSTRAP is not listening (starting or stuck; see $KAFKA_LOGS)"
    return 3
  fi
  log "not running"
  return 3
}

cmd_pid() {
  broker_pid || { log "not running"; return 1; }
}

cmd_topics() {
  broker_pid >/dev/null || die "broker is not running (scripts/kafka.sh start)"
  ensure_jars
  ensure_topics 30
  admin list "$BOOTSTRAP" 10
}

cmd_stage() {
  local dir="$1"
  ensure_jars
  ensure_helper
  mkdir -p "$dir"
  rm -rf "$dir/libs" "$dir/helper"
  cp -a "$LIBS" "$dir/libs"
  cp -a "$CACHE/helper" "$dir/helper"
  printf '%s\n' "${TOPICS[@]}" >"$dir/topics"
  log "staged Kafka $KAFKA_VERSION in $dir"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    kill) cmd_kill ;;
    status) cmd_status ;;
    pid) cmd_pid ;;
    topics) cmd_topics ;;
    classpath) ensure_jars; printf '%s\n' "$LIBS/*" ;;
    stage)
      [[ $# -eq 1 ]] || die "usage: scripts/kafka.sh stage DIR"
      cmd_stage "$1"
      ;;
    run)
      [[ $# -ge 1 ]] || die "usage: scripts/kafka.sh run CLASS [ARGS...]"
      ensure_jars
      exec "$(java_bin)" -Xmx256m "-Dlog4j2.configurationFile=$(tools_log4j)" -cp "$LIBS/*" "$@"
      ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
