# The two commands of the README's quick start are `make demo` and `make test`.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
EXE      := $(shell $(GO) env GOEXE)
REGO_MIN_COVERAGE ?= 95

.PHONY: all build demo test vet actionlint gotest rego bench fuzz mutants clean

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
	$(GO) -C tools/gremlins vet ./...
	@test -z "$$(gofmt -l cmd internal policies testdata tools)" || (echo "gofmt needed:"; gofmt -l cmd internal policies testdata tools; exit 1)

# The GitHub Actions examples, checked by actionlint (a go tool of go.mod): expressions, runner labels, action
# inputs, and the run: scripts through shellcheck when it is installed (.ci/run installs it).
actionlint:
	$(GO) tool actionlint docs/examples/github-actions/*.yml

# The second line tests the summary of make mutants (its own module); it runs no mutant.
gotest:
	$(GO) test -race -count=1 ./...
	$(GO) -C tools/gremlins test -race -count=1 ./...

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

# Mutation testing with gremlins (its own module, tools/gremlins, so that the main module does not depend on it): for
# each package of MUTANTS_PACKAGES, mutate its code one change at a time and run that package's tests against each
# mutant. Writes gremlins' results (.mutants/internal-fix.json and .log, …), .mutants/lived.txt (the mutants no test
# caught) and prints the table (.mutants/summary.txt). Not part of make test: it takes about 20 minutes on 2 cores.
# The build is warmed first so that gremlins times a test run, not a cold build: its timeout per mutant is that time
# multiplied by MUTANTS_TIMEOUT_COEFFICIENT.
MUTANTS_PACKAGES            ?= internal/fix internal/policy internal/api
MUTANTS_WORKERS             ?= 2
MUTANTS_TIMEOUT_COEFFICIENT ?= 10
GREMLINS := $(GO) tool -modfile=tools/gremlins/go.mod gremlins
mutants:
	@mkdir -p .mutants
	@set -e; start=$$(date +%s); for p in $(MUTANTS_PACKAGES); do \
	  n=$$(echo $$p | tr / -); rm -f .mutants/$$n.json; \
	  echo "mutants: $$p (progress in .mutants/$$n.log)"; \
	  $(GO) test -count=1 -cover -run '^$$' ./$$p >/dev/null; \
	  if ! GOFLAGS="$$($(GO) env GOFLAGS) -count=1 -vet=off" $(GREMLINS) unleash --workers $(MUTANTS_WORKERS) \
	      --timeout-coefficient $(MUTANTS_TIMEOUT_COEFFICIENT) --output $(CURDIR)/.mutants/$$n.json $(CURDIR)/$$p \
	      >.mutants/$$n.log 2>&1; then tail -20 .mutants/$$n.log; exit 1; fi; \
	done; \
	$(GO) -C tools/gremlins run ./summary -lived $(CURDIR)/.mutants/lived.txt $(CURDIR)/.mutants $(MUTANTS_PACKAGES) \
	  >.mutants/summary.txt; \
	cat .mutants/summary.txt; \
	echo "$$(wc -l <.mutants/lived.txt) mutants lived (.mutants/lived.txt); $$(( ($$(date +%s) - start) / 60 )) min"

clean:
	rm -rf bin audit-report .mutants
