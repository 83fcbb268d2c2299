# corral — the two commands: `make run` and `make test`. Each installs what is missing first.
SWIFT ?= swift
BIN_DEBUG := .build/debug
BIN_RELEASE := .build/release
APT_PACKAGES := libsystemd-dev libxml2-dev libedit-dev libssl-dev zlib1g-dev python3-dev pkg-config curl systemd python3 python3-venv iproute2 util-linux lintian binutils haproxy strace nodejs debootstrap testssl.sh libnghttp2-dev nghttp2-client
PORT ?= 8000

.DEFAULT_GOAL := build
.PHONY: deps build run run-flask test fuzz bench release deb man clean python-worker python-versions debian-releases

# Debian packages the build and the tests need; apt-get runs only when one is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# corral-wsgi, the Python worker's old name, stays a name for it (configs and units that say it).
# `make PYTHON=/path/to/python3.X` builds the worker for that Python too (python-worker).
build: deps
	$(SWIFT) build
	ln -sf corral-python $(BIN_DEBUG)/corral-wsgi
	$(if $(PYTHON),tools/python-worker.sh $(PYTHON) debug)

release: deps
	$(SWIFT) build -c release
	ln -sf corral-python $(BIN_RELEASE)/corral-wsgi

# Flask, Django (and Channels) and gevent for corral-python's tests, in a venv made with Debian's python3 (the one
# libpython3.11 belongs to, as on a user's Debian host; `python3` on PATH may be another build),
# and prometheus_client, whose text parser reads corrald's /metrics in the tests.
WSGI_VENV := .build/wsgi-venv
WSGI_VENV_PACKAGES := 'flask==3.1.*' 'django==5.2.*' 'gevent>=24' 'prometheus-client==0.26.*' 'fastapi==0.165.*' 'quart==0.20.*' \
	'websockets==15.*' 'flask-sock==0.7.*' 'flask-socketio==5.7.*' 'python-socketio[client]==5.18.*' 'kosoku==0.1.0' 'uvloop==0.23.*' \
	'channels==4.3.*' 'trustme==1.2.*' 'h2==4.*'
# The stamp names the package list, so changing the list rebuilds the venv.
WSGI_VENV_STAMP := $(WSGI_VENV)/.installed-$(shell echo "$(WSGI_VENV_PACKAGES)" | md5sum | cut -c1-8)
$(WSGI_VENV_STAMP):
	rm -rf $(WSGI_VENV)
	/usr/bin/python3 -m venv $(WSGI_VENV)
	$(WSGI_VENV)/bin/pip install -q $(WSGI_VENV_PACKAGES)
	touch $@

# corrald with the example config (the seed settings: workers auto, backlog 2048, access log
# `%(h)s %(t)s %(U)s %(q)s`, loglevel debug), bound to loopback. Ctrl-C stops it and its workers.
run: build
	$(BIN_DEBUG)/corrald -c config/corral.toml -b 127.0.0.1:$(PORT) -p $(CURDIR)/.build/corrald.pid

# The article's Flask app (config/flask: its gunicorn_config.py as corral.toml) on
# http://127.0.0.1:5000, served by corral-python workers, logs on the terminal. Ctrl-C stops it.
run-flask: build $(WSGI_VENV_STAMP)
	cd config/flask && $(CURDIR)/$(BIN_DEBUG)/corrald -c corral.toml --virtualenv $(CURDIR)/$(WSGI_VENV) \
		-p $(CURDIR)/.build/flask.pid --error-logfile - --access-logfile - flask_server:app

# The real supervisorctl (PyPI's supervisor) for the control-socket tests, in a private venv.
SUPERVISOR_VENV := .build/supervisor-venv
$(SUPERVISOR_VENV)/bin/supervisorctl:
	python3 -m venv $(SUPERVISOR_VENV)
	$(SUPERVISOR_VENV)/bin/pip install -q 'supervisor==4.3.0'

# corral-python for another CPython (3.10 or later, with a shared libpython), beside the default
# one built against Debian's: make python-worker PYTHON=/path/to/python3.X [CONFIG=release] makes
# .build/CONFIG/corral-python3.X (tools/python-worker.sh says what it refuses, and why).
CONFIG ?= debug
python-worker: deps
	tools/python-worker.sh $(PYTHON) $(CONFIG)

