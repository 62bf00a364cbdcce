{{/*
Object names are fixed, not derived from the release name: the binaries find the webhook's
Service, Secret and configuration, the memberlist Secret and the leader Lease by these names
(impl/webhook, impl/controller). One IronLB per cluster.
*/}}

{{- define "ironlb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "ironlb.labels" -}}
app.kubernetes.io/name: ironlb
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ include "ironlb.chart" . }}
{{- end }}

{{/*
Selector labels of a component ("controller" or "speaker"): the same as the manifests before the
chart had, so that an install from impl/deploy/ironlb-native.yaml can be taken over by Helm
(selectors cannot change), and the speakers find each other by them (--ml-labels).
*/}}
{{- define "ironlb.selectorLabels" -}}
app.kubernetes.io/name: ironlb
app.kubernetes.io/component: {{ . }}
{{- end }}

{{- define "ironlb.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default "ironlb-controller" .Values.controller.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ironlb.speaker.serviceAccountName" -}}
{{- if .Values.speaker.serviceAccount.create }}
{{- default "ironlb-speaker" .Values.speaker.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.speaker.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image of a component: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "ironlb.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* The Secret with the speakers' gossip key (the controller creates ironlb-memberlist). */}}
{{- define "ironlb.memberlistSecret" -}}
{{- default "ironlb-memberlist" .Values.speaker.memberlist.secretName }}
{{- end }}

{{/* What the values cannot say in the schema. */}}
{{- define "ironlb.validate" -}}
{{- if and .Values.speaker.enabled (not .Values.speaker.layer2.enabled) (not .Values.speaker.bgp.enabled) }}
{{- fail "speaker.layer2.enabled and speaker.bgp.enabled are both false: the speaker would announce nothing (set speaker.enabled=false instead)" }}
{{- end }}
{{- if and .Values.speaker.bgpPasswordSecrets (not .Values.speaker.bgp.enabled) }}
{{- fail "speaker.bgpPasswordSecrets is set but speaker.bgp.enabled is false" }}
{{- end }}
{{- end }}
