# cronhost: the two quick-start commands are `make run` and `make test`.
# Both install what is missing (Debian 12 packages, apt-get, as root) and build first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= jobs.d
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian 12 packages the build and the tests need.
DEBS := make cmake ninja-build g++ ccache pkg-config tzdata bash python3 \
        libyaml-dev nlohmann-json3-dev libcli11-dev libcctz-dev libvalijson-dev \
        liblua5.4-dev libsqlite3-dev libsqlitecpp-dev libspdlog-dev \
        catch2 libbenchmark-dev libcurl4-openssl-dev zlib1g-dev libcpp-httplib-dev libssl-dev \
        python3-aiosmtpd docker-registry apache2-utils openssl chromium wrk \
        libpq-dev libmariadb-dev libsystemd-dev postgresql-15 postgresql-client-15 mariadb-server mariadb-client \
        faketime libpugixml-dev libjansson-dev groff-base man-db zsh fonts-dejavu-core

.PHONY: all deps browser-deps storage-deps bench-deps promtool build install test test-db unit-asan run bench chaos fuzz clean \
        image-deps image test-image

all: build

deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The dashboard's browser test: Debian's chromium (in DEBS) driven by npm's playwright-core,
# pinned by tests/browser/package-lock.json. No browser is downloaded.
browser-deps: deps
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; }
	@[ -d tests/browser/node_modules/playwright-core ] && [ -d tests/browser/node_modules/pixelmatch ] || \
	  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

# The off-site backup tests' object stores: s3rver (S3) and azurite (Azure Blob) from npm,
# pinned by tests/storage/package-lock.json, started by tests/support/storage_servers.py.
storage-deps: deps
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; }
	@[ -d tests/storage/node_modules/s3rver ] || \
	  (cd tests/storage && npm ci --no-audit --no-fund --loglevel=error)

# The peers bench/peers_bench.py measures beside the host (for `make bench` only, so not in
# DEBS): croner, cron-parser and node-cron from npm, pinned by bench/peers/package-lock.json,
# and APScheduler from Debian's python3-apscheduler (for /usr/bin/python3: the python3 first on
# PATH may not see Debian's packages).
bench-deps: deps
	@dpkg-query -W -f='$${Status}\n' python3-apscheduler 2>/dev/null | grep -q '^install ok installed' || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends python3-apscheduler; }
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; }
	@[ -d bench/peers/node_modules/croner ] && [ -d bench/peers/node_modules/cron-parser ] && \
	  [ -d bench/peers/node_modules/node-cron ] || (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error)

# promtool (the metrics test's `check metrics`, and the example alert rules' checks and tests)
# from Debian's prometheus package, unpacked into the build folder: installing the package
# would start a Prometheus server on the machine.
PROMTOOL := $(BUILD)/tools/usr/bin/promtool
promtool: $(PROMTOOL)
$(PROMTOOL):
	@mkdir -p $(BUILD)/tools
	cd $(BUILD)/tools && { apt-get download prometheus 2>/dev/null || { $(SUDO) apt-get update -qq && apt-get download prometheus; }; } && \
	  dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb
	@test -x $(PROMTOOL)

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD)

# Installs under PREFIX (FHS layout: README, "Installing"); DESTDIR stages it for a package,
# e.g. `make install PREFIX=/usr DESTDIR=$PWD/stage`. Builds only what is installed.
PREFIX ?= /usr/local
install: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) --target cronhost cronhost-plugin-runner manuals
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer, in their own build dir.
# Unoptimised and only the unit tests (with the runner and test plugins they load): a clean
# build takes 5.5 min on 2 cores instead of 17 for everything at -O2. The cli test runs in
# the main build.
unit-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCRONHOST_SANITIZE=ON -DCRONHOST_BENCH=OFF \
	  -DCRONHOST_INTEGRATION=OFF
	cmake --build $(ASAN_BUILD) --target unit_tests
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j2 -E '^cli$$'

test: build browser-deps storage-deps promtool
	cd $(BUILD) && ctest --output-on-failure -j2
	$(MAKE) unit-asan

# The database tests alone, against the PostgreSQL and MariaDB servers they start
# (tests/support/dbserver.py): Catch2 tests tagged [db], integration tests named test_db*.py
# and migrate-state's.
test-db: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) --target unit_tests cronhost
	$(BUILD)/tests/unit_tests "[db]"
	cd tests/integration && CRONHOST_BIN=$(CURDIR)/$(BUILD)/cronhost /usr/bin/python3 -m unittest discover -p 'test_db*.py'
	cd tests/integration && CRONHOST_BIN=$(CURDIR)/$(BUILD)/cronhost /usr/bin/python3 -m unittest test_migrate_state

# The OCI image (Dockerfile), built and run with Debian's podman: no Docker Hub. The base image
# debian:bookworm-slim is made once from Debian's archive by mmdebstrap (about 2 min) and
# imported under its Docker Hub name, so the Dockerfile is the same for Docker users. Like the
# Hub's slim image it leaves out man pages, locales, docs and apt's caches: 127 MB instead of
# 180 MB (the Hub's is about 75 MB). runc, not crun (crun fails on this machine's hybrid
# cgroups); --isolation chroot lets RUN steps work here.
IMAGE        ?= localhost/cronhost:test
IMAGE_BASE   := docker.io/library/debian:bookworm-slim
IMAGE_DEBS   := podman runc mmdebstrap uidmap fuse-overlayfs podman-compose
IMAGE_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

