# Anvil's build. `make help` lists the targets; CI (.ci/run) calls the same
# targets a person runs.

SHELL := /bin/bash
GO ?= go
BIN := bin
TOOLS := $(BIN)/tools
STATE_DIR ?= .anvil
# Fuzzing budget per target. An execution count rather than a duration: with a
# duration, Go 1.26's fuzz coordinator can report a spurious "context deadline
# exceeded" failure when the time runs out (golang/go#75804, fixed in Go 1.27).
# A count has no deadline to race; 20000 executions take 1-5 s per target here.
FUZZTIME ?= 20000x
# Packages whose fuzz targets `make fuzz` runs briefly (each target for FUZZTIME).
FUZZ_PKGS := $(shell grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./tools/' | xargs -r -n1 dirname | sort -u)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build every daemon and the anvil CLI into bin/
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: lifecycle
lifecycle: ## Build the static lifecycle programs (builder, launcher) into bin/lifecycle/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/lifecycle/ ./diego/lifecycle/cmd/builder ./diego/lifecycle/cmd/launcher

.PHONY: buildpacks
buildpacks: ## Build the system buildpack zips into bin/buildpacks/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/buildpacks/.staticfile-server ./buildpacks/staticfile/server
	$(GO) run ./diego/lifecycle/cmd/buildpackzip -dir buildpacks/binary -o $(BIN)/buildpacks/binary_buildpack.zip
	$(GO) run ./diego/lifecycle/cmd/buildpackzip -dir buildpacks/staticfile -o $(BIN)/buildpacks/staticfile_buildpack.zip -add lib/staticfile-server=$(BIN)/buildpacks/.staticfile-server
	$(GO) run ./buildpacks/go/cmd/gotoolchain -goroot "$$($(GO) env GOROOT)" -o $(BIN)/buildpacks/.go-toolchain.tar.gz
	$(GO) run ./diego/lifecycle/cmd/buildpackzip -dir buildpacks/go -o $(BIN)/buildpacks/go_buildpack.zip -add lib/go.tar.gz=$(BIN)/buildpacks/.go-toolchain.tar.gz
	$(GO) run ./diego/lifecycle/cmd/buildpackzip -dir buildpacks/nodejs -o $(BIN)/buildpacks/nodejs_buildpack.zip
	$(GO) run ./diego/lifecycle/cmd/buildpackzip -dir buildpacks/python -o $(BIN)/buildpacks/python_buildpack.zip
	$(GO) run ./diego/lifecycle/cmd/buildpackzip -dir buildpacks/ruby -o $(BIN)/buildpacks/ruby_buildpack.zip

STACK_CACHE_DIR ?= /var/cache/anvil/stacks

.PHONY: stack
stack: ## Build the debian-bookworm stack with debootstrap (root; ~5 min the first time, then reused while its recipe is unchanged)
	$(GO) build -o $(BIN)/anvil ./cmd/anvil
	$(BIN)/anvil stack build --cache-dir $(STACK_CACHE_DIR)

.PHONY: dev
dev: build lifecycle buildpacks stack ## Build, then start the whole platform locally in the background (anvil dev up --detach)
	$(BIN)/anvil dev up --detach --state-dir $(STATE_DIR) --bin-dir $(BIN)

.PHONY: down
down: ## Stop a platform started by `make dev`
	$(BIN)/anvil dev down --state-dir $(STATE_DIR)

.PHONY: test
test: lint check-generated unit fuzz ## Everything CI runs

.PHONY: unit
unit: ## Unit and integration tests (real Postgres, NATS, containerd where present)
	$(GO) test -count=1 -timeout 30m ./...

.PHONY: e2e
e2e: ## The end-to-end suite alone (builds every daemon, starts the platform with the launcher; root and containerd)
	$(GO) test -count=1 -timeout 30m -v ./test/e2e/

.PHONY: race
race: ## Tests with the race detector
	$(GO) test -race -count=1 -timeout 30m ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target briefly (FUZZTIME executions each) on top of its committed corpus
	@set -e; for pkg in $(FUZZ_PKGS); do \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$pkg/*_test.go | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

.PHONY: bench
bench: ## Run benchmarks (results are recorded in docs/performance.md)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: tools
tools: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc ## Build the pinned code generators (tools/go.mod)

$(TOOLS)/%: tools/go.mod tools/go.sum
	$(GO) build -modfile=tools/go.mod -o $(TOOLS)/ $(shell $(GO) list -modfile=tools/go.mod tool 2>/dev/null | grep '/$*$$')

.PHONY: generate
generate: tools ## Regenerate Go code from api/**/*.proto
	$(TOOLS)/buf lint
	$(TOOLS)/buf generate

.PHONY: check-generated
check-generated: generate ## Fail when committed generated code is stale
	@git diff --exit-code -- api/ || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- api/)" || { git status --short -- api/; echo "untracked generated files: run make generate and commit"; exit 1; }

.PHONY: clean
clean: ## Remove build output
	rm -rf $(BIN)
