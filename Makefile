# make run    — install what is missing, then serve the mock model on 127.0.0.1:8010
# make check  — install what is missing, then lint and run every test, the .deb's included
# make ui     — xterm.js from the npm registry (npm ci) and the compiled message catalogs
# make pot    — refresh po/serialconsole.pot from the sources and merge it into po/*.po
# make deb    — build the Debian package into build/deb/ (contrib/debian)
# make bench  — install what is missing, then benchmark the pipeline (table + build/bench.json)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
RUN_ARGS ?=
PYTEST_ARGS ?=
# e.g. BENCH_ARGS='--skip-real --reps 3' (see .venv/bin/python -m bench --help)
BENCH_ARGS ?=
# Debian packages the tests need, one line per concern.
# libvirt-python builds from PyPI against these:
APT_PACKAGES := libvirt-dev pkg-config gcc python3-venv
# contrib/: nginx + openssl for the TLS proxy test, systemd for systemd-analyze,
# rpm for rpmspec:
APT_PACKAGES += nginx openssl systemd rpm
# the .deb build (contrib/debian):
APT_PACKAGES += build-essential dpkg-dev debhelper dh-python pybuild-plugin-pyproject \
	python3-all python3-setuptools
# real-guest tests: libvirtd + QEMU, and what contrib/tinyguest/build-tinyguest builds a guest with:
APT_PACKAGES += libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 busybox-static cpio
# many-hypervisor tests (tests/multihv): network namespaces and veths, certificates for TLS,
# an sshd for qemu+ssh://
APT_PACKAGES += iproute2 gnutls-bin openssh-server
# Browser tests drive Debian's Chromium with Playwright (which never downloads a browser):
APT_PACKAGES += chromium
# the console page's CJK and Hangul fonts (the browser tests check the terminal draws with them):
APT_PACKAGES += fonts-noto-cjk
# xterm.js comes from the npm registry; Debian's npm only when no npm is installed at all:
ifeq ($(shell command -v npm),)
APT_PACKAGES += nodejs npm
endif
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
NPM ?= npm
NODE_MODULES := ui/node_modules/.package-lock.json
APT_GET := apt-get -o DPkg::Lock::Timeout=900
DEB_DIR := build/deb
# Debian's tools, not a venv's or pyenv's python3, build the package.
DEB_PATH := /usr/sbin:/usr/bin:/sbin:/bin

.PHONY: run check lint test bench deb deb-check system-deps clean ui pot screenshot

run: $(INSTALLED) ui
	$(VENV)/bin/serialconsole-host --mock --auth none $(RUN_ARGS)

check: lint test deb-check

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(INSTALLED) ui
	$(PY) -m pytest --ignore=tests/install $(PYTEST_ARGS)

# Not a test: figures side by side (mock model, many sessions, a real guest where libvirtd
# and QEMU can run), a Markdown table on stdout and the same figures in build/bench.json.
# Bytecode first, as an installed package has it: where PYTHONDONTWRITEBYTECODE is set, every
# console process would otherwise compile its modules from source (~70 ms of CPU per open).
bench: $(INSTALLED)
	$(PY) -m compileall -q plugin_serialconsole
	$(PY) -m bench $(BENCH_ARGS)

# The source tree, its UI built (no venv, build output or git data), with contrib/debian
# as debian/.
deb: system-deps ui
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	tar -cf - --exclude=./.venv --exclude=./build --exclude=./.git --exclude=__pycache__ \
	  --exclude='*.egg-info' --exclude=./.pytest_cache --exclude=./.ruff_cache . \
	  | tar -xf - -C $(DEB_DIR)/src
	cp -r contrib/debian $(DEB_DIR)/src/debian
	cd $(DEB_DIR)/src && env PATH=$(DEB_PATH) dpkg-buildpackage -us -uc -b
	ls $(DEB_DIR)/*.deb

# Install the .deb here, start the installed host (mock model, ephemeral ports), open a
# console, then purge it: tests/install.
deb-check: deb $(INSTALLED)
	SERIALCONSOLE_DEB="$$(ls $(DEB_DIR)/serialconsole_*_all.deb)" \
	  $(PY) -m pytest tests/install $(PYTEST_ARGS)

# Everything the pages need at run time ends up under ui/ (and .mo files in the package).
ui: $(NODE_MODULES) $(INSTALLED)
	$(PY) -m tools.catalogs compile

$(NODE_MODULES): ui/package.json ui/package-lock.json
	$(MAKE) system-deps
	cd ui && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

pot: $(INSTALLED)
	$(PY) -m tools.catalogs pot

# Refresh the README's screenshot of the console page (taken by a browser test).
screenshot: $(INSTALLED) ui
	SERIALCONSOLE_SCREENSHOT=$(CURDIR)/docs/console-page.png \
	  $(PY) -m pytest -q tests/ui/test_console_page.py -k screenshot

$(INSTALLED): setup.cfg pyproject.toml
	$(MAKE) system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# As root on Debian, install the missing build dependencies; otherwise say what is needed.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing:$$missing"; \
	  $(APT_GET) update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq $$missing >/dev/null; \
	else \
	  echo "missing Debian packages:$$missing (run as root, or install them)"; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache ui/node_modules ui/i18n \
	  plugin_serialconsole/locale
