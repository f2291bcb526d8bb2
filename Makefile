# Two commands do all setup on a fresh machine: `make demo` and `make test`.
# Both create .venv and install the project into it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RTDS   ?= ../shared/rtds

.PHONY: venv demo test lint typecheck unit conformance bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/smets-hil demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# make test passes on a bare clone: it never reads ../shared.
test: lint typecheck unit

# The reference-message suite; fails (never skips) when the RTDS folder is missing.
conformance: $(STAMP)
	@test -d "$(RTDS)/RTDS-4.5.0" -a -d "$(RTDS)/keystore" || \
		{ echo "conformance: RTDS not found at $(RTDS) (set RTDS=...)"; exit 1; }
	SMETS_HIL_RTDS="$(abspath $(RTDS))" $(BIN)/pytest -q tests/conformance -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python bench/codec.py $(RTDS)/RTDS-4.5.0 --keys $(RTDS)/keystore

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# Command round trips per second over memory, a pty and MQTT, and idle device memory.
.PHONY: bench-roundtrip
bench-roundtrip: $(STAMP)
	$(BIN)/python bench/roundtrip.py
