# make run    — install what is missing, then serve the mock model on 127.0.0.1:8010
# make check  — install what is missing, then lint and run every test
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

.PHONY: run check lint test system-deps clean

run: $(INSTALLED)
	$(VENV)/bin/serialconsole-host --mock --auth none $(RUN_ARGS)

check: lint test

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: $(INSTALLED)
	$(PY) -m pytest $(PYTEST_ARGS)

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
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
