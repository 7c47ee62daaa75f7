# aibox — the commands a newcomer needs are `make dev` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PNPM := pnpm
TSC := node node_modules/tsgo/bin/tsc

.PHONY: help install build typecheck lint check-generated generate test test-only bench dev clean sandbox-image

help:
	@echo "make dev    run aibox locally (embedded stores, no Docker)"
	@echo "make test   lint, generated-code check, typecheck and every test"
	@echo "make build | lint | bench | generate | clean"
	@echo "make sandbox-image   build aibox/sandbox:latest for the code sandbox (Debian, needs root, debootstrap, Docker)"

# Installs pnpm 12 when it is missing, then the workspace's locked dependencies.
install:
	@command -v pnpm >/dev/null 2>&1 || npm i -g pnpm@12
	@$(PNPM) install --frozen-lockfile

build: install
	@$(TSC) -b tsconfig.json
	@$(PNPM) --filter @aibox/frontend run build --logLevel warn

typecheck: install
	@$(TSC) -p tsconfig.check.json
	@$(TSC) -p frontend/tsconfig.json

lint: install
	@node_modules/.bin/eslint --max-warnings 0 .
	@node_modules/.bin/prettier --check . --log-level warn

generate: install
	@$(PNPM) --filter @aibox/contracts run generate

check-generated: install
	@bash tools/scripts/check-generated.sh

test: install lint check-generated typecheck build test-only

test-only:
	@node_modules/.bin/vitest run

bench: build
	@node tools/dist/bench/run.js

dev: build
	@node tools/dist/dev/main.js

# The code sandbox's default image, debootstrapped from Debian and `docker import`ed; a no-op when it exists.
sandbox-image:
	@bash tools/scripts/sandbox-image.sh

clean:
	@$(TSC) -b tsconfig.json --clean
