# ven-edge developer entry points. `make test` and `make demo` set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: venv system-deps test lint format bench clean demo deb check-deb

# The package editable with its test tools; needs only Debian's python3-venv (installed if missing).
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	bash scripts/system-deps.sh venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# python-systemd (sd_notify and the journal, as the .deb has them), built from source: needs the
# test group's gcc, pkg-config and libsystemd-dev.
$(VENV)/.systemd: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,systemd]'
	touch $@

# Every system package any target needs (scripts/system-deps.sh names the groups).
system-deps:
	bash scripts/system-deps.sh all

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
demo:
	bash scripts/system-deps.sh demo
	$(MAKE) venv
	$(BIN)/python -m hil.demo --speed $(SPEED)

test:
	bash scripts/system-deps.sh test
	$(MAKE) $(VENV)/.systemd lint
	$(BIN)/python -m pytest

bench: venv
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# The Debian package into build/deb/ (PATH cleaned inside: pyenv shims break pybuild).
deb:
	bash scripts/system-deps.sh packaging
	bash scripts/check-deb.sh --build-only

# Build, lintian, systemd-analyze, and install into a cached Debian trixie root.
check-deb:
	bash scripts/system-deps.sh packaging
	bash scripts/check-deb.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
