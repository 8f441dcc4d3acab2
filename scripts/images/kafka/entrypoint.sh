#!/bin/bash
# One Kafka node (KRaft) in the foreground: format the data dir on the first
# start, start the broker, create the missing topics, then mark the container
# ready (/tmp/kafka-ready) and wait on the broker. SIGTERM stops the broker
# cleanly; when the broker exits, so does the container.
set -euo pipefail

DATA=/var/lib/kafka/data
CONFIG=/tmp/server.properties
READY=/tmp/kafka-ready
CP="/opt/kafka/libs/*"
JAVA_TOOL=(java -Xmx128m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties)
rm -f "$READY"

cat >"$CONFIG" <<CONF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED_HOST}:9092
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
num.network.threads=2
num.io.threads=4
log.retention.hours=168
CONF

if [[ ! -f "$DATA/meta.properties" ]]; then
  id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  id="A${id:1}" # never starts with '-'
  echo "kafka: formatting $DATA (cluster id $id)" >&2
  "${JAVA_TOOL[@]}" -cp "$CP" kafka.tools.StorageTool format -t "$id" -c "$CONFIG" --ignore-formatted >&2
fi

# shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of JVM flags
java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
  -Dkafka.logs.dir=/tmp -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties \
  -cp "$CP" kafka.Kafka "$CONFIG" &
broker=$!
trap 'kill -TERM "$broker" 2>/dev/null' TERM INT

mapfile -t topics </opt/kafka/topics
if "${JAVA_TOOL[@]}" -cp "/opt/kafka/helper:$CP" TodoKafkaAdmin ensure 127.0.0.1:9092 120 "${topics[@]}"; then
  touch "$READY"
  echo "kafka: ready, topics: ${topics[*]}" >&2
else
  echo "kafka: the topics could not be created; stopping" >&2
  kill -TERM "$broker" 2>/dev/null || true
fi

# `wait` returns early when a trapped signal arrives; wait again for the broker itself.
set +e
wait "$broker"
status=$?
if kill -0 "$broker" 2>/dev/null; then
  wait "$broker"
  status=$?
fi
exit "$status"
