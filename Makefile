# Clearline: `make demo` runs the whole site on simulators; `make test` runs the whole suite;
# `make unit` runs the pure tests in well under a minute.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv system-deps lint unit test demo bench clean

$(STAMP): pyproject.toml
	$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed (set PY=python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

lint: venv
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# The pure tests: contracts, the customs and sorting domains, device codecs and register maps.
# No network, no database, no browser (about 20 s on one core).
UNIT_TESTS := $(wildcard tests/contracts tests/inspection tests/sorting tests/devices/codecs \
	tests/devices/test_modbus_maps.py tests/devices/test_topics.py \
	tests/devices/test_xray_image.py tests/devices/test_barcode_image.py \
	tests/devices/test_profiles.py)

unit: venv
	$(BIN)/python -m pytest -q $(UNIT_TESTS)

# The suite in two parts: the tests that are not slow two at a time (pytest-xdist, one file per
# worker), then the slow ones (the whole-site tests) alone, as their timing expects.
test: venv system-deps lint
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow" --durations=10
	$(BIN)/python -m pytest -m slow --durations=10

demo: venv
	$(BIN)/clearline demo

bench: venv
	$(BIN)/clearline bench

clean:
	rm -rf $(VENV) var bench-results .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
