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

# The suite in three parts: the tests that are not slow two files at a time (pytest-xdist, one
# file per worker); the slow ones (the whole-site tests) two files at a time too, as they mostly
# wait on their sites' clocks and share no port or file between files; then the few held to a
# deadline at line rate (marked alone) by themselves, as a second site beside them can make one
# reply late. On a 2-core machine the slow tests took 435 s one at a time.
test: venv system-deps lint
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow" --durations=10
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "slow and not alone" --durations=10
	$(BIN)/python -m pytest -m alone --durations=10

demo: venv
	$(BIN)/clearline demo

bench: venv
	$(BIN)/clearline bench

clean:
	rm -rf $(VENV) var bench-results .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
