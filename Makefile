# Skerry build, run, test, benchmark.
GO        ?= go
BIN       := bin/skerry
DATA_DIR  ?= ./data
# An execution count, not a duration: Go 1.26's fuzz coordinator can fail a
# duration-bounded run with a spurious "context deadline exceeded" at the
# boundary on a loaded machine (golang/go#75804, fixed in Go 1.27).
FUZZTIME  ?= 20000x
STATICCHECK_VERSION ?= v0.8.2

.PHONY: build run test test-short fuzz bench lint clean

build:
	$(GO) build -o $(BIN) ./cmd/skerry

# One durable node with an embedded PD: RESP on 127.0.0.1:6379, data in ./data.
run: build
	./$(BIN) server --data-dir $(DATA_DIR)

# Every package's tests, the concurrent core again under the race detector,
# then a few seconds of each fuzz target.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -race -count=1 -timeout 15m ./resp/... ./commands/... ./mvcc/... ./regionraft/... ./cluster/...
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

test-short:
	$(GO) test -count=1 -short ./...

# Runs every Fuzz* target for FUZZTIME each (go test allows one target per run);
# FUZZTIME=60s works for longer local runs.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# Skerry and redis-server side by side with redis-benchmark (needs redis-server, redis-benchmark),
# then a 3-node Skerry cluster beside a 3-member etcd cluster (bench/cluster.sh; CLUSTER=0 skips it,
# SINGLE=0 runs only it; etcd is built once into bench/.cache from the Go module proxy), then
# redis-benchmark --cluster against a redirect-mode cluster beside plain redis-benchmark through
# one forwarding node (bench/cluster-proto.sh; CLUSTERPROTO=0 skips it).
bench: build
	./bench/run.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

clean:
	rm -rf bin
