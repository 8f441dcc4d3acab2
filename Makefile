# todo-app — see README.md. `make run` and `make test` work on a fresh checkout.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := scripts/test-services.sh
PYTEST_ARGS ?=
# make run PORT=8001 HOST=0.0.0.0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest bench profile bench-faults services services-stop clean tools daprd deploy-check minikube \
	images compose-up compose-down cluster-up cluster-ready cluster-down cluster-test

$(BIN)/python:
	@echo "==> [1/3] creating the virtual environment $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] upgrading pip"
	$(BIN)/pip install --quiet --upgrade pip

# pip's own progress: a line per package it collects and a bar per download
# (about a minute on a fresh checkout).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "==> [3/3] installing todo-app and its dependencies into $(VENV)"
	$(BIN)/pip install --progress-bar on -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

## run: the whole system in one process on http://127.0.0.1:8000 (SQLite in the per-user data
##   folder, in-process bus); PORT=8001 and HOST=0.0.0.0 move it. A busy port stops it at once.
##   `todo serve` takes the port first, then migrates and says how the database was found.
run: $(VENV)/.installed
	@$(BIN)/todo serve --migrate --service all --host $(HOST) --port $(PORT)

## test: lint, type-check, then the whole suite against real PostgreSQL and Redis
test: lint typecheck pytest

lint: $(VENV)/.installed-dev web-check asyncapi-validate
	$(BIN)/ruff check $(wildcard services events mcp_server assistant tests bench) && $(BIN)/lint-imports --no-logo

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

## asyncapi: regenerate docs/asyncapi.yaml and docs/schemas/events/ from events/schemas.py
.PHONY: asyncapi
asyncapi: $(VENV)/.installed-dev
	$(BIN)/python -m events.catalogue

## asyncapi-validate: docs/asyncapi.yaml checked by the AsyncAPI CLI (web/'s dev dependency),
##   offline: its usage analytics are off through a config file of its own in build/
.PHONY: asyncapi-validate
asyncapi-validate: web/node_modules/.package-lock.json
	mkdir -p build
	echo '{"analyticsEnabled":"false","infoMessageShown":"true","userID":"todo-app"}' \
		> build/asyncapi-analytics.json
	cd web && ASYNCAPI_METRICS_CONFIG_PATH=$(CURDIR)/build/asyncapi-analytics.json \
		SUPPRESS_NO_CONFIG_WARNING=1 NODE_CONFIG_STRICT_MODE=0 \
		node_modules/.bin/asyncapi validate ../docs/asyncapi.yaml --fail-severity=warn

## web-check: the page's modules type-checked (tsc, JSDoc) and their unit tests (node --test)
.PHONY: web-check
web-check: web/node_modules/.package-lock.json
	cd web && node_modules/.bin/tsc --noEmit -p jsconfig.json && node --test test/

## the page's npm dev dependencies (TypeScript; axe-core, which the browser tests inject)
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

## Debian's Chromium for the browser tests (Playwright drives it; no browser download)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq --no-install-recommends chromium

pytest: $(VENV)/.installed-dev web/node_modules/.package-lock.json services $(CHROMIUM) daprd images
	eval "$$($(SERVICES) env)" && DAPRD="$$(scripts/dapr.sh --print)" DAPR_SCHEDULER="$$(scripts/dapr.sh scheduler --print)" DOCKER_COMPOSE="$$(scripts/docker.sh compose)" \
		TODO_SCREENSHOTS=$(CURDIR)/build/screenshots CHROMIUM_PATH=$(CHROMIUM) $(BIN)/pytest $(PYTEST_ARGS)

## services: start the PostgreSQL and Redis servers the tests use (idempotent)
services:
	$(SERVICES) start --kafka

services-stop:
	$(SERVICES) stop --kafka

## bench: benchmarks against the same real servers (not part of `make test`)
##   ONLY=name runs one (assistant, create, dapr, events, mcp, occurrences, relay, reminders, search)
##   (the dapr benchmark uses the daprd of `make daprd`, and says it did not run without one)
bench: $(VENV)/.installed-dev services
	eval "$$($(SERVICES) env)" && DAPRD="$$(scripts/dapr.sh --print)" DAPR_SCHEDULER="$$(scripts/dapr.sh scheduler --print)" \
		$(BIN)/python -m bench $(if $(ONLY),--only $(ONLY))

