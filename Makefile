# IronLB: `make help` lists the targets.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
BIN         := $(CURDIR)/bin
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
K8S_BINS    := lab/controlplane/build/k8s-bins.sh
# Programs of process pods built from wrapper modules (Traefik for topologies/ingress.yaml); not
# through K8S_ASSETS' $(shell), so that only the targets that need them build them.
LAB_BINS    := lab/controlplane/build/lab-bins.sh
# The control-plane binaries (built once into the cache); envtest and the lab use them.
K8S_ASSETS   = $(shell $(K8S_BINS) 2>/dev/null | tail -n1)
TOPOLOGY    ?= topologies/l2.yaml
LAB_NAME    ?= $(shell awk '$$1=="name:" {print $$2; exit}' $(TOPOLOGY))
# What `ironlab version` prints.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/ironlb-controller, bin/ironlb-speaker, bin/ironlab and bin/ironlab-runc (the Kind provider's runc wrapper)
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN)/ ./cmd/ironlb-controller ./cmd/ironlb-speaker ./cmd/ironlab ./cmd/ironlab-runc

# OCI images from Go alone (impl/images): no Docker engine, no registry, no base image. The same
# commit, Go and CA bundle give the same digests (time stamps are the commit time).
.PHONY: images
images: ## OCI images of the controller, speaker and ironlab (linux/amd64, arm64): bin/images/<name>/ (OCI layout) and <name>.tar
	$(GO) run ./cmd/ironlb-images build -dir $(BIN)/images -version $(VERSION)

.PHONY: push
push: ## push bin/images to REGISTRY (make push REGISTRY=ghcr.io/ironlb) as :<version>, and :latest with PUSH_LATEST=1
	@if [ -z "$(REGISTRY)" ]; then echo "make push REGISTRY=ghcr.io/ironlb (after make images)" >&2; exit 2; fi
	$(GO) run ./cmd/ironlb-images push -dir $(BIN)/images -registry $(REGISTRY) $(if $(PUSH_LATEST),-tag latest)

.PHONY: k8s-bins
k8s-bins: ## build etcd and the Kubernetes control plane from source into the cache (once; prints the directory)
	@$(K8S_BINS)

.PHONY: lab-bins
lab-bins: k8s-bins ## build the programs of process pods and the e2e suite from their wrapper modules into the cache: Traefik, CoreDNS, agnhost and e2e.test (once; prints the binaries)
	@$(LAB_BINS)

.PHONY: generate
generate: ## regenerate deepcopy functions and CRD manifests from impl/api, and the lab's JSON Schemas
	$(GO) generate ./impl/api/...
	$(MAKE) --no-print-directory manifests
	$(GO) run ./cmd/ironlab schema topology > topologies/topology.schema.json
	$(GO) run ./cmd/ironlab schema scenario > scenarios/scenario.schema.json
	$(GO) run ./cmd/ironlab schema topology --markdown > docs/reference/topology.md
	$(GO) run ./cmd/ironlab schema scenario --markdown > docs/reference/scenario.md

# The Helm chart is the one source of the manifests. Helm is a tool of the module (go.mod's tool
# directive, helm.sh/helm/v3 from the Go module proxy), built by the Go toolchain on first use.
HELM = $(GO) tool helm

