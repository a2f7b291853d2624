{{/*
Names, labels and the values every template shares. Component templates call these with a dict:
  (dict "root" $ "component" "edge")
so one helper serves the edge, the shield, the controller and Redis alike.
*/}}

{{/* The chart's name, shortened to a DNS label. */}}
{{- define "streamfront.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release's full name: the release name alone when it already holds the chart's name (so
"streamfront" installs as streamfront-edge, not streamfront-streamfront-edge). Truncated to leave
room for the longest component suffix (-controller-api, 15 characters) within a 63-character label.
*/}}
{{- define "streamfront.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* chart-version, as the helm.sh/chart label wants it. */}}
{{- define "streamfront.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The namespace every object goes in. */}}
{{- define "streamfront.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* A component's object name: <fullname>-<component>. */}}
{{- define "streamfront.componentName" -}}
{{- printf "%s-%s" (include "streamfront.fullname" .root) .component -}}
{{- end -}}

{{/* Selector labels: immutable on a workload, so never the version. */}}
{{- define "streamfront.selectorLabels" -}}
app.kubernetes.io/name: {{ include "streamfront.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* Every object's labels. */}}
{{- define "streamfront.labels" -}}
helm.sh/chart: {{ include "streamfront.chart" .root }}
{{ include "streamfront.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: streamfront
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.annotations of every object, when commonAnnotations are set. */}}
{{- define "streamfront.annotations" -}}
{{- with .root.Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The streamfront image: registry/repository:tag@digest, tag defaulting to the chart's appVersion. */}}
{{- define "streamfront.image" -}}
{{- $image := .Values.image -}}
{{- $registry := default $image.registry .Values.global.imageRegistry -}}
{{- $reference := printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- if $registry -}}
{{- $reference = printf "%s/%s" $registry $reference -}}
{{- end -}}
{{- if $image.digest -}}
{{- $reference = printf "%s@%s" $reference $image.digest -}}
{{- end -}}
{{- $reference -}}
{{- end -}}

{{/* imagePullSecrets of a pod, from global.imagePullSecrets. */}}
{{- define "streamfront.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* A component's service account name. */}}
{{- define "streamfront.serviceAccountName" -}}
{{- $account := index .root.Values .component "serviceAccount" -}}
{{- if $account.create -}}
{{- default (include "streamfront.componentName" .) $account.name -}}
{{- else -}}
{{- default "default" $account.name -}}
{{- end -}}
{{- end -}}

{{/* The cluster domain suffix of in-cluster DNS names. */}}
{{- define "streamfront.serviceDomain" -}}
{{- printf "%s.svc.%s" (include "streamfront.namespace" .) .Values.clusterDomain -}}
{{- end -}}

{{/* host:port of the controllers' gRPC config service, as edges and shields dial it. */}}
{{- define "streamfront.controllerAddress" -}}
{{- printf "%s.%s:%d" (include "streamfront.componentName" (dict "root" . "component" "controller")) (include "streamfront.serviceDomain" .) (int .Values.controller.ports.grpc) -}}
{{- end -}}

{{/* The shields' headless service as an edge resolves it (dns:NAME:PORT, rendezvous hashing over the replicas). */}}
{{- define "streamfront.shieldAddress" -}}
{{- printf "dns:%s-headless.%s:%d" (include "streamfront.componentName" (dict "root" . "component" "shield")) (include "streamfront.serviceDomain" .) (int .Values.shield.ports.grpc) -}}
{{- end -}}

{{/*
Environment variables from a component's `settings` map: each key is the setting's name as the
component's --help lists it (camelCase); files/settings.json (generated from the components' settings
by npm run helm:schema) gives its variable. Keys the chart sets itself are refused by values.schema.json,
so an operator cannot set one twice. Called with (dict "root" $ "component" "edge" "settings" …).
*/}}
{{- define "streamfront.settingsEnv" -}}
{{- $variables := index (.root.Files.Get "files/settings.json" | fromJson) .component -}}
{{- range $name, $value := .settings }}
- name: {{ required (printf "%s.settings.%s: no such setting" $.component $name) (index $variables $name) }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* The internal-TLS environment of a component (the tls-* settings), empty when internalTls.mode is plaintext. */}}
{{- define "streamfront.internalTlsEnv" -}}
{{- $prefix := printf "STREAMFRONT_%s_" (upper .component) -}}
{{- if eq .root.Values.internalTls.mode "plaintext" }}
- name: {{ $prefix }}INTERNAL_TLS
  value: "plaintext"
{{- else }}
- name: {{ $prefix }}INTERNAL_TLS
  value: "mtls"
- name: {{ $prefix }}TLS_CA_FILE
  value: "/etc/streamfront/tls/ca.crt"
- name: {{ $prefix }}TLS_CERT_FILE
  value: "/etc/streamfront/tls/tls.crt"
- name: {{ $prefix }}TLS_KEY_FILE
  value: "/etc/streamfront/tls/tls.key"
- name: {{ $prefix }}TLS_REFRESH_MS
  value: {{ .root.Values.internalTls.refreshMs | int64 | toString | quote }}
{{- end }}
{{- end -}}

{{/* The Secret holding a component's internal-TLS certificate (ca.crt, tls.crt, tls.key). */}}
{{- define "streamfront.internalTlsSecret" -}}
{{- $given := index .root.Values.internalTls.existingSecrets .component -}}
{{- if eq .root.Values.internalTls.mode "existingSecrets" -}}
{{- required (printf "internalTls.existingSecrets.%s is required when internalTls.mode is existingSecrets: a Secret with ca.crt, tls.crt and tls.key whose certificate has the URI SAN spiffe://streamfront/%s" .component .component) $given -}}
{{- else -}}
{{- printf "%s-tls" (include "streamfront.componentName" .) -}}
{{- end -}}
{{- end -}}

{{/* The volume and mount of the internal-TLS Secret, empty when plaintext. */}}
{{- define "streamfront.internalTlsVolume" -}}
{{- if ne .root.Values.internalTls.mode "plaintext" }}
- name: internal-tls
  secret:
    secretName: {{ include "streamfront.internalTlsSecret" . }}
    defaultMode: 0440
{{- end }}
{{- end -}}
{{- define "streamfront.internalTlsVolumeMount" -}}
{{- if ne .root.Values.internalTls.mode "plaintext" }}
- name: internal-tls
  mountPath: /etc/streamfront/tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* Pod placement and security shared by every workload: the component's block in .values. */}}
{{- define "streamfront.podPlacement" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- range .values.topologySpreadConstraints }}
  - {{ toYaml (merge (deepCopy .) (dict "labelSelector" (dict "matchLabels" (fromYaml (include "streamfront.selectorLabels" $))))) | nindent 4 | trim }}
  {{- end }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* The Redis URL the controllers use (chart's own Redis, or the external one), as an env entry. */}}
{{- define "streamfront.redisEnv" -}}
{{- $redis := .Values.redis -}}
{{- $external := .Values.externalRedis -}}
{{- if and $redis.enabled (or $external.url $external.existingSecret) -}}
{{- fail "redis.enabled and externalRedis are both set: use the chart's own Redis (redis.enabled: true) or an external one (externalRedis.url or externalRedis.existingSecret), never both" -}}
{{- end -}}
{{- if $redis.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "streamfront.componentName" (dict "root" . "component" "redis") }}
      key: password
- name: STREAMFRONT_CONTROLLER_REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s.%s:%d/0" (include "streamfront.componentName" (dict "root" . "component" "redis")) (include "streamfront.serviceDomain" .) (int $redis.port) | quote }}
{{- else if $external.existingSecret }}
- name: STREAMFRONT_CONTROLLER_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $external.existingSecret }}
      key: {{ $external.existingSecretKey }}
{{- else }}
- name: STREAMFRONT_CONTROLLER_REDIS_URL
  value: {{ required "a Redis is required: set redis.enabled: true (the chart's own Redis) or externalRedis.url (redis://, rediss://, redis-sentinel://host:port,host:port/master or redis-cluster://host:port,…) or externalRedis.existingSecret" $external.url | quote }}
{{- end }}
{{- end -}}

{{/*
cache-disk-bytes for a disk tier on a claim of the given size ("50Gi", "500Mi", "1Ti"): 90 % of it, room
for the file system's own overhead and the slice being written.
*/}}
{{- define "streamfront.diskCacheBytes" -}}
{{- $units := dict "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- $unit := substr (int (sub (len .) 2)) (len .) . -}}
{{- $count := trimSuffix $unit . | int64 -}}
{{- if not (hasKey $units $unit) -}}
{{- fail (printf "shield.diskCache.size %q: expected a whole number of Mi, Gi or Ti" .) -}}
{{- end -}}
{{- div (mul $count (get $units $unit) 9) 10 -}}
{{- end -}}

{{/* The Secret holding the control API's access keys: yours, or the one the chart makes. */}}
{{- define "streamfront.apiKeysSecretName" -}}
{{- default (printf "%s-api-keys" (include "streamfront.componentName" (dict "root" . "component" "controller"))) .Values.controller.apiKeys.existingSecret -}}
{{- end -}}

{{/*
data of the chart-made API-keys Secret: what the cluster already holds (lookup), else one new key pair,
AKIA + 16 upper-case characters and a 40-character secret, the shape AWS SDKs and the CLI accept. Rendered
once per template run: the Secret and the controllers' checksum annotation see the same keys.
*/}}
{{- define "streamfront.apiKeysSecretData" -}}
{{- $name := include "streamfront.apiKeysSecretName" . -}}
{{- $key := .Values.controller.apiKeys.key -}}
{{- $existing := lookup "v1" "Secret" (include "streamfront.namespace" .) $name -}}
{{- if and $existing $existing.data (hasKey $existing.data $key) -}}
{{ $key }}: {{ index $existing.data $key }}
{{- else -}}
{{- if not (hasKey .Values "generatedApiKeys") -}}
{{- $_ := set .Values "generatedApiKeys" (printf "AKIA%s:%s" (randAlphaNum 16 | upper) (randAlphaNum 40)) -}}
{{- end -}}
{{ $key }}: {{ .Values.generatedApiKeys | b64enc }}
{{- end -}}
{{- end -}}

{{/* The egress rule every NetworkPolicy has: DNS (UDP and TCP 53) to the cluster's DNS pods. */}}
{{- define "streamfront.dnsEgress" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}
