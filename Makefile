# certbound — every target works from a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CERTS_DIR ?= certs
TRUST_DOMAIN ?= demo.local
# The bundled CLI (dist/certbound.mjs, written by the build): what the package and image run.
CLI := node dist/certbound.mjs
SERVICES := orders payments attacker
STAMP := node_modules/.certbound-installed
BUILD_STAMP := dist/.build-stamp
BUILD_INPUTS := $(shell find src devstack scripts -name '*.ts') tsconfig.json tsconfig.build.json package.json

.PHONY: help setup build test test-unit lint typecheck format certs clean bench rotate rotate-ca retire-ca certs-status

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

setup: ## install dependencies (npm ci)
	npm ci --no-audit --no-fund
	@touch $(STAMP)

build: $(BUILD_STAMP) ## compile TypeScript to dist/ and write schema/ (only when an input changed)

# One stamp for the whole compile: tsc writes many files, and `make rotate` and friends
# must not recompile when no source, script or tsconfig changed since the last build.
$(BUILD_STAMP): $(STAMP) $(BUILD_INPUTS)
	npm run --silent build
	@touch $@

typecheck: $(STAMP) ## type-check sources, tests and benches
	npx tsc -p tsconfig.json --noEmit

lint: $(STAMP) ## ESLint, Prettier check and import-cycle check
	npx eslint .
	npx prettier --check .
	npx madge --circular --extensions ts --ts-config tsconfig.json src

format: $(STAMP) ## rewrite files with Prettier
	npx prettier --write .

test: build lint typecheck ## install if needed, build, lint, type-check, run every test
	npx vitest run

test-unit: $(STAMP) ## unit tests only
	npx vitest run test/unit

certs: build ## dev CA + certificates for orders, payments and attacker in certs/
	$(CLI) certs init --dir $(CERTS_DIR)
	@for s in $(SERVICES); do \
	  $(CLI) certs issue --dir $(CERTS_DIR) --name $$s --spiffe-id spiffe://$(TRUST_DOMAIN)/ns/default/sa/$$s; \
	done

clean: ## remove build output and generated certificates
	rm -rf dist schema coverage bench/results
	find $(CERTS_DIR) -mindepth 1 ! -name README.md -exec rm -rf {} +

bench: build ## benchmarks: prints ratios measured side by side in one run
	node --import tsx bench/run.ts

rotate: build ## re-issue one workload certificate in place: make rotate NAME=orders
	@test -n "$(NAME)" || { echo "usage: make rotate NAME=<workload>" >&2; exit 2; }
	$(CLI) certs rotate --dir $(CERTS_DIR) --name $(NAME)

rotate-ca: build ## new CA; bundles hold old+new; every workload re-issued under the new CA
	$(CLI) certs rotate-ca --dir $(CERTS_DIR)

retire-ca: build ## remove the old CA from every bundle
	$(CLI) certs retire-ca --dir $(CERTS_DIR)

certs-status: build ## subject, SPIFFE ID, thumbprint, issuer and expiry of each certificate
	$(CLI) certs status --dir $(CERTS_DIR)

.PHONY: demo demo-up
DEMO := node dist/devstack/demo/main.js --certs $(CERTS_DIR)

demo: build certs ## the one-command tour: dev AS + two services + sidecars, narrated attack and rotation
	$(DEMO)

demo-up: build certs ## start the demo stack and keep it running (Ctrl-C stops it); prints endpoints and curl commands
	$(DEMO) --up
