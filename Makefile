# ven-edge developer entry points. `make test` and `make demo` set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: venv system-deps test lint format bench clean demo deb check-deb

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

system-deps:
	bash scripts/system-deps.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The whole system on this machine: vtn_lite, the simulated heater, the gateway and its page.
# SPEED=600 runs the clock faster (default 60: an hour a minute).
SPEED ?= 60
demo: system-deps venv
	$(BIN)/ven-edge demo --speed $(SPEED)

test: system-deps venv lint
	$(BIN)/python -m pytest

bench: venv
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# The Debian package into build/deb/ (PATH cleaned inside: pyenv shims break pybuild).
deb: system-deps
	bash scripts/check-deb.sh --build-only

# Build, lintian, systemd-analyze, and install into a cached Debian trixie root.
check-deb: system-deps
	bash scripts/check-deb.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
