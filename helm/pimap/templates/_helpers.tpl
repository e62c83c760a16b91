{{/*
Names, labels and the pieces every service's manifests share.
Components are named as in the architecture: edge, session, store-watcher, notifier; their values live
under edge, session, storeWatcher, notifier.
*/}}

{{- define "pimap.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pimap.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a component's objects: (dict "root" $ "component" "store-watcher") */}}
{{- define "pimap.componentName" -}}
{{- printf "%s-%s" (include "pimap.fullname" .root | trunc 45 | trimSuffix "-") .component -}}
{{- end -}}

{{/* The values key of a component: store-watcher -> storeWatcher */}}
{{- define "pimap.valuesKey" -}}
{{- camelcase (replace "-" "_" .) | untitle -}}
{{- end -}}

{{- define "pimap.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "pimap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pimap
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* (dict "root" $ "component" "edge") */}}
{{- define "pimap.componentLabels" -}}
{{ include "pimap.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* (dict "root" $ "component" "edge") */}}
{{- define "pimap.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pimap.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pimap.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pimap.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* (dict "root" $ "component" "edge") -> registry/repository:tag */}}
{{- define "pimap.image" -}}
{{- $v := index .root.Values (include "pimap.valuesKey" .component) -}}
{{- $repo := $v.image.repository -}}
{{- if .root.Values.image.registry -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" .root.Values.image.registry) $repo -}}
{{- end -}}
{{- printf "%s:%s" $repo (default (default .root.Chart.AppVersion .root.Values.image.tag) $v.image.tag) -}}
{{- end -}}

{{/* host:port for a listener inside the pod */}}
{{- define "pimap.listen" -}}
{{- printf "%s:%v" .root.Values.listenAddress .port -}}
{{- end -}}

{{/* --- Secrets: names and keys, whether created here or referenced ---------------------------- */}}

{{- define "pimap.storeSecretName" -}}
{{- default (printf "%s-store" (include "pimap.fullname" .)) .Values.store.existingSecret -}}
{{- end -}}

{{- define "pimap.tlsSecretName" -}}
{{- default (printf "%s-edge-tls" (include "pimap.fullname" .)) .Values.edge.tls.existingSecret -}}
{{- end -}}

{{- define "pimap.smsSecretName" -}}
{{- default (printf "%s-gateways" (include "pimap.fullname" .)) .Values.gateways.sms.existingSecret -}}
{{- end -}}

{{- define "pimap.storeCaConfigMapName" -}}
{{- default (printf "%s-store-ca" (include "pimap.fullname" .)) .Values.store.ca.existingConfigMap -}}
{{- end -}}

{{- define "pimap.storeCaEnabled" -}}
{{- if or .Values.store.ca.pem .Values.store.ca.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{/* Where the secrets are mounted inside the pods; the config files point at these paths. */}}
{{- define "pimap.path.storePassword" -}}/etc/pimap/secrets/store/{{ .Values.store.existingSecretKey }}{{- end -}}
{{- define "pimap.path.storeCa" -}}/etc/pimap/store-ca/{{ .Values.store.ca.key }}{{- end -}}
{{- define "pimap.path.smsPassword" -}}/etc/pimap/secrets/sms/{{ .Values.gateways.sms.existingSecretKey }}{{- end -}}
{{- define "pimap.path.tlsCert" -}}/etc/pimap/tls/tls.crt{{- end -}}
{{- define "pimap.path.tlsKey" -}}/etc/pimap/tls/tls.key{{- end -}}

{{/*
The session service's gRPC target (host:port, the services' session.grpc key type). A ClusterIP Service:
each edge and notifier holds one long-lived HTTP/2 connection, spread over the session pods by kube-proxy.
*/}}
{{- define "pimap.sessionTarget" -}}
{{- printf "%s.%s.svc.%s:50051" (include "pimap.componentName" (dict "root" . "component" "session")) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* Port of a host:port string (IPv6 literals in brackets allowed). */}}
{{- define "pimap.portOf" -}}
{{- regexFind "[0-9]+$" . -}}
{{- end -}}

{{/* Port of an http(s) URL: explicit, else 80/443 by scheme. */}}
{{- define "pimap.urlPort" -}}
{{- $u := urlParse . -}}
{{- $p := regexFind ":[0-9]+$" $u.host | trimPrefix ":" -}}
{{- if $p -}}{{ $p }}{{- else if eq $u.scheme "https" -}}443{{- else -}}80{{- end -}}
{{- end -}}

{{/*
Checks that need more than one value at a time (values.schema.json checks each value alone).
Included by every template that renders a workload, so `helm template -s` fails the same way.
*/}}
{{- define "pimap.validate" -}}
{{- $parts := int .Values.kafka.partitions -}}
{{- $shards := int (dig "kafka" "control_partitions" 32 .Values.storeWatcher.config) -}}
{{- if gt (int .Values.storeWatcher.replicas) $shards -}}
{{- fail (printf "storeWatcher.replicas (%d) exceeds storeWatcher.config.kafka.control_partitions (%d): replicas share the user shards, extra ones would sit idle" (int .Values.storeWatcher.replicas) $shards) -}}
{{- end -}}
{{- if gt (int .Values.notifier.replicas) $parts -}}
{{- fail (printf "notifier.replicas (%d) exceeds kafka.partitions (%d): consumer-group members beyond the partition count get no partition" (int .Values.notifier.replicas) $parts) -}}
{{- end -}}
{{- if and .Values.edge.autoscaling.enabled (gt (int .Values.edge.autoscaling.minReplicas) (int .Values.edge.autoscaling.maxReplicas)) -}}
{{- fail (printf "edge.autoscaling.minReplicas (%d) is greater than edge.autoscaling.maxReplicas (%d)" (int .Values.edge.autoscaling.minReplicas) (int .Values.edge.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- if and (or .Values.edge.tls.cert .Values.edge.tls.key) (not (and .Values.edge.tls.cert .Values.edge.tls.key)) -}}
{{- fail "edge.tls: set both cert and key (or existingSecret), not only one of them" -}}
{{- end -}}
{{- if and .Values.store.ca.pem .Values.store.ca.existingConfigMap -}}
{{- fail "store.ca: set either pem or existingConfigMap, not both" -}}
{{- end -}}
{{- with .Values.gateways.sms -}}
{{- if .enabled -}}
{{- if not .sendsmsUrl -}}{{- fail "gateways.sms.enabled is true but gateways.sms.sendsmsUrl is empty" -}}{{- end -}}
{{- if not .username -}}{{- fail "gateways.sms.enabled is true but gateways.sms.username is empty" -}}{{- end -}}
{{- if not (or .password .existingSecret) -}}{{- fail "gateways.sms.enabled is true: set gateways.sms.password or gateways.sms.existingSecret" -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- with .Values.gateways.wap -}}
{{- if and .enabled (not (and .ppgUrl .ppgHost)) -}}
{{- fail "gateways.wap.enabled is true: set both gateways.wap.ppgUrl and gateways.wap.ppgHost" -}}
{{- end -}}
{{- end -}}
{{- end -}}
