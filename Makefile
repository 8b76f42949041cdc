# The two commands a newcomer needs are `make run` and `make test` (README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SIM_DIR ?= run/sim
COMMA := ,

.PHONY: run test soak lint bench stubs man install uninstall clean
.PRECIOUS: $(VENV)/.installed-%

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "openvzd needs Python 3.11 or later")'
	PYTHON=$(PYTHON) scripts/system-packages.sh run; test $$? -ne 1
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the project's metadata changes. `make run` installs only
# what the daemon needs; `make test` adds the test tools and the kerberos extra
# (built against libkrb5-dev, which the test packages bring). systemd-python is
# built only where libsystemd-dev is there (scripts/system-packages.sh says why).
# -qq: setuptools' notes on editable installs are not for the user; errors still show.
$(VENV)/.installed-%: pyproject.toml $(VENV)/bin/python
	@extras=$(if $(filter test,$*),test$(COMMA)dev$(COMMA)kerberos,); \
	if PYTHON=$(PYTHON) scripts/system-packages.sh run; then extras=$$extras$${extras:+,}systemd; fi; \
	target=.; [ -z "$$extras" ] || target=".[$$extras]"; \
	echo "Installing openvzd$${extras:+[$$extras]} into $(VENV)"; \
	$(BIN)/python -m pip install -qq -e "$$target" 2>&1 | grep -v 'is ignored' || true; \
	$(BIN)/python -c 'import openvzd, openvz, vzsim, grpc'
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/openvzd --simulate $(SIM_DIR) --tour

# The test packages come first, so the kerberos extra can build against libkrb5-dev.
test:
	PYTHON=$(PYTHON) scripts/system-packages.sh test
	$(MAKE) --no-print-directory $(VENV)/.installed-test
	$(BIN)/python scripts/build_manpages.py build/man >/dev/null
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
	$(BIN)/python bench/bench_exec.py
	$(BIN)/python bench/bench_relay.py
	$(BIN)/python bench/bench_libvirt.py
	$(BIN)/python bench/bench_flood.py

stubs: $(VENV)/.installed-test
	$(BIN)/python scripts/generate_stubs.py

# openvzd(8), ovzsh(1), openvzd.toml(5) and ovzsh's bash completion, generated from
# the argument parsers and the configuration's defaults, into build/man.
man: $(VENV)/.installed-run
	$(BIN)/python scripts/build_manpages.py build/man >/dev/null

# On a real host, as root: openvzd in its own virtualenv at PREFIX, the unit (running
# PREFIX/bin/openvzd), tmpfiles.d, the default configuration (an existing one is kept),
# man pages, bash completion and docs. DESTDIR stages it all under another root.
# docs/install.md tells the whole story.
PREFIX ?= /opt/openvzd
INSTALL_VARS = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" PYTHON="$(PYTHON)" EXTRAS="$(EXTRAS)"
install:
	$(INSTALL_VARS) scripts/install.sh install

uninstall:
	$(INSTALL_VARS) scripts/install.sh uninstall

clean:
	rm -rf $(VENV) run build *.egg-info
