# emac — developer tasks. `make test` is what CI runs.
GO ?= go

.PHONY: build test vet demo fuzz bench

build:
	$(GO) build -o bin/emac ./cmd/emac

vet:
	$(GO) vet ./...

# All tests: vet, then every package's tests (fuzz seed corpora included).
test: vet
	$(GO) test -count=1 ./...

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
	$(GO) test ./internal/actionlog -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/observe -run '^$$' -fuzz '^FuzzParseCanary$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s

bench:
	bench/run
