# make run    — install what is missing, then serve the mock model on 127.0.0.1:8010
# make check  — install what is missing, then lint and run every test
# make ui     — xterm.js from the npm registry (npm ci) and the compiled message catalogs
# make pot    — refresh po/serialconsole.pot from the sources and merge it into po/*.po
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
RUN_ARGS ?=
PYTEST_ARGS ?=
# Debian packages the tests need, one line per concern.
# libvirt-python builds from PyPI against these:
APT_PACKAGES := libvirt-dev pkg-config gcc python3-venv
# real-guest tests: libvirtd + QEMU, and what contrib/tinyguest/build-tinyguest builds a guest with:
APT_PACKAGES += libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 busybox-static cpio
# Browser tests drive Debian's Chromium with Playwright (which never downloads a browser):
APT_PACKAGES += chromium
# xterm.js comes from the npm registry; Debian's npm only when no npm is installed at all:
ifeq ($(shell command -v npm),)
APT_PACKAGES += nodejs npm
endif
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
NPM ?= npm
NODE_MODULES := ui/node_modules/.package-lock.json

.PHONY: run check lint test system-deps clean ui pot screenshot

run: $(INSTALLED) ui
	$(VENV)/bin/serialconsole-host --mock --auth none $(RUN_ARGS)

check: lint test

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(INSTALLED) ui
	$(PY) -m pytest $(PYTEST_ARGS)

# Everything the pages need at run time ends up under ui/ (and .mo files in the package).
ui: $(NODE_MODULES) $(INSTALLED)
	$(PY) tools/catalogs.py compile

$(NODE_MODULES): ui/package.json ui/package-lock.json
	$(MAKE) system-deps
	cd ui && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

pot: $(INSTALLED)
	$(PY) tools/catalogs.py pot

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
	  apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get -o DPkg::Lock::Timeout=900 install -y -qq $$missing >/dev/null; \
	else \
	  echo "missing Debian packages:$$missing (run as root, or install them)"; \
	fi

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache ui/node_modules ui/i18n \
	  plugin_serialconsole/locale
