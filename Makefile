# emac — developer tasks. `make test` is what CI runs.
GO ?= go

.PHONY: build test vet demo fuzz bench generate otelcol

# controller-gen, pinned; `go run` fetches it through the module proxy, so it
# is not a dependency in go.mod.
CONTROLLER_GEN ?= $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.16.5
HELM_CHART ?= deploy/helm/emac

build:
	$(GO) build -o bin/emac ./cmd/emac

vet:
	$(GO) vet ./...
	cd collector && $(GO) vet ./...

# All tests: vet, then every package's tests (fuzz seed corpora included), in
# the main module and the collector module (collector/). The collector's end-to-end
# test runs bin/otelcol-emac, which `otelcol` builds (minutes the first time,
# seconds after).
test: vet otelcol
	$(GO) test -count=1 ./...
	cd collector && $(GO) test -count=1 ./...

# An OpenTelemetry Collector with emac's connector, by the Collector Builder from
# the module proxy (docs/collector.md).
otelcol:
	bash hack/otelcol.sh >/dev/null

# Generated code and manifests: deepcopy, the CRDs (config/crd/bases, copied
# into the Helm chart), and the controller's ClusterRole from its
# +kubebuilder:rbac markers. Until internal/controller has those markers,
# config/rbac/role.yaml is kept by hand. config/crd's test fails when the
# committed files differ from what this writes.
generate:
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd:allowDangerousTypes=true paths=./api/kube/... output:crd:artifacts:config=config/crd/bases
	@if grep -rqs --include='*.go' '+kubebuilder:rbac' internal/controller; then \
		echo '$(CONTROLLER_GEN) rbac:roleName=emac-controller paths=./internal/controller/... output:rbac:artifacts:config=config/rbac'; \
		$(CONTROLLER_GEN) rbac:roleName=emac-controller paths=./internal/controller/... output:rbac:artifacts:config=config/rbac; \
	else \
		echo 'generate: no +kubebuilder:rbac markers in internal/controller; config/rbac/role.yaml left as is'; \
	fi
	rm -f $(HELM_CHART)/crds/*.yaml
	cp config/crd/bases/*.yaml $(HELM_CHART)/crds/
	cp config/rbac/role.yaml $(HELM_CHART)/files/role.yaml

demo:
	$(GO) run ./cmd/emac demo

# Run each fuzz target for FUZZTIME (default 1m).
FUZZTIME ?= 1m
fuzz:
	$(GO) test ./internal/spec -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/slo -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/model -run '^$$' -fuzz '^FuzzParseFlow$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/emit/prometheus -run '^$$' -fuzz '^FuzzWindowed$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/emit/prometheus -run '^$$' -fuzz '^FuzzGrouped$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/emit/yamlw -run '^$$' -fuzz '^FuzzQuote$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/emit/prometheus -run '^$$' -fuzz '^FuzzSelector$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/promhist -run '^$$' -fuzz '^FuzzParseSelect$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/emit/guards -run '^$$' -fuzz '^FuzzTranslate$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/discovery/otlp -run '^$$' -fuzz '^FuzzReadJSON$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/discovery/otlp -run '^$$' -fuzz '^FuzzReadProto$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/discovery/jaeger -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/discovery/zipkin -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/discovery/nezha -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/discovery/mesh -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/discovery/kube -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/patch -run '^$$' -fuzz '^FuzzApply$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/cli -run '^$$' -fuzz '^FuzzReadDeltas$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/discovery -run '^$$' -fuzz '^FuzzDiscover$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/discovery -run '^$$' -fuzz '^FuzzRebuild$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/actionlog -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/observe -run '^$$' -fuzz '^FuzzParseCanary$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s

bench:
	bench/run
