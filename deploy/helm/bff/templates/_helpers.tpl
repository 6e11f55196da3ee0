{{/*
Expand the name of the chart.
*/}}
{{- define "bff.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "bff.fullname" -}}
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

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "bff.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "bff.labels" -}}
helm.sh/chart: {{ include "bff.chart" . }}
{{ include "bff.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "bff.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bff.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "bff.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bff.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The container image: repository:tag, or repository@digest.
*/}}
{{- define "bff.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
Fixed paths inside the container (the image's layout, see the Dockerfile).
*/}}
{{- define "bff.configDir" -}}/etc/bff{{- end }}
{{- define "bff.secretDir" -}}/run/secrets/bff{{- end }}
{{- define "bff.dataDir" -}}/var/lib/bff{{- end }}

{{/*
The Secret the pod mounts: secret.existingSecret, or the chart's own.
*/}}
{{- define "bff.secretName" -}}
{{- default (include "bff.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{/*
config.session.store, default bolt.
*/}}
{{- define "bff.store" -}}
{{- dig "session" "store" "bolt" .Values.config }}
{{- end }}

{{/*
The OIDC client authentication method: oidc.client_auth (the design's name)
or oidc.token_endpoint_auth_method, default client_secret_basic.
*/}}
{{- define "bff.clientAuth" -}}
{{- $oidc := default (dict) .Values.config.oidc }}
{{- get $oidc "client_auth" | default (get $oidc "token_endpoint_auth_method") | default "client_secret_basic" }}
{{- end }}

{{/*
The largest number of pods the release can run at once.
*/}}
{{- define "bff.maxReplicas" -}}
{{- if .Values.autoscaling.enabled }}
{{- max (int .Values.replicaCount) (int .Values.autoscaling.maxReplicas) }}
{{- else }}
{{- int .Values.replicaCount }}
{{- end }}
{{- end }}

{{/*
bff.secretEntries: the Secret entries this config needs, as JSON
{"<value name>": {"key": "<entry name>", "section": "oidc", "field": "client_secret_file"}, ...}.
Which are needed follows from the config: the store and the client
authentication method.
*/}}
{{- define "bff.secretEntries" -}}
{{- $store := include "bff.store" . }}
{{- $auth := include "bff.clientAuth" . }}
{{- $keys := .Values.secret.keys }}
{{- $tls := has $auth (list "tls_client_auth" "self_signed_tls_client_auth") }}
{{- $entries := dict }}
{{- if not (or $tls (eq $auth "private_key_jwt")) }}
{{- $_ := set $entries "clientSecret" (dict "key" $keys.clientSecret "section" "oidc" "field" "client_secret_file") }}
{{- end }}
{{- $_ := set $entries "encryptionKeys" (dict "key" $keys.encryptionKeys "section" "session" "field" "encryption_keys_file") }}
{{- if eq $store "redis" }}
{{- $_ := set $entries "redisURL" (dict "key" $keys.redisURL "section" "session" "field" "redis_url_file") }}
{{- if or (and (not .Values.secret.existingSecret) .Values.secret.redisPassword) (and .Values.secret.existingSecret .Values.secret.existingSecretHasRedisPassword) }}
{{- $_ := set $entries "redisPassword" (dict "key" $keys.redisPassword "section" "session" "field" "redis_password_file") }}
{{- end }}
{{- end }}
{{- if eq $store "postgres" }}
{{- $_ := set $entries "postgresURL" (dict "key" $keys.postgresURL "section" "session" "field" "postgres_url_file") }}
{{- end }}
{{- if eq $auth "private_key_jwt" }}
{{- $_ := set $entries "clientKey" (dict "key" $keys.clientKey "section" "oidc" "field" "client_key_file") }}
{{- end }}
{{- if $tls }}
{{- $_ := set $entries "tlsClientCert" (dict "key" $keys.tlsClientCert "section" "oidc" "field" "tls_client_cert_file") }}
{{- $_ := set $entries "tlsClientKey" (dict "key" $keys.tlsClientKey "section" "oidc" "field" "tls_client_key_file") }}
{{- end }}
{{- toJson $entries }}
{{- end }}

{{/*
bff.secretValue: the value for one entry of the chart's own Secret, "" when
not given. encryptionKeys is a list: one key per line.
*/}}
{{- define "bff.secretValue" -}}
{{- $v := index .root.Values.secret .name }}
{{- if kindIs "slice" $v }}
{{- if $v }}{{ join "\n" $v }}{{ "\n" }}{{ end }}
{{- else }}
{{- $v | default "" }}
{{- end }}
{{- end }}

{{/*
bff.missingSecrets: names of needed secret values the chart's own Secret
lacks, comma-separated ("" with secret.existingSecret: the chart cannot see
inside it).
*/}}
{{- define "bff.missingSecrets" -}}
{{- if not .Values.secret.existingSecret }}
{{- $missing := list }}
{{- range $name, $_ := include "bff.secretEntries" . | fromJson }}
{{- if not (include "bff.secretValue" (dict "root" $ "name" $name)) }}
{{- $missing = append $missing (printf "secret.%s" $name) }}
{{- end }}
{{- end }}
{{- join ", " $missing }}
{{- end }}
{{- end }}

{{/*
bff.config: the rendered bff.yaml. config from the values plus the keys the
chart owns (listen addresses, shutdown timeout, bolt path, *_file keys).
*/}}
{{- define "bff.config" -}}
{{- $cfg := deepCopy (default (dict) .Values.config) }}
{{- $_ := set $cfg "listen" (printf ":%d" (int .Values.containerPorts.http)) }}
{{- if .Values.metrics.enabled }}
{{- $_ := set $cfg "metrics_listen" (printf ":%d" (int .Values.containerPorts.metrics)) }}
{{- end }}
{{- $server := default (dict) (get $cfg "server") }}
{{- $_ := set $server "shutdown_timeout" (printf "%ds" (int .Values.shutdown.timeoutSeconds)) }}
{{- $_ := set $cfg "server" $server }}
{{- $session := default (dict) (get $cfg "session") }}
{{- $_ := set $session "store" (include "bff.store" .) }}
{{- if eq (include "bff.store" .) "bolt" }}
{{- $_ := set $session "path" (printf "%s/bff-sessions.db" (include "bff.dataDir" .)) }}
{{- end }}
{{- $_ := set $cfg "session" $session }}
{{- $secretDir := include "bff.secretDir" . }}
{{- range $name, $e := include "bff.secretEntries" . | fromJson }}
{{- $section := default (dict) (get $cfg $e.section) }}
{{- $_ := set $section $e.field (printf "%s/%s" $secretDir $e.key) }}
{{- $_ := set $cfg $e.section $section }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
bff.validate: fails the render, with a message, on values that cannot work.
*/}}
{{- define "bff.validate" -}}
{{- $store := include "bff.store" . }}
{{- if not (has $store (list "bolt" "redis" "postgres")) }}
{{- fail (printf "\n\nbff: config.session.store is %q; it must be bolt, redis or postgres" $store) }}
{{- end }}
{{- $max := int (include "bff.maxReplicas" .) }}
{{- if and (gt $max 1) (eq $store "bolt") }}
{{- $why := printf "replicaCount is %d" (int .Values.replicaCount) }}
{{- if .Values.autoscaling.enabled }}
{{- $why = printf "autoscaling.maxReplicas is %d" (int .Values.autoscaling.maxReplicas) }}
{{- end }}
{{- fail (printf "\n\nbff: %s, but more than one replica needs a shared session store (Redis): set config.session.store to redis and give its URL in secret.redisURL (or secret.existingSecret), or use store postgres. The default bolt store is one file inside one pod." $why) }}
{{- end }}
{{- if and (eq $store "redis") (not .Values.secret.existingSecret) (not .Values.secret.redisURL) }}
{{- fail "\n\nbff: config.session.store is redis but no Redis is configured: set secret.redisURL (redis://, rediss://, redis-sentinel://, ...) or secret.existingSecret with a redis-url entry" }}
{{- end }}
{{- if and (eq $store "postgres") (not .Values.secret.existingSecret) (not .Values.secret.postgresURL) }}
{{- fail "\n\nbff: config.session.store is postgres but no PostgreSQL is configured: set secret.postgresURL or secret.existingSecret with a postgres-url entry" }}
{{- end }}
{{- $cfg := default (dict) .Values.config }}
{{- $owned := dict
  "" (list "listen" "metrics_listen")
  "server" (list "shutdown_timeout")
  "session" (list "path")
}}
{{- $hints := dict
  "listen" "containerPorts.http"
  "metrics_listen" "containerPorts.metrics and metrics.enabled"
  "shutdown_timeout" "shutdown.timeoutSeconds"
  "path" "persistence (the bolt file is always /var/lib/bff/bff-sessions.db)"
}}
{{- range $section, $fields := $owned }}
{{- $m := ternary $cfg (default (dict) (get $cfg $section)) (eq $section "") }}
{{- range $fields }}
{{- if hasKey $m . }}
{{- fail (printf "\n\nbff: config.%s is set by the chart: use %s instead" (trimPrefix "." (printf "%s.%s" $section .)) (get $hints .)) }}
{{- end }}
{{- end }}
{{- end }}
{{- $secrets := dict
  "oidc" (list "client_secret" "client_secret_file" "client_key_file" "tls_client_cert_file" "tls_client_key_file")
  "session" (list "encryption_keys" "encryption_keys_file" "redis_url" "redis_url_file" "redis_password" "redis_password_file" "postgres_url" "postgres_url_file")
}}
{{- range $section, $fields := $secrets }}
{{- $m := default (dict) (get $cfg $section) }}
{{- range $fields }}
{{- if hasKey $m . }}
{{- fail (printf "\n\nbff: config.%s.%s must not be in config (it would land in the ConfigMap): give secrets in secret.* or secret.existingSecret; the chart mounts them and sets the *_file keys" $section .) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "\n\nbff: metrics.serviceMonitor.enabled needs metrics.enabled (the metrics port)" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled .Values.podDisruptionBudget.minAvailable .Values.podDisruptionBudget.maxUnavailable }}
{{- fail "\n\nbff: podDisruptionBudget: set minAvailable or maxUnavailable, not both" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "\n\nbff: autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- if lt (int .Values.shutdown.timeoutSeconds) 1 }}
{{- fail "\n\nbff: shutdown.timeoutSeconds must be at least 1" }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: preStop sleep + drain + margin, so the kubelet
never kills a pod that is still draining.
*/}}
{{- define "bff.terminationGracePeriodSeconds" -}}
{{- add (int .Values.shutdown.preStopSleepSeconds) (int .Values.shutdown.timeoutSeconds) (int .Values.shutdown.graceMarginSeconds) }}
{{- end }}