## profile: flame graph (py-spy, SVG in bench/results/) of the task API creating tasks under load
##   PROFILE_SECONDS (20)
profile: $(VENV)/.installed-dev services
	eval "$$($(SERVICES) env)" && $(BIN)/python -m bench.profile --seconds $${PROFILE_SECONDS:-20}

## profile-chat: the same for model turns against the local Chat Completions stand-in
.PHONY: profile-chat
profile-chat: $(VENV)/.installed-dev services
	eval "$$($(SERVICES) env)" && $(BIN)/python -m bench.profile --chat --seconds $${PROFILE_SECONDS:-20}

## profile-relay: the same for the outbox relay publishing to Kafka
.PHONY: profile-relay
profile-relay: $(VENV)/.installed-dev services
	eval "$$($(SERVICES) env)" && $(BIN)/python -m bench.profile --relay --seconds $${PROFILE_SECONDS:-20}

## bench-faults: load + fault campaign on a stack of its own (minutes; not part of `make test`)
##   FAULTS_USERS (50), FAULTS_DURATION seconds (300), FAULTS=on|off
bench-faults: $(VENV)/.installed-dev
	FAULTS_USERS=$${FAULTS_USERS:-50} FAULTS_DURATION=$${FAULTS_DURATION:-300} FAULTS=$${FAULTS:-on} \
		$(BIN)/python -m bench.faults

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

## tools: helm, kubeconform, actionlint, promtool, otelcol-todo (built from the Go module proxy) and shellcheck,
##   cached in ~/.cache/todo-app/bin
tools:
	scripts/tools.sh

## daprd: the Dapr sidecar and Dapr's scheduler (the Jobs API), built from the Go module proxy
##   (scripts/dapr.sh), cached in ~/.cache/todo-app/dapr; a cold build takes minutes, later runs build nothing
daprd:
	scripts/dapr.sh >/dev/null
	scripts/dapr.sh scheduler >/dev/null

## images: every image the compose stack runs, built here from Debian's packages, Maven Central,
##   PyPI and the Go module proxy, never pulled (scripts/images.sh); starts the engine if needed
images:
	scripts/images.sh

## compose-up: the whole system in containers (compose.yaml), healthy; last line `URL http://127.0.0.1:PORT`
##   TODO_PORT (8080) moves the page and the API
compose-up:
	scripts/compose.sh up

## compose-down: remove the stack's containers, network and volumes
compose-down:
	scripts/compose.sh down

## cluster-up: a single-node Kubernetes 1.34 cluster from host processes (scripts/cluster/cluster.sh; root,
##   the container engine), Dapr's control plane, the images, and the chart installed (namespace todo);
##   last line `URL http://127.0.0.1:PORT` (TODO_CLUSTER_PORT, 30080). A cold build compiles for about
##   15 minutes; warm, the cluster is up in about 25 s and the app a few minutes later
cluster-up: cluster-ready
	scripts/cluster/cluster.sh install

## cluster-ready: the cluster and Dapr's control plane up, the images built and loaded; no app installed
cluster-ready: images
	scripts/docker.sh start
	scripts/cluster/cluster.sh up
	scripts/cluster/cluster.sh dapr-up
	scripts/cluster/cluster.sh load $$(scripts/cluster/cluster.sh app-images)

## cluster-down: stop it, remove its interfaces, iptables rules, mounts and state (logs stay in build/cluster/logs)
cluster-down:
	scripts/cluster/cluster.sh down

## cluster-test: the chart on that cluster (not part of `make test`; the app of cluster-up is not needed):
##   tests/cluster: helm install --wait with values-local.yaml in a namespace of its own, helm test, the
##   acceptance path through the gateway's NodePort, pods killed mid-scenario, helm upgrade, helm uninstall
cluster-test: $(VENV)/.installed-dev cluster-ready
	TODO_CLUSTER_TEST=1 KUBECONFIG="$$(scripts/cluster/cluster.sh kubeconfig)" \
		KUBECTL="$$(scripts/cluster/cluster.sh kubectl-path)" HELM="$$(scripts/tools.sh)/helm" \
		$(BIN)/pytest tests/cluster $(PYTEST_ARGS)

## deploy-check: chart, manifests, workflows and scripts, offline (also part of `make test`)
deploy-check: $(VENV)/.installed-dev
	$(BIN)/pytest tests/deploy

## minikube: the whole system on Minikube (Dapr, Strimzi Kafka, the chart), helm test, the URL
minikube:
	scripts/minikube-up.sh
