# The two commands a newcomer needs are `make run` and `make test` (README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SIM_DIR ?= run/sim
STAMP := $(VENV)/.installed

.PHONY: run test lint stubs soak bench clean

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "openvzd needs Python 3.11")'
	PYTHON=$(PYTHON) scripts/system-packages.sh run; test $$? -ne 1
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the project's metadata changes. systemd-python is built
# only where libsystemd-dev is there (scripts/system-packages.sh says why).
$(STAMP): pyproject.toml $(VENV)/bin/python
	@extras=test,dev; \
	if PYTHON=$(PYTHON) scripts/system-packages.sh run; then extras=$$extras,systemd; fi; \
	if command -v krb5-config >/dev/null; then extras=$$extras,kerberos; fi; \
	echo "Installing openvzd[$$extras] into $(VENV)"; \
	$(BIN)/python -m pip install --quiet -e ".[$$extras]" 2>&1 | grep -v 'is ignored' || true; \
	$(BIN)/python -c 'import openvzd, openvz, vzsim, grpc'
	touch $@

run: $(STAMP)
	$(BIN)/openvzd --simulate $(SIM_DIR) --tour

# The test packages come first, so the kerberos extra can build against libkrb5-dev.
test:
	PYTHON=$(PYTHON) scripts/system-packages.sh test
	$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check daemon client vzsim tests bench scripts
	$(BIN)/mypy daemon/openvzd client/openvz

stubs: $(STAMP)
	$(BIN)/python scripts/generate_stubs.py

clean:
	rm -rf $(VENV) run build *.egg-info
