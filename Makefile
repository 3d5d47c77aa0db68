# The two commands of the contract: `make demo` and `make test` (both from a fresh clone).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
SERVING_ENV := $(VENV)/serving
PLATFORM_ENV := $(VENV)/platform
UV_VERSION  := 0.13.9
BIN         := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export UV_CACHE_DIR ?= $(HOME)/.cache/uv
# Every environment is installed with its bytecode compiled: where PYTHONDONTWRITEBYTECODE is set (container images,
# this project's CI) Python would otherwise recompile each module it imports in every process - each Ansible module
# run, pod, server start (docs/benchmarks.md, "Compiled bytecode").
export UV_COMPILE_BYTECODE := 1

.PHONY: help setup demo test test-cluster test-python test-molecule lint teardown lock browser clean cluster-bins cluster-deps

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.uv:
	@py=$$(scripts/find-python); echo "setup: creating $(VENV) with $$py"; \
	"$$py" -m venv $(VENV) && $(VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION) && touch $@

$(VENV)/.main: $(VENV)/.uv requirements/main.lock train_job/pyproject.toml app/pyproject.toml
	@echo "setup: installing the controller environment (ansible, mlflow, tensorflow, gradio, test tools)"
	flock $(VENV)/.make-lock $(BIN)/uv pip sync -q --python $(BIN)/python requirements/main.lock
	flock $(VENV)/.make-lock $(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e ./train_job -e ./app
	@touch $@

$(SERVING_ENV)/.main: $(VENV)/.uv model_server/requirements.lock model_server/pyproject.toml
	@echo "setup: installing the model server environment ($(SERVING_ENV))"
	@[ -x $(SERVING_ENV)/bin/python ] || $(BIN)/uv venv -q --python $(BIN)/python $(SERVING_ENV)
	flock $(VENV)/.make-lock $(BIN)/uv pip sync -q --python $(SERVING_ENV)/bin/python model_server/requirements.lock
	flock $(VENV)/.make-lock $(BIN)/uv pip install -q --python $(SERVING_ENV)/bin/python --no-deps -e ./model_server
	@touch $@

# The test platform's stand-ins for OpenShift AI's containers (storage initializer, OVMS on OpenVINO, ModelMesh's
# puller): only the cluster tests need them.
$(PLATFORM_ENV)/.main: $(VENV)/.uv tests/cluster/runtimes/requirements.lock
	@echo "setup: installing the test platform's runtime environment ($(PLATFORM_ENV))"
	@[ -x $(PLATFORM_ENV)/bin/python ] || $(BIN)/uv venv -q --python $(BIN)/python $(PLATFORM_ENV)
	flock $(VENV)/.make-lock $(BIN)/uv pip sync -q --python $(PLATFORM_ENV)/bin/python tests/cluster/runtimes/requirements.lock
	@touch $@

setup: $(VENV)/.main $(SERVING_ENV)/.main ## create .venv/ with the pinned dependencies

demo: setup ## stand the whole demo up on this machine (local target)
	$(BIN)/ansible-playbook site.yml

teardown: setup ## stop the local demo and remove its state
	$(BIN)/ansible-playbook teardown.yml

browser: ## Debian's Chromium for the browser tests (Playwright's own download is not reachable)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup browser cluster-bins cluster-deps ## run every test (unit, components, end to end, browser, hardening, lint, cluster + molecule)
	$(BIN)/python -m pytest tests --durations=40

test-cluster: setup cluster-bins cluster-deps ## only the real-kube-apiserver and molecule suite
	$(BIN)/python -m pytest tests/cluster

test-molecule: setup cluster-bins cluster-deps ## only the molecule scenarios (each in its own mount namespace)
	$(BIN)/python -m pytest tests/cluster/test_cluster_molecule.py

cluster-deps: $(PLATFORM_ENV)/.main ## what the test cluster's pods run on: the runtime env, Debian's PostgreSQL and iproute2
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && command -v ip >/dev/null && command -v nsenter >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql iproute2 util-linux >/dev/null; }

cluster-bins: ## build kube-apiserver, kube-controller-manager, etcd for the cluster tests (cached; ~30 min cold)
	bash tests/cluster/build-bins.sh

lint: setup ## ansible-lint (production profile) and yamllint
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --offline

lock: $(VENV)/.uv ## re-resolve the pinned dependency locks
	flock $(VENV)/.make-lock $(BIN)/uv pip compile -q --universal --python-version 3.11 requirements/main.in -o requirements/main.lock
	flock $(VENV)/.make-lock $(BIN)/uv pip compile -q --universal --python-version 3.11 model_server/requirements.in -o model_server/requirements.lock
	flock $(VENV)/.make-lock $(BIN)/uv pip compile -q --universal --python-version 3.11 tests/cluster/runtimes/requirements.in -o tests/cluster/runtimes/requirements.lock
	flock $(VENV)/.make-lock $(BIN)/uv pip compile -q --universal --python-version 3.12 --generate-hashes app/requirements.txt -c requirements/main.lock -o app/requirements.lock
	flock $(VENV)/.make-lock $(BIN)/uv pip compile -q --universal --python-version 3.12 --generate-hashes images/mlflow-server/requirements.txt -c requirements/main.lock -o images/mlflow-server/requirements.lock
	flock $(VENV)/.make-lock $(BIN)/uv pip compile -q --universal --python-version 3.12 --generate-hashes train_job/requirements.txt -c requirements/main.lock -o train_job/requirements.lock

clean: ## remove the environments (not the demo state: use `make teardown`)
	rm -rf $(VENV)
