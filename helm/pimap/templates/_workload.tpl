{{/*
The Deployment of one service: (dict "root" $ "component" "edge").
Per-component differences (ports, secret volumes, HPA-managed replicas, preStop) are chosen here by
component name so that every service gets the same probes, security and termination handling.
*/}}
{{- define "pimap.deployment" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- $v := index $root.Values (include "pimap.valuesKey" $component) -}}
{{- $name := include "pimap.componentName" (dict "root" $root "component" $component) -}}
{{- $drain := int (default 25 (dig "shutdown" "drain_seconds" 25 $v.config)) -}}
{{- $preStop := 0 -}}
{{- if eq $component "edge" }}{{ $preStop = int $v.preStopSleepSeconds }}{{ end -}}
{{- $usesStore := has $component (list "edge" "store-watcher") -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "pimap.componentLabels" (dict "root" $root "component" $component) | nindent 4 }}
spec:
  {{- if not (and (eq $component "edge") $v.autoscaling.enabled) }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "pimap.selectorLabels" (dict "root" $root "component" $component) | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      # Start the new pod before stopping an old one: capacity never drops during an upgrade.
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "pimap.selectorLabels" (dict "root" $root "component" $component) | nindent 8 }}
        app.kubernetes.io/part-of: pimap
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # Roll the pods when their configuration changes.
        checksum/config: {{ include (printf "pimap.config.%s" $component) $root | sha256sum }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "pimap.serviceAccountName" $root }}
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      # preStop sleep + the service's own drain (shutdown.drain_seconds) + a margin before SIGKILL.
      terminationGracePeriodSeconds: {{ add $preStop $drain (int $v.terminationGraceMarginSeconds) }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ $component }}
          image: {{ include "pimap.image" (dict "root" $root "component" $component) | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["--config", "/etc/pimap/{{ $component }}.yaml"]
          env:
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            {{- if eq $component "edge" }}
            - name: imap
              containerPort: 1143
              protocol: TCP
            - name: imaps
              containerPort: 1993
              protocol: TCP
            - name: https
              containerPort: 8443
              protocol: TCP
            {{- else if eq $component "session" }}
            - name: grpc
              containerPort: 50051
              protocol: TCP
            {{- else if eq $component "store-watcher" }}
            - name: intake
              containerPort: 8080
              protocol: TCP
            {{- end }}
            - name: admin
              containerPort: 9090
              protocol: TCP
          startupProbe:
            httpGet:
              path: /healthz
              port: admin
            periodSeconds: {{ $v.probes.startup.periodSeconds }}
            failureThreshold: {{ $v.probes.startup.failureThreshold }}
            timeoutSeconds: {{ $v.probes.startup.timeoutSeconds }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: admin
            periodSeconds: {{ $v.probes.liveness.periodSeconds }}
            failureThreshold: {{ $v.probes.liveness.failureThreshold }}
            timeoutSeconds: {{ $v.probes.liveness.timeoutSeconds }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: admin
            periodSeconds: {{ $v.probes.readiness.periodSeconds }}
            failureThreshold: {{ $v.probes.readiness.failureThreshold }}
            timeoutSeconds: {{ $v.probes.readiness.timeoutSeconds }}
          {{- if gt $preStop 0 }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", "{{ $preStop }}"]
          {{- end }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /etc/pimap/{{ $component }}.yaml
              subPath: {{ $component }}.yaml
              readOnly: true
            - name: tmp
              mountPath: /tmp
            {{- if $usesStore }}
            - name: store-secret
              mountPath: /etc/pimap/secrets/store
              readOnly: true
            {{- if include "pimap.storeCaEnabled" $root }}
            - name: store-ca
              mountPath: /etc/pimap/store-ca
              readOnly: true
            {{- end }}
            {{- end }}
            {{- if eq $component "edge" }}
            - name: tls
              mountPath: /etc/pimap/tls
              readOnly: true
            {{- end }}
            {{- if and (eq $component "notifier") $root.Values.gateways.sms.enabled }}
            - name: sms-secret
              mountPath: /etc/pimap/secrets/sms
              readOnly: true
            {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ $name }}
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- if $usesStore }}
        - name: store-secret
          secret:
            secretName: {{ include "pimap.storeSecretName" $root }}
            items:
              - key: {{ $root.Values.store.existingSecretKey }}
                path: {{ $root.Values.store.existingSecretKey }}
        {{- if include "pimap.storeCaEnabled" $root }}
        - name: store-ca
          configMap:
            name: {{ include "pimap.storeCaConfigMapName" $root }}
            items:
              - key: {{ $root.Values.store.ca.key }}
                path: {{ $root.Values.store.ca.key }}
        {{- end }}
        {{- end }}
        {{- if eq $component "edge" }}
        - name: tls
          secret:
            secretName: {{ include "pimap.tlsSecretName" $root }}
            items:
              - key: tls.crt
                path: tls.crt
              - key: tls.key
                path: tls.key
        {{- end }}
        {{- if and (eq $component "notifier") $root.Values.gateways.sms.enabled }}
        - name: sms-secret
          secret:
            secretName: {{ include "pimap.smsSecretName" $root }}
            items:
              - key: {{ $root.Values.gateways.sms.existingSecretKey }}
                path: {{ $root.Values.gateways.sms.existingSecretKey }}
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      topologySpreadConstraints:
        {{- if $v.topologySpreadConstraints }}
        {{- toYaml $v.topologySpreadConstraints | nindent 8 }}
        {{- else }}
        # Default: spread replicas over nodes and zones where the cluster allows it.
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "pimap.selectorLabels" (dict "root" $root "component" $component) | nindent 14 }}
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "pimap.selectorLabels" (dict "root" $root "component" $component) | nindent 14 }}
        {{- end }}
{{- end -}}
