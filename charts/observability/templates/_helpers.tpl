{{/* Names and labels of the observability chart. */}}
{{- define "observability.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "observability.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "observability.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "observability.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "observability.labels" -}}
app.kubernetes.io/name: {{ include "observability.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: todo-app
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels plus the ones the Prometheus operator selects our resources by. */}}
{{- define "observability.operatorLabels" -}}
{{ include "observability.labels" . }}
{{- with .Values.prometheusOperator.selectorLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The todo-app services, as a regex alternation. */}}
{{- define "observability.servicesRegex" -}}
{{- join "|" .Values.app.services }}
{{- end }}

{{/* The todo-app topics, as a regex alternation. */}}
{{- define "observability.topicsRegex" -}}
{{- join "|" .Values.app.topics }}
{{- end }}