image-deps:
	@missing=$$(for p in $(IMAGE_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(SUDO) podman image exists $(IMAGE_BASE) || { \
	  rootfs=$$(mktemp -d /var/tmp/cronhost-rootfs.XXXXXX) && \
	  $(SUDO) mmdebstrap --variant=minbase --aptopt='APT::Install-Recommends "false"' \
	    $(foreach p,man locale doc info,--dpkgopt='path-exclude=/usr/share/$(p)/*') \
	    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
	    --customize-hook='rm -rf "$$1"/var/cache/apt/*.bin "$$1"/var/cache/apt/archives/*.deb "$$1"/var/lib/apt/lists/*' \
	    bookworm $$rootfs/rootfs.tar && \
	  $(SUDO) podman import $$rootfs/rootfs.tar $(IMAGE_BASE) && rm -rf $$rootfs; }

# The build runs under the shared build lock, niced, like every compile on this machine; the
# compiler cache is a build cache mount, so a rebuild after a change compiles only that.
image: image-deps
	@flock /tmp/build.lock sh -c 'start=$$(date +%s); \
	  nice $(SUDO) podman build --isolation chroot --pull=never --format docker \
	    --build-arg CRONHOST_COMMIT=$(IMAGE_COMMIT) -t $(IMAGE) . && \
	  echo "image $(IMAGE) built in $$(( $$(date +%s) - start )) s (after the wait for the build lock)"'
	@$(SUDO) podman image inspect --format '{{.Size}}' $(IMAGE) | awk '{printf "image size: %.0f MB\n", $$1/1e6}'

test-image: image
	cd tests/image && CRONHOST_IMAGE=$(IMAGE) CRONHOST_COMMIT=$(IMAGE_COMMIT) $(SUDO) /usr/bin/python3 -m unittest -v test_image test_examples

# The host on the bundled jobs.d/, in the foreground (Ctrl-C stops it gracefully).
# The dashboard is at http://127.0.0.1:8080/; log in with the token in admin.token (made on
# first use, readable only by you).
run: build admin.token
	CRONHOST_ADMIN_TOKEN="$$(cat admin.token)" $(BUILD)/cronhost validate --jobs $(JOBS)
	@echo "dashboard: http://127.0.0.1:8080/ (token: the contents of admin.token)"
	CRONHOST_ADMIN_TOKEN="$$(cat admin.token)" $(BUILD)/cronhost run --jobs $(JOBS)

admin.token:
	umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' > $@

# Three hosts on one PostgreSQL state under random faults (kill -9, SIGSTOP past the lease,
# pg_terminate_backend, PostgreSQL killed and restarted) for CHAOS_MINUTES; prints the figures.
CHAOS_MINUTES ?= 30
chaos: build
	cd tests/integration && CHAOS_MINUTES=$(CHAOS_MINUTES) CRONHOST_BIN=$(abspath $(BUILD))/cronhost \
	  /usr/bin/python3 -m unittest -v test_cluster_chaos.ClusterChaosTest

# The every-second window of bench/peers_bench.py for each scheduler and job count.
PEERS_SECONDS ?= 20

# Figures in README ("Performance"). The dispatch runs take about three minutes in all, the
# peers (bench/peers_bench.py: croner, cron-parser, node-cron, APScheduler beside the host) about
# five minutes more (275 s measured with PEERS_SECONDS=20).
bench: build storage-deps bench-deps
	$(BUILD)/bench/cron_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
	$(BUILD)/bench/run_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
	$(BUILD)/bench/plugin_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
	$(BUILD)/bench/db_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
	$(BUILD)/bench/db_mysql_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
	$(BUILD)/bench/claim_bench --hosts 3 --jobs 1000 --rounds 20
	CRONHOST_BIN=$(BUILD)/cronhost /usr/bin/python3 bench/table_source_bench.py --rows 10000 --reads 10
	CRONHOST_BIN=$(BUILD)/cronhost /usr/bin/python3 bench/storage_bench.py --size-mib 256 --runs 3 --curl-parts --host-parts
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/api_bench.py load
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/api_bench.py list
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/dispatch_bench.py idle
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/dispatch_bench.py rate --jobs 1000 --seconds 20
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/dispatch_bench.py rate --jobs 10000 --seconds 60
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/dispatch_bench.py rate --jobs 20000 --seconds 20
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/dispatch_bench.py load --jobs 10000
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/dispatch_bench.py load --jobs 100000
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/dispatch_bench.py burst --jobs 128 --workers 64 --seconds 20
	CRONHOST_BIN=$(BUILD)/cronhost python3 bench/peers_bench.py --seconds $(PEERS_SECONDS) --out $(BUILD)/bench/peers.json

# The job loader under a long fuzz run (make test runs 20,000 cases with a fixed seed). Each
# run takes a new seed and prints it; CRONHOST_FUZZ_SEED=N replays one.
FUZZ_CASES ?= 2000000
fuzz: build
	CRONHOST_FUZZ_CASES=$(FUZZ_CASES) $(BUILD)/tests/unit_tests "[fuzz]"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
