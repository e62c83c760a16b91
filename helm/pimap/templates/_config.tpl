{{/*
Each service's /etc/pimap/<svc>.yaml: the operator's `<service>.config` values, overlaid with the keys
that wire the service into this release (listen addresses, peers, secret file paths). The key names are
the services' config keys (docs/service-kit.md); the services reject unknown keys at start.
*/}}

{{- define "pimap.config.common" -}}
{{- $c := deepCopy .values.config -}}
{{- $_ := set $c "admin" (dict "listen" (include "pimap.listen" (dict "root" .root "port" 9090))) -}}
{{- toYaml $c -}}
{{- end -}}

{{- define "pimap.storeConfig" -}}
{{- $s := dict "host" .Values.store.host "port" (int .Values.store.port) "master_user" .Values.store.masterUser "master_password_file" (include "pimap.path.storePassword" .) -}}
{{- if include "pimap.storeCaEnabled" . -}}
{{- $_ := set $s "ca_file" (include "pimap.path.storeCa" .) -}}
{{- end -}}
{{- toYaml $s -}}
{{- end -}}

{{- define "pimap.config.edge" -}}
{{- $root := . -}}
{{- $c := include "pimap.config.common" (dict "root" $root "values" .Values.edge) | fromYaml -}}
{{- $_ := set $c "imap" (dict "listen" (include "pimap.listen" (dict "root" $root "port" 1143))) -}}
{{- $_ = set $c "imaps" (dict "listen" (include "pimap.listen" (dict "root" $root "port" 1993))) -}}
{{- $https := default dict (get $c "https") -}}
{{- $_ = set $https "listen" (include "pimap.listen" (dict "root" $root "port" 8443)) -}}
{{- $_ = set $c "https" $https -}}
{{- $tls := default dict (get $c "tls") -}}
{{- $_ = set $tls "cert_file" (include "pimap.path.tlsCert" $root) -}}
{{- $_ = set $tls "key_file" (include "pimap.path.tlsKey" $root) -}}
{{- $_ = set $c "tls" $tls -}}
{{- $_ = set $c "session" (dict "grpc" (include "pimap.sessionTarget" $root)) -}}
{{- $store := default dict (get $c "store") -}}
{{- $_ = set $c "store" (merge (include "pimap.storeConfig" $root | fromYaml) $store) -}}
{{- $_ = set $c "smtp" (dict "host" .Values.mta.host "port" (int .Values.mta.port)) -}}
{{- toYaml $c -}}
{{- end -}}

{{- define "pimap.config.session" -}}
{{- $c := include "pimap.config.common" (dict "root" . "values" .Values.session) | fromYaml -}}
{{- $_ := set $c "grpc" (dict "listen" (include "pimap.listen" (dict "root" . "port" 50051))) -}}
{{- $_ = set $c "redis" (dict "address" .Values.redis.address) -}}
{{- toYaml $c -}}
{{- end -}}

{{- define "pimap.config.store-watcher" -}}
{{- $c := include "pimap.config.common" (dict "root" . "values" .Values.storeWatcher) | fromYaml -}}
{{- $_ := set $c "intake" (dict "listen" (include "pimap.listen" (dict "root" . "port" 8080))) -}}
{{- $kafka := default dict (get $c "kafka") -}}
{{- $_ = set $kafka "brokers" .Values.kafka.brokers -}}
{{- $_ = set $kafka "topic" .Values.kafka.topic -}}
{{- $_ = set $c "kafka" $kafka -}}
{{- $_ = set $c "store" (include "pimap.storeConfig" . | fromYaml) -}}
{{- $_ = set $c "redis" (dict "address" .Values.redis.address) -}}
{{- toYaml $c -}}
{{- end -}}

{{- define "pimap.config.notifier" -}}
{{- $c := include "pimap.config.common" (dict "root" . "values" .Values.notifier) | fromYaml -}}
{{- $kafka := default dict (get $c "kafka") -}}
{{- $_ := set $kafka "brokers" .Values.kafka.brokers -}}
{{- $_ = set $kafka "topic" .Values.kafka.topic -}}
{{- $_ = set $c "kafka" $kafka -}}
{{- $_ = set $c "redis" (dict "address" .Values.redis.address) -}}
{{- $_ = set $c "session" (dict "grpc" (include "pimap.sessionTarget" .)) -}}
{{- with .Values.gateways.sms -}}
{{- if .enabled -}}
{{- $_ = set $c "sms" (dict "sendsms_url" .sendsmsUrl "username" .username "password_file" (include "pimap.path.smsPassword" $)) -}}
{{- end -}}
{{- end -}}
{{- with .Values.gateways.wap -}}
{{- if .enabled -}}
{{- $_ = set $c "wap" (dict "ppg_url" .ppgUrl "ppg_host" .ppgHost) -}}
{{- end -}}
{{- end -}}
{{- toYaml $c -}}
{{- end -}}
