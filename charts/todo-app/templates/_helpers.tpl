{{/* Names ------------------------------------------------------------------- */}}

{{- define "todo-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-app.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "todo-app.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of one service's Deployment and Service: <fullname>-<service>. */}}
{{- define "todo-app.serviceName" -}}
{{- printf "%s-%s" (include "todo-app.fullname" .root) .service | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-app.secretName" -}}
{{- default (printf "%s-secrets" (include "todo-app.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "todo-app.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "todo-app.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "todo-app.image" -}}
{{- include "todo-app.imageRef" (dict "image" .Values.image "defaultTag" (ternary "" .Chart.AppVersion (not (empty .Values.image.digest)))) }}
{{- end }}

{{/* An image reference from {repository, tag, digest}: repo:tag, repo@digest, or
     repo:tag@digest when both are given (the digest is what gets pulled). */}}
{{- define "todo-app.imageRef" -}}
{{- $tag := default .defaultTag .image.tag }}
{{- $ref := .image.repository }}
{{- if $tag }}{{ $ref = printf "%s:%s" $ref $tag }}{{ end }}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/* Labels ------------------------------------------------------------------ */}}

{{- define "todo-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "todo-app.labels" -}}
helm.sh/chart: {{ include "todo-app.chart" . }}
{{ include "todo-app.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: todo-app
{{- end }}

{{/* Labels of one component (a service, the migrations job, the test pod). */}}
{{- define "todo-app.componentSelectorLabels" -}}
{{ include "todo-app.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "todo-app.componentLabels" -}}
{{ include "todo-app.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Bundled PostgreSQL and Redis (subcharts): names of their Service and Secret. */}}
{{- define "todo-app.postgresqlHost" -}}
{{- printf "%s-postgresql" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-app.redisHost" -}}
{{- printf "%s-redis" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Kafka bootstrap address: the bundled broker when enabled, else dapr.pubsub.brokers. */}}
{{- define "todo-app.kafkaBrokers" -}}
{{- if .Values.kafka.enabled }}
{{- printf "%s-kafka.%s.svc:9092" .Release.Name .Release.Namespace }}
{{- else }}
{{- .Values.dapr.pubsub.brokers }}
{{- end }}
{{- end }}

{{/* Environment of every service container and the migrations job. */}}
{{- define "todo-app.databaseEnv" -}}
{{- if .Values.postgresql.enabled }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "todo-app.postgresqlHost" . }}
      key: password
- name: DATABASE_URL
  value: {{ printf "postgresql+asyncpg://%s:$(POSTGRES_PASSWORD)@%s:5432/%s" .Values.postgresql.auth.username (include "todo-app.postgresqlHost" .) .Values.postgresql.auth.database | quote }}
{{- else }}
# Read from the Secret mounted as a file (volume "secrets"), not from the environment.
- name: DATABASE_URL_FILE
  value: /var/run/secrets/todo/database-url
{{- end }}
{{- end }}

{{/* Whether the Secret holds an optional key (smtp-url, openai-api-key): the
     chart's own Secret when the value is set, an existing one when
     secrets.existingSecretKeys names it. */}}
{{- define "todo-app.hasSecretKey" -}}
{{- $values := .root.Values.secrets }}
{{- if $values.existingSecret }}
{{- if has .key $values.existingSecretKeys }}true{{ end }}
{{- else if index $values (get (dict "smtp-url" "smtpUrl" "openai-api-key" "openaiApiKey") .key) }}true
{{- end }}
{{- end }}

{{/* The Secret's keys a pod reads as files under /var/run/secrets/todo (volume
     "secrets", read-only): the JWT key (with `jwt`), the database URL (external
     database), and those of `optional` the Secret holds. */}}
{{- define "todo-app.secretsVolume" -}}
- name: secrets
  secret:
    secretName: {{ include "todo-app.secretName" .root }}
    defaultMode: 0440
    items:
      {{- if .jwt }}
      - {key: jwt-private.pem, path: jwt-private.pem}
      {{- end }}
      {{- if .vapid }}
      - {key: vapid-private.pem, path: vapid-private.pem}
      {{- end }}
      {{- if not .root.Values.postgresql.enabled }}
      - {key: database-url, path: database-url}
      {{- end }}
      {{- range .optional }}
      {{- if include "todo-app.hasSecretKey" (dict "root" $.root "key" .) }}
      - {key: {{ . }}, path: {{ . }}}
      {{- end }}
      {{- end }}
{{- end }}

{{- define "todo-app.redisEnv" -}}
{{- if .Values.redis.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "todo-app.redisHost" . }}
      key: password
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" (include "todo-app.redisHost" .) | quote }}
{{- else }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "todo-app.secretName" . }}
      key: redis-url
      optional: true
{{- end }}
{{- end }}

{{/* Pod security and shared volumes ------------------------------------------ */}}

{{- define "todo-app.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "todo-app.containerSecurityContext" -}}
{{ toYaml .Values.securityContext }}
{{- end }}

{{/* Egress rules shared by the NetworkPolicies. ------------------------------- */}}

{{- define "todo-app.egressDns" -}}
- to:
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end }}

{{- define "todo-app.egressDatabase" -}}
{{- if .Values.postgresql.enabled }}
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: postgresql
          app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - {protocol: TCP, port: 5432}
{{- else if .Values.externalDatabase.cidrs }}
- to:
  {{- range .Values.externalDatabase.cidrs }}
    - ipBlock: {cidr: {{ . | quote }}}
  {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.externalDatabase.port }}}
{{- end }}
{{- end }}

{{- define "todo-app.egressRedis" -}}
{{- if .Values.redis.enabled }}
- to:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: redis
          app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - {protocol: TCP, port: 6379}
{{- else if .Values.externalRedis.cidrs }}
- to:
  {{- range .Values.externalRedis.cidrs }}
    - ipBlock: {cidr: {{ . | quote }}}
  {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.externalRedis.port }}}
{{- end }}
{{- end }}
