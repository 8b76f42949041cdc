# The two commands a newcomer needs are `make run` and `make test` (README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SIM_DIR ?= run/sim
COMMA := ,

.PHONY: run test soak lint bench stubs clean
.PRECIOUS: $(VENV)/.installed-%

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "openvzd needs Python 3.11")'
	PYTHON=$(PYTHON) scripts/system-packages.sh run; test $$? -ne 1
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the project's metadata changes. `make run` installs only
# what the daemon needs; `make test` adds the test tools and the kerberos extra
# (built against libkrb5-dev, which the test packages bring). systemd-python is
# built only where libsystemd-dev is there (scripts/system-packages.sh says why).
$(VENV)/.installed-%: pyproject.toml $(VENV)/bin/python
	@extras=$(if $(filter test,$*),test$(COMMA)dev$(COMMA)kerberos,); \
	if PYTHON=$(PYTHON) scripts/system-packages.sh run; then extras=$$extras$${extras:+,}systemd; fi; \
	target=.; [ -z "$$extras" ] || target=".[$$extras]"; \
	echo "Installing openvzd$${extras:+[$$extras]} into $(VENV)"; \
	$(BIN)/python -m pip install --quiet -e "$$target" 2>&1 | grep -v 'is ignored' || true; \
	$(BIN)/python -c 'import openvzd, openvz, vzsim, grpc'
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/openvzd --simulate $(SIM_DIR) --tour

# The test packages come first, so the kerberos extra can build against libkrb5-dev.
test:
	PYTHON=$(PYTHON) scripts/system-packages.sh test
	$(MAKE) --no-print-directory $(VENV)/.installed-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The long load and fault proofs and the long fuzzing profile (tens of minutes);
# `make test` runs their quick versions. -s shows the figures the proofs print
# (latencies, fd counts, kill rounds).
soak: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -s -m soak $(PYTEST_ARGS)
	HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest -q tests/fuzz $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check daemon client vzsim tests bench scripts
	$(BIN)/mypy daemon/openvzd client/openvz
	$(BIN)/python scripts/check_layers.py

# Benchmarks print ratios against baselines measured in the same run; the bench
# extra (matplotlib) draws bench/out/scale.png.
bench: $(VENV)/.installed-test
	$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/bench_daemon.py
	PYTHONPATH=. $(BIN)/python bench/bench_remote.py
	$(BIN)/python bench/bench_ovzsh.py

stubs: $(VENV)/.installed-test
	$(BIN)/python scripts/generate_stubs.py

clean:
	rm -rf $(VENV) run build *.egg-info
