# Everything installs into .venv; the two commands a new machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install install-test install-mutation test-receivers lint demo test bench bench-fleet chaos fuzz fleet detections mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The compiled hot path (plugin/native, Rust) is built by the install, so a change to it reinstalls.
# rustup puts cargo in ~/.cargo/bin: a shell that never sourced ~/.cargo/env still builds it, and,
# as ~/.cargo/env does, it comes before a distribution's older cargo.
export PATH := $(HOME)/.cargo/bin:$(PATH)
NATIVE := plugin/native/Cargo.toml plugin/native/Cargo.lock plugin/native/src/lib.rs

$(VENV)/.runtime: pyproject.toml $(NATIVE) | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml $(NATIVE) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime

install-test: $(VENV)/.test

$(VENV)/.mutation: pyproject.toml $(NATIVE) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,mutation]'
	touch $@ $(VENV)/.test $(VENV)/.runtime

install-mutation: $(VENV)/.mutation

## Run the real hf-audit-poll twice against the simulated Hub: no token, no servers.
demo: install
	$(BIN)/python -m hf_audit.demo

## The whole test suite (what CI runs): lint and type checks first, so a finding stops it before
## pytest; pytest exits non-zero, 5 included, when nothing ran.
test: install-test test-receivers lint
	$(BIN)/pytest

## Lint and type checks, with the versions pinned in the test extra. Settings in pyproject.toml:
## [tool.ruff] (ruff's classic defaults plus W, I, B, UP) and [tool.mypy] (strict on plugin/).
lint: install-test
	$(BIN)/ruff check plugin tests
	$(BIN)/mypy plugin

## What the tests need besides Python packages. The Fluent Bit end-to-end tests run where a
## fluent-bit binary is on PATH (no registry ships one); their Loki path needs a real Loki-API
## receiver: VictoriaLogs, built from the Go proxy into go's install directory (GOBIN, else
## GOPATH/bin), where the tests look for it. Never fatal: without go, or if the build fails, it warns
## and the Loki end-to-end tests skip, naming victoria-logs.
VICTORIA_LOGS := github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1
test-receivers:
	@if ! command -v fluent-bit >/dev/null 2>&1; then \
		echo "no fluent-bit on PATH: the Fluent Bit end-to-end tests will skip (victoria-logs not needed)"; \
	elif command -v victoria-logs >/dev/null 2>&1; then :; \
	elif ! command -v go >/dev/null 2>&1; then \
		echo "warning: no go on PATH to build victoria-logs ($(VICTORIA_LOGS)): the Loki end-to-end tests will skip" >&2; \
	else \
		gobin=$$(go env GOBIN); [ -n "$$gobin" ] || gobin=$$(go env GOPATH | cut -d: -f1)/bin; \
		[ -x "$$gobin/victoria-logs" ] || GOFLAGS=-mod=mod go install $(VICTORIA_LOGS) \
			|| echo "warning: victoria-logs did not build (go install $(VICTORIA_LOGS)): the Loki end-to-end tests will skip" >&2; \
	fi

## Regenerate the shipped detections (fluent-bit/detections/) and the README's rules table from the Sigma pack.
detections: install-test
	$(BIN)/hf-audit-rules generate --out fluent-bit/detections
	$(BIN)/hf-audit-rules readme --update README.md

## Benchmarks (figures for the README's Performance section); not part of `make test`. The second
## needs fluent-bit on PATH (and java and mvn for the OpenSearch node); without them it says why and skips.
bench: install-test
	$(BIN)/python tests/bench_poll.py --events 100000 --repeat 3
	$(BIN)/python tests/bench_search.py --events 20000 --repeat 5

## The fleet in a real Fluent Bit (on PATH), long run: 32 organizations x 2,000 events backfilling at
## once, and one organization's 100,000 events beside a 20,000 records/s input (`make test` runs 20,000).
fleet: install-test
	@command -v fluent-bit >/dev/null || { echo "make fleet needs a fluent-bit binary on PATH"; exit 2; }
	HF_AUDIT_FLEET_BUSY_EVENTS=$${HF_AUDIT_FLEET_BUSY_EVENTS:-100000} $(BIN)/pytest tests/test_fleet_fluentbit.py -p no:cacheprovider -rA

## The README's fleet figures (Many organizations: memory and time); needs fluent-bit on PATH.
bench-fleet: install-test
	$(BIN)/python tests/bench_fleet.py
	$(BIN)/python tests/bench_fleet.py --old --only 32x2000 --only 1x20000+stall

## Longer kill-anywhere soak (the default in `make test` is 100 killed polls per phase).
chaos: install-test
	HF_AUDIT_CHAOS_POLLS=$${HF_AUDIT_CHAOS_POLLS:-500} $(BIN)/pytest tests/test_chaos.py -p no:cacheprovider -rA -s

## Longer fuzzing run.
fuzz: install-test
	HF_AUDIT_FUZZ_SCALE=$${HF_AUDIT_FUZZ_SCALE:-20} $(BIN)/pytest tests/test_fuzz.py -p no:cacheprovider

## Mutation testing (cosmic-ray) of the code that decides what is printed and committed, then one-line
## mutants of its compiled twin (plugin/native); not part of `make test` (tests/test_known_mutants.py
## is its quick part there). Report: build/mutation/report.txt.
mutation: install-mutation
	$(BIN)/python tests/mutation/run.py $(TARGETS)
	$(BIN)/python tests/mutation/native.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache plugin/native/target plugin/_native.*.so
