# Development entry points. `make setup` is idempotent; every other target depends on it.
PYTHON      := /usr/bin/python3
VENV        := .venv
BIN         := $(VENV)/bin
SUDO        := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian ships these for the system Python 3.11 (docs/decisions.md, decision 1); pip installs only what Debian lacks.
APT_PACKAGES := python3-tornado python3-psutil python3-kazoo python3-daemon python3-http-parser python3-venv \
                python3-thrift thrift-compiler python3-croniter openssh-server \
                zookeeper chromium chromium-driver python3-selenium \
                debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools lintian debootstrap \
                systemd-container
PIP_PACKAGES := pystachio==0.8.10 pymesos==0.3.15 sqlite-utils pytest ruff grpcio-tools protobuf
STAMP       := $(VENV)/.setup-done

.PHONY: setup gen test test-unit test-integration stress demo bench lint clean deb test-deb

setup: $(STAMP)

$(STAMP): Makefile pyproject.toml
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	[ -x $(BIN)/python ] || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(PIP_PACKAGES)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Aurora's Thrift API: thermos_executor/aurora_api/gen is generated from thermos_executor/aurora_api/aurora.thrift and committed (see
# docs/decisions.md); run this after editing the IDL. A unit test fails while gen/ is stale.
gen: setup
	$(BIN)/python scheduler/api/codegen.py

test: setup
	$(BIN)/pytest -q tests

test-unit: setup
	$(BIN)/pytest -q tests/unit

test-integration: setup
	$(BIN)/pytest -q tests/integration

# Randomized fault trials: the replicated log, and runners killed at random (100 trials each; `make test` runs
# a short subset of each).
stress: setup
	LOG_STRESS_TRIALS=$${LOG_STRESS_TRIALS:-100} RUNNER_CHAOS_TRIALS=$${RUNNER_CHAOS_TRIALS:-100} \
	  $(BIN)/pytest -q tests/integration/test_log_trials.py tests/integration/test_runner_chaos.py

demo: setup
	$(BIN)/python examples/demo.py

# BENCH_FLAGS shortens the long ones for a quick run: make bench BENCH_FLAGS="--idle-seconds 10 --cron-minutes 3"
bench: setup
	$(BIN)/python bench/run_all.py $(BENCH_FLAGS)

# .deb packages (aurora-executor, aurora-scheduler, aurora-tools; packaging/debian/control) into build/deb/,
# one version, lintian errors fatal; the checkout stays clean. See docs/packaging.md.
deb: setup
	PIP=$(BIN)/pip packaging/build-debs build/deb

# Build, then install/run/upgrade/purge in clean debootstrapped bookworm roots (tests/packaging; needs root):
# the agent package in a chroot; a cluster of four roots booted with systemd-nspawn, three masters (a ZooKeeper
# ensemble, quorum 2, failover, upgrade, purge) and an agent (slow: only here).
test-deb: setup
	AURORA_TEST_DEB=1 $(BIN)/pytest -q tests/packaging

lint: setup
	$(BIN)/ruff check thermos_executor thermos_observer scheduler tests bench examples

clean:
	rm -rf $(VENV) build *.egg-info
