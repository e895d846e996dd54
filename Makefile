# Aurigraph infrastructure: every entry point a person or CI uses.
STACK  ?= prod
FORMAT ?= text
BASE   ?= origin/main
GO     ?= go
# PKGS restricts lint's vet, unit and integration to some packages (make test PKGS=./components/pki/).
PKGS   ?= ./...

.PHONY: help test unit integration plan policy plan-diff pin lint deps build reboot docs release bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# The software check runs first and alone: lint and the tests may run in
# parallel (make -j) but all need it.
test: ## everything CI runs: installs missing test software (see deps), then lint, unit tests, tests against real software
	@./.ci/install-deps --ensure
	@$(MAKE) --no-print-directory lint unit integration

unit: ## fast tests: mocked whole-stack runs, renderers, policies
	$(GO) test -count=1 -timeout 30m $(PKGS)

integration: ## tests that hand generated files to real nginx, promtool, postgres, redis, sshd, shellcheck
	$(GO) test -count=1 -timeout 30m -tags integration -run Integration $(PKGS)

# -run '^$$': benchmarks only; BENCHTIME=5x for steadier figures.
BENCHTIME ?= 3x
bench: ## plan benchmarks at 25, 100, 250 and 1,000 application nodes: ns/op, allocations and resources per plan (README, Scale)
	$(GO) test -run '^$$' -bench 'Plan' -benchtime $(BENCHTIME) ./tests/

plan: ## offline plan of STACK (FORMAT=text|json): no Pulumi CLI, backend or secrets needed
	@$(GO) run ./cmd/plan -stack $(STACK) -format $(FORMAT)

policy: ## policy verdicts for STACK over a mocked run of the real program
	@$(GO) run ./cmd/policy -stack $(STACK)

plan-diff: ## readable diff of the offline plans of BASE (a git ref) and the working tree for STACK
	@$(GO) run ./cmd/plandiff -base $(BASE) -stack $(STACK)

pin: ## resolve every image tag of STACK to its registry digest and write it into Pulumi.$(STACK).yaml (PIN_FLAGS=-dry-run, -registry-override docker.io=URL)
	@$(GO) run ./cmd/pin -stack $(STACK) $(PIN_FLAGS)

reboot: ## reboot STACK's hosts that need it (HOSTS=a,b: those), one at a time, gateway drained first; ARGS=-dry-run to look first
	scripts/with-deploy-key $(STACK) -- $(GO) run ./cmd/reboot -stack $(STACK) $(if $(HOSTS),-hosts $(HOSTS)) $(ARGS)

release: ## drive a release of STACK step by step (ARGS='-image I -prometheus URL … canary|blue-green|rolling', or status, promote, abort, resume; -dry-run): docs/runbooks/release.md
	scripts/with-deploy-key $(STACK) -- $(GO) run ./cmd/release -stack $(STACK) $(ARGS)

.PHONY: diagram
DIAGRAM_STACKS ?= prod staging
diagram: ## redraw docs/architecture-<stack>.dot and .svg from the offline plans (needs Graphviz: make deps)
	@for s in $(DIAGRAM_STACKS); do $(GO) run ./cmd/diagram -stack $$s || exit 1; done

docs: ## regenerate docs/configuration.md and Pulumi.yaml's descriptions from the config struct's tags (stacks/config.go), and docs/network-zones.md from internal/zones
	$(GO) run ./cmd/configdocs

build: ## compile the program and the policy pack
	$(GO) build ./...
	$(GO) build -o bin/policy-pack ./policy

# The linters are pinned in tools/go.mod (their own module: nothing of theirs
# enters the program's dependency graph) and built into bin/lint.
LINT_BIN := bin/lint

LINTERS := $(LINT_BIN)/staticcheck $(LINT_BIN)/deadcode $(LINT_BIN)/actionlint

$(LINTERS): tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(LINT_BIN)/ honnef.co/go/tools/cmd/staticcheck golang.org/x/tools/cmd/deadcode github.com/rhysd/actionlint/cmd/actionlint

lint: $(LINTERS) ## formatting, vet, staticcheck, deadcode, and actionlint over .github/workflows (with shellcheck over their run: blocks)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration $(PKGS)
	$(LINT_BIN)/staticcheck -tags integration $(PKGS)
	@# -test: what only tests call is used; -tags integration: by those tests too. The whole
	@# program only: over a few packages (PKGS) every export would look unused.
	@# The workflows always: they are not Go packages. actionlint runs shellcheck
	@# over every run: block when shellcheck is on PATH (make deps installs it).
	@command -v shellcheck >/dev/null || { echo "actionlint: shellcheck is not installed (make deps): run: blocks would go unchecked"; exit 1; }
	$(LINT_BIN)/actionlint -no-color
	$(if $(filter ./...,$(PKGS)),@out=$$($(LINT_BIN)/deadcode -test -tags integration ./...) && test -z "$$out" || { echo "$$out"; echo "deadcode: the functions above are never called: delete them"; exit 1; })

deps: ## install the Debian packages the tests need (as root: sudo make deps); the list is .ci/install-deps
	@./.ci/install-deps