.PHONY: manifests
manifests: ## impl/deploy/ironlb-native.yaml from charts/ironlb (helm template, default values, namespace metallb-system); the chart's CRDs from impl/deploy/crds
	cp impl/deploy/crds/*.yaml charts/ironlb/crds/
	$(HELM) template ironlb charts/ironlb --namespace metallb-system --set namespace.create=true > impl/deploy/ironlb-native.yaml.tmp
	mv impl/deploy/ironlb-native.yaml.tmp impl/deploy/ironlb-native.yaml

.PHONY: release-artifacts
release-artifacts: ## the chart packaged for VERSION (a tag, v1.2.3) and the manifest rendered from it, into bin/release/
	@case "$(VERSION)" in v[0-9]*) ;; *) echo "VERSION=v1.2.3 (a release tag) is needed" >&2; exit 1;; esac
	mkdir -p $(BIN)/release
	cp impl/deploy/crds/*.yaml charts/ironlb/crds/
	$(HELM) package charts/ironlb --version $(patsubst v%,%,$(VERSION)) --app-version $(VERSION) -d $(BIN)/release
	$(HELM) template ironlb $(BIN)/release/ironlb-$(patsubst v%,%,$(VERSION)).tgz --namespace metallb-system --set namespace.create=true > $(BIN)/release/ironlb-native.yaml
	cat impl/deploy/crds/*.yaml > $(BIN)/release/ironlb-crds.yaml
	@ls -l $(BIN)/release

.PHONY: chart-test
chart-test: k8s-bins ## helm lint --strict the chart, then its renderings (default and varied values) dry-run and installed into a real kube-apiserver
	$(HELM) lint --strict charts/ironlb
	KUBEBUILDER_ASSETS="$(K8S_ASSETS)" $(GO) test -count=1 -run 'Chart|Manifest' ./impl/deploy/

# What the host must have (lab/prereq, the one list): checked before any long step; on
# Debian/Ubuntu as root what is missing is installed (one apt-get install), elsewhere the exact
# command is printed and make stops.
PREREQS = $(GO) run ./cmd/ironlab-prereqs -install -for

.PHONY: prereqs
prereqs: ## check (and as root on Debian/Ubuntu, install) what the lab, the tests, the scenarios, make conformance and the Kind provider need; each make target that needs the host checks and installs its own part only
	$(PREREQS) all

.PHONY: test
test: prereqs-test k8s-bins ## unit tests, envtest integration tests against the real kube-apiserver, lab e2e (root)
	KUBEBUILDER_ASSETS="$(K8S_ASSETS)" $(GO) test -count=1 -timeout 30m ./...

.PHONY: test-deploy
test-deploy: prereqs-test k8s-bins ## IronLB's deploy e2e alone (e2e-framework on an ironlab lab: helm install from the chart, a Service answers, failover) (root)
	KUBEBUILDER_ASSETS="$(K8S_ASSETS)" $(GO) test -count=1 -v ./impl/deploy/e2e/

.PHONY: fresh-host
fresh-host: prereqs-kind k8s-bins ## the README's quick start as written on a fresh Debian (debootstrap minbase + Go, git, make) from a clone of HEAD, host caches mounted in; about 2 minutes (root, Debian's mirror)
	$(GO) test -tags freshhost -count=1 -v -timeout 20m ./lab/e2e/freshhost/

.PHONY: test-unit
test-unit: ## unit tests only (no control plane, no root)
	$(GO) test -short ./...

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags freshhost ./lab/e2e/freshhost/
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags freshhost ./lab/e2e/freshhost/

.PHONY: bench
bench: ## Go benchmarks of the hot paths (allocator, config); bench-e2e is the end-to-end burst
	$(GO) test -run '^$$' -bench . -benchmem ./impl/allocator/ ./impl/config/ ./impl/speaker/

.PHONY: bench-e2e
bench-e2e: k8s-bins ## end to end: IRONLB_BENCH_SERVICES (10,000) Services in a burst against a real API server
	KUBEBUILDER_ASSETS="$(K8S_ASSETS)" $(GO) test -run '^$$' -bench BenchmarkBurst -benchtime 1x -timeout 60m ./impl/controller/

.PHONY: bench-l2
bench-l2: k8s-bins ## layer 2: failover gaps of IronLB and MetalLB v0.15.2 (IRONLAB_FAILOVER_RUNS, 20, runs each), speakers with 1,000 Services, ARP under a flood (root)
	KUBEBUILDER_ASSETS="$(K8S_ASSETS)" IRONLAB_FAILOVER_RUNS=$${IRONLAB_FAILOVER_RUNS:-20} IRONLAB_FAILOVER_IMPLS=ironlb,metallb IRONLAB_L2_SCALE=1 \
		$(GO) test -count=1 -v -timeout 180m ./lab/e2e/ -ginkgo.focus 'layer 2' -ginkgo.v -ginkgo.no-color | grep --line-buffered -E 'FAILOVER|SCALE|ARPFLOOD|run [0-9]+ \(|FAIL|ok'


.PHONY: scenarios
scenarios: prereqs-scenarios build images k8s-bins lab-bins ## replay the scenario suite (scenarios/) against IronLB; reports in ironlab-report/ (root)
	$(BIN)/ironlab run scenarios/ --report $${IRONLAB_REPORT:-ironlab-report} --quiet-lab

.PHONY: conformance
conformance: prereqs-conformance build images k8s-bins ## Kubernetes' [Feature:LoadBalancer] e2e specs (v1.37.2) on the l2 and bgp labs, IronLB and MetalLB v0.15.2 side by side (CONFORMANCE_REPORT, conformance-report/: junit-IMPL.xml per mode, summary.md) (root)
	@$(LAB_BINS) coredns agnhost >/dev/null
	$(BIN)/ironlab conformance --report $${CONFORMANCE_REPORT:-conformance-report} $${CONFORMANCE_ARGS:-}

.PHONY: conformance-fast
conformance-fast: prereqs-conformance build images k8s-bins ## the specs of make conformance not marked [Slow], against IronLB on the l2 lab (what CI runs on every change) (root)
	@$(LAB_BINS) coredns agnhost >/dev/null
	$(BIN)/ironlab conformance --fast --mode l2 --impl ironlb --report $${CONFORMANCE_REPORT:-conformance-report} $${CONFORMANCE_ARGS:-}

.PHONY: soak
soak: prereqs-lab build images k8s-bins ## seeded random faults and Service churn on the l2 then the bgp lab, invariants checked (SOAK, 3m, each; SOAK_SEED replays; soak-report/soak.json) (root)
	$(BIN)/ironlab soak -t topologies/l2.yaml -t topologies/bgp.yaml --duration $${SOAK:-3m} --seed "$${SOAK_SEED:-}" \
		--report $${SOAK_REPORT:-soak-report} --quiet-lab

.PHONY: bench-scenarios
bench-scenarios: prereqs-scenarios build images k8s-bins ## failover scenarios repeated (SCENARIO_RUNS, 20) against IronLB and MetalLB v0.15.2: percentiles side by side (root)
	$(BIN)/ironlab run scenarios/l2-node-failure.yaml scenarios/l2-speaker-kill.yaml --repeat $${SCENARIO_RUNS:-20} \
		--impl ironlb,metallb --report $${IRONLAB_REPORT:-ironlab-report-bench} --quiet-lab

.PHONY: bench-l2-faults
bench-l2-faults: prereqs-scenarios build k8s-bins ## layer 2 under faults (freeze, partition, link flap, lossy bystander, API server down): SCENARIO_RUNS (5) runs each against IronLB and MetalLB v0.15.2 (root)
	$(BIN)/ironlab run scenarios/l2-node-freeze.yaml scenarios/l2-partition.yaml scenarios/l2-link-flap.yaml \
		scenarios/l2-bystander-loss.yaml scenarios/l2-apiserver-down.yaml --repeat $${SCENARIO_RUNS:-5} \
		--impl ironlb,metallb --report $${IRONLAB_REPORT:-ironlab-report-l2-faults} --quiet-lab

.PHONY: bench-bgp
bench-bgp: build images k8s-bins ## BGP: failover with BFD and with the hold time (SCENARIO_RUNS, 20), IronLB and MetalLB; 1,000 Services into the routers' FIB (root)
	$(BIN)/ironlab run scenarios/bgp-node-failure-bfd.yaml --repeat $${SCENARIO_RUNS:-20} --report $${IRONLAB_REPORT:-ironlab-report-bgp}/bfd --quiet-lab
	$(BIN)/ironlab run scenarios/bgp-node-failure-holdtime.yaml --repeat $${SCENARIO_RUNS:-20} --impl ironlb,metallb --report $${IRONLAB_REPORT:-ironlab-report-bgp}/holdtime --quiet-lab
	KUBEBUILDER_ASSETS="$(K8S_ASSETS)" IRONLAB_BGP_SCALE=1 $(GO) test -count=1 -v -timeout 60m ./lab/e2e/ -ginkgo.focus 'BGP at scale' -ginkgo.v -ginkgo.no-color | grep --line-buffered -E 'BGPSCALE|FAIL|ok'

.PHONY: bench-lab
bench-lab: k8s-bins ## the lab, without a load balancer and with IronLB: up, 3 pods answering through a ClusterIP, memory, down (root)
	KUBEBUILDER_ASSETS="$(K8S_ASSETS)" $(GO) test -run '^$$' -bench BenchmarkLabUp -benchtime 3x -timeout 20m ./lab/cli/

.PHONY: fuzz
fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	@for t in FuzzParseRange FuzzParseCommunity FuzzParseAddr; do \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-30s} ./impl/config/ ; done
	$(GO) test -run '^$$' -fuzz '^FuzzNeverDoubleAssigns$$' -fuzztime $${FUZZTIME:-30s} ./impl/allocator/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $${FUZZTIME:-30s} ./lab/topology/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $${FUZZTIME:-30s} ./lab/scenario/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $${FUZZTIME:-30s} ./impl/bfd/
	$(GO) test -run '^$$' -fuzz '^FuzzDemux$$' -fuzztime $${FUZZTIME:-30s} ./impl/bfd/
	$(GO) test -run '^$$' -fuzz '^FuzzExtract$$' -fuzztime $${FUZZTIME:-30s} ./lab/images/
	$(GO) test -run '^$$' -fuzz '^FuzzAdjust$$' -fuzztime $${FUZZTIME:-30s} ./lab/kind/runcspec/

.PHONY: prereqs-test prereqs-lab prereqs-scenarios prereqs-conformance prereqs-kind prereqs-kind-scenarios
prereqs-test:
	@$(PREREQS) test
prereqs-lab:
	@$(PREREQS) lab
prereqs-scenarios:
	@$(PREREQS) scenarios
prereqs-conformance:
	@$(PREREQS) conformance
prereqs-kind:
	@$(PREREQS) kind
# kind-scenarios runs on the netns lab too (PROVIDER=netns). A Docker engine that runs already
# (KIND_ENGINE=host) needs neither Debian's engine nor the node image built here.
prereqs-kind-scenarios:
	@$(PREREQS) $(if $(KIND_OWN),kind$(comma)lab,lab)

.PHONY: kind-scenarios
# The scenarios the kind provider runs (CI, make kind-scenarios); PROVIDER=netns runs the same list
# on the netns lab, for numbers side by side (docs/kind.md).
KIND_SCENARIOS = scenarios/l2-seed.yaml scenarios/l2-node-failure.yaml scenarios/l2-node-freeze.yaml scenarios/l2-link-flap.yaml \
	scenarios/l2-partition.yaml scenarios/l2-bystander-loss.yaml scenarios/l2-speaker-kill.yaml \
	scenarios/bgp-seed.yaml scenarios/bgp-node-failure-bfd.yaml
# KIND_ENGINE: own (the lab's own Docker engine and the node image of make kind-node-image), host
# (the host's engine at DOCKER_HOST or /var/run/docker.sock, Kind's kindest/node pulled) or
# unix:///PATH; KIND_NODE_IMAGE overrides the node image.
KIND_ENGINE ?= own
KIND_OWN = $(filter own,$(or $(KIND_ENGINE),own))
# the kind provider's flags, for PROVIDER kind (the default) only
KIND_FLAGS = $(if $(filter-out kind,$(or $(PROVIDER),kind)),,$(if $(KIND_OWN),,--kind-engine $(KIND_ENGINE)) $(if $(KIND_NODE_IMAGE),--kind-node-image $(KIND_NODE_IMAGE)))
comma := ,
kind-scenarios: prereqs-kind-scenarios build images $(if $(KIND_OWN),kind-node-image) ## scenarios on the kind provider (layer 2: seed, node failure, freeze, link flap, partition, bystander loss, speaker kill; BGP: seed, node failure with BFD), each SCENARIO_RUNS (1) times; IMPL=ironlb,metallb for MetalLB beside IronLB; PROVIDER=netns for the netns lab; KIND_ENGINE=host for the host's Docker engine and kindest/node; reports in ironlab-report-kind/ (root)
	$(BIN)/ironlab run --provider $${PROVIDER:-kind} $(KIND_SCENARIOS) $${IMPL:+--impl $$IMPL} \
		$(KIND_FLAGS) \
		--repeat $${SCENARIO_RUNS:-1} --report $${IRONLAB_REPORT:-ironlab-report-kind} --quiet-lab

.PHONY: kind-node-image
kind-node-image: prereqs-kind build k8s-bins ## the Kind node image where kindest/node cannot be pulled: Debian bookworm, kind's base files, kubelet and kubeadm from source, kubeadm's images built here (lab/kind/build; in the provider's Docker engine) (root)
	$(BIN)/ironlab __kind-engine run -- lab/kind/build/node-image.sh

.PHONY: lab-up
lab-up: prereqs-lab build images k8s-bins ## bring up the lab of TOPOLOGY (default topologies/l2.yaml; needs root)
	$(BIN)/ironlab up -t $(TOPOLOGY)

.PHONY: lab-down
lab-down: ## tear the lab down
	@if [ -x $(BIN)/ironlab ]; then $(BIN)/ironlab down --name $(LAB_NAME); else $(GO) run ./cmd/ironlab down --name $(LAB_NAME); fi

.PHONY: clean
clean: ## remove build output and reports (labs stay: `ironlab down` removes one; the binary cache stays)
	rm -rf $(BIN) report
