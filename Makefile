# Aurigraph infrastructure: every entry point a person or CI uses.
STACK  ?= prod
FORMAT ?= text
BASE   ?= origin/main
GO     ?= go

.PHONY: help test unit integration plan policy plan-diff pin lint deps build reboot

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

test: lint unit integration ## everything CI runs: lint, unit tests, tests against real software

unit: ## fast tests: mocked whole-stack runs, renderers, policies
	$(GO) test -count=1 ./...

integration: ## tests that hand generated files to real nginx, promtool, postgres, redis, sshd, shellcheck
	$(GO) test -count=1 -tags integration -run Integration ./...

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

build: ## compile the program and the policy pack
	$(GO) build ./...
	$(GO) build -o bin/policy-pack ./policy

# The linters are pinned in tools/go.mod (their own module: nothing of theirs
# enters the program's dependency graph) and built into bin/lint.
LINT_BIN := bin/lint

$(LINT_BIN)/staticcheck $(LINT_BIN)/deadcode: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../$(LINT_BIN)/ honnef.co/go/tools/cmd/staticcheck golang.org/x/tools/cmd/deadcode

lint: $(LINT_BIN)/staticcheck $(LINT_BIN)/deadcode ## formatting, vet, staticcheck and deadcode, over the integration tests too
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(LINT_BIN)/staticcheck -tags integration ./...
	@# -test: what only tests call is used; -tags integration: by those tests too.
	@out=$$($(LINT_BIN)/deadcode -test -tags integration ./...) && test -z "$$out" || { echo "$$out"; echo "deadcode: the functions above are never called: delete them"; exit 1; }

deps: ## install what the tests need (Debian/Ubuntu, as root)
	./.ci/install-deps