# The pyenv builds of CPython 3.10 to 3.13 (shared libpython) this machine kind carries: make test
# makes a venv of each (Flask, gevent, FastAPI) and builds the worker for each X.Y but Debian's own
# (3.11, which the default worker embeds: pyenv's 3.11.7 venv is served by it, on pyenv's
# libpython), for PythonVersionsTests. A machine without them runs the rest and says so.
PYENV_VERSIONS := $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions
DEBIAN_PYTHON_MINOR := $(shell /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VERSIONS_PYTHONS := $(shell for v in 3.10 3.11 3.12 3.13; do ls -d $(PYENV_VERSIONS)/$$v.*/bin/python3 2>/dev/null | tail -1; done)
TEST_PYTHONS := $(foreach python,$(VERSIONS_PYTHONS),$(if $(findstring /$(DEBIAN_PYTHON_MINOR).,$(python)),,$(python)))
# The same packages as the WSGI venv's (FastAPI as new as the Python takes: 0.165 needs 3.11).
VERSIONS_VENV_PACKAGES := $(subst 'fastapi==0.165.*','fastapi>=0.115',$(WSGI_VENV_PACKAGES))
VERSIONS_STAMP := .installed-$(shell echo "$(VERSIONS_VENV_PACKAGES)" | md5sum | cut -c1-8)
TEST_PYTHON_MINORS = $(foreach python,$(TEST_PYTHONS),$(shell $(python) -c 'import sys; print("%d.%d" % sys.version_info[:2])'))
# The WSGI and ASGI suites (the protocols, Flask, FastAPI, WebSockets, static_map): make test runs
# them again with each of those workers. The supervisor's suites that serve Python (preload,
# hooks, logging, reload) and WSGIClientGoneTests run with the default worker only: with the
# others, each failed once in a make test run (never alone), which is not found yet.
PYTHON_SUITES := ASGITests|StaticMapTests|WSGIContentLengthTests|WSGIFlaskTests|WSGIProtocolTests|WebSocketTests
python-versions: deps
	@[ -n "$(TEST_PYTHONS)" ] || echo "python versions: SKIPPED: no pyenv builds of CPython 3.10, 3.12, 3.13 in $(PYENV_VERSIONS)"
	@for python in $(VERSIONS_PYTHONS); do \
		minor=$$($$python -c 'import sys; print("%d.%d" % sys.version_info[:2])') && venv=.build/venv-$$minor && \
		if [ "$$minor" != "$(DEBIAN_PYTHON_MINOR)" ]; then tools/python-worker.sh $$python debug; fi && \
		if [ ! -e $$venv/$(VERSIONS_STAMP) ]; then \
			rm -rf $$venv && $$python -m venv $$venv && $$venv/bin/pip install -q $(VERSIONS_VENV_PACKAGES) && touch $$venv/$(VERSIONS_STAMP); \
		fi || exit 1; \
	done

# A second corrald whose --version differs, in a build folder of its own, for the test that
# upgrades a running corrald from one build to another and back.
UPGRADE_B := .build/upgrade-b
UPGRADE_B_VERSION := 0.4.0+b

# The unit and integration tests (the suites that load the machine most, UnderHeavyLoad, on their
# own afterwards: beside the others, their clients' latencies would measure the others' load),
# then the suites that run Python apps again with the worker built for each pyenv Python
# (python-versions), six fuzz targets for 30 s each (see fuzz), then the end-to-end test: the .deb
# installed under a real systemd booted in namespaces (root), then the same on Debian 13, and
# unstable's build serving Flask (debian-releases).
test: deps $(SUPERVISOR_VENV)/bin/supervisorctl $(WSGI_VENV_STAMP)
	$(SWIFT) build --build-tests
	ln -sf corral-python $(BIN_DEBUG)/corral-wsgi
	$(SWIFT) build --product corrald --scratch-path $(UPGRADE_B) -Xcc '-DCORRAL_VERSION="$(UPGRADE_B_VERSION)"'
	$(MAKE) python-versions
	CORRAL_SUPERVISORCTL=$(CURDIR)/$(SUPERVISOR_VENV)/bin/supervisorctl CORRAL_WSGI_VENV=$(CURDIR)/$(WSGI_VENV) \
		CORRAL_UPGRADE_B=$(CURDIR)/$(UPGRADE_B)/debug/corrald \
		CORRAL_TEST_PYTHONS="$(TEST_PYTHON_MINORS)" $(SWIFT) test --skip-build --skip UnderHeavyLoad
	$(SWIFT) test --skip-build --filter UnderHeavyLoad
	@for minor in $(TEST_PYTHON_MINORS); do \
		echo "python $$minor: the Python suites with corral-python$$minor and a venv of $$minor"; \
		CORRAL_SUPERVISORCTL=$(CURDIR)/$(SUPERVISOR_VENV)/bin/supervisorctl CORRAL_WSGI_VENV=$(CURDIR)/.build/venv-$$minor \
			CORRAL_TEST_PYTHON=$$minor $(SWIFT) test --skip-build --filter '$(PYTHON_SUITES)' || exit 1; \
	done
	$(MAKE) fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) FUZZ_TARGETS="$(TEST_FUZZ_TARGETS)"
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) deb && bash tests/e2e/systemd.sh && $(MAKE) debian-releases; \
	else echo "e2e: SKIPPED: booting systemd needs root (CI runs as root)"; fi

# corral on Debian 13 (trixie: Python 3.13, systemd 257) and unstable (Python 3.14), each in a root
# made with debootstrap and kept in .build/roots: the packages built there for the release's
# python3, installed, serving Flask from a venv, and on trixie the e2e under its systemd
# (tests/debian/release.sh; unstable's systemd no longer boots on this kernel's cgroup v1).
debian-releases: deps
	bash tests/debian/release.sh trixie e2e
	bash tests/debian/release.sh sid

# libFuzzer on each parser (tests/fuzz/run.sh; corral-fuzz built with -sanitize=fuzzer,address in
# a build folder of its own): FUZZ_SECONDS per target, from the seeds in Tests/Fuzz/. make test
# runs each for TEST_FUZZ_SECONDS. The TOML loader's target forks for every input (the loader
# parses in a child first, since the bundled toml++ aborts on some input), so it runs slower.
FUZZ_SECONDS ?= 300
TEST_FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= request-parser chunked-decoder proxy-header access-log-format xmlrpc toml-configuration static-path
TEST_FUZZ_TARGETS := $(FUZZ_TARGETS)
export FUZZ_TARGETS
fuzz: deps
	SWIFT=$(SWIFT) bash tests/fuzz/build.sh
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

bench: deps release
	bash bench/run.sh

# The man pages, in .build/man/man1: `man -l .build/man/man1/corrald.1` or MANPATH=.build/man man corrald.
man: deps
	bash packaging/man-pages.sh

# The Debian package: packaging/build-deb.sh (static Swift runtime, stripped, man pages, units).
deb: deps
	bash packaging/build-deb.sh

clean:
	rm -rf .build
