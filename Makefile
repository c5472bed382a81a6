# The two commands of the README's quick start are `make demo` and `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
EXE      := $(shell $(GO) env GOEXE)
REGO_MIN_COVERAGE ?= 95

.PHONY: all build demo test vet actionlint gotest rego bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/audit$(EXE) ./cmd/audit

# Scan the bundled demo tenants (testdata/tenants, built into the binary), served by the built-in emulator: prints the
# table, writes ./audit-report/report.{json,html}.
demo:
	$(GO) run ./cmd/audit demo

# Every test: go vet (for Windows too: the binary must build there), the workflow examples' lint, the Go tests with
# the race detector, and the Rego tests with coverage.
test: vet actionlint rego gotest

# ./... leaves out testdata, where the package that embeds the demo tenants lives: it is named too.
vet:
	$(GO) vet ./... ./testdata/tenants
	GOOS=windows $(GO) vet ./...
	$(GO) mod tidy -diff
	@test -z "$$(gofmt -l cmd internal policies testdata)" || (echo "gofmt needed:"; gofmt -l cmd internal policies testdata; exit 1)

# The GitHub Actions examples, checked by actionlint (a go tool of go.mod): expressions, runner labels, action
# inputs, and the run: scripts through shellcheck when it is installed (.ci/run installs it).
actionlint:
	$(GO) tool actionlint docs/examples/github-actions/*.yml

gotest:
	$(GO) test -race -count=1 ./...

rego:
	$(GO) tool opa fmt --fail --list policies
	$(GO) tool opa check --strict policies
	$(GO) run ./cmd/audit policies test --coverage --min-coverage $(REGO_MIN_COVERAGE)

# Each fuzz target for FUZZTIME (seed corpora in each package's testdata/fuzz run in make test too).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/api -run '^$$' -fuzz '^FuzzDecodePage$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/config -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/emulator -run '^$$' -fuzz '^FuzzParseFixture$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/snapshot -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)

# Scale and speed against 1,000 generated environments on the emulator (about two minutes): prints the table and
# writes .bench/latest.json and .bench/latest.md (docs/performance.md). BENCH_FLAGS passes options, e.g. --environments 200.
# The harness and its measured processes are bin/audit-bench, built on the same application layer as bin/audit.
bench:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/audit-bench$(EXE) ./cmd/audit-bench
	bin/audit-bench $(BENCH_FLAGS)

clean:
	rm -rf bin audit-report
