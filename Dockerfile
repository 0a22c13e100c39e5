# cronhost's OCI image: built on Debian 12, run on debian:bookworm-slim with only the runtime
# libraries. Build and test it with `make test-image` (podman; no Docker Hub needed).
#
#   podman build --format docker --build-arg CRONHOST_COMMIT=$(git rev-parse --short=12 HEAD) -t cronhost .
#   docker build --build-arg CRONHOST_COMMIT=$(git rev-parse --short=12 HEAD) -t cronhost .
#
# --format docker keeps the HEALTHCHECK (the OCI format has no field for it).

# --- build: everything `cmake --install` installs (the daemon, the plugin runner, generated
# files) and the two small example plugins; no tests, no benchmarks
FROM docker.io/library/debian:bookworm-slim AS build
# valijson is headers only, but its package depends on every JSON library it has an adapter for
# (Qt 5, Poco, jsoncpp, ...: 340 MB more in the build stage); cronhost uses its nlohmann
# adapter alone, so the package's files are unpacked without them.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cmake ninja-build g++ ccache pkg-config \
      libyaml-dev nlohmann-json3-dev libcli11-dev \
      liblua5.4-dev libsqlite3-dev libsqlitecpp-dev libspdlog-dev \
      libcurl4-openssl-dev zlib1g-dev libcpp-httplib-dev libssl-dev \
      libpq-dev libmariadb-dev libpugixml-dev libsystemd-dev \
      libjansson-dev \
 && cd /tmp && apt-get download -qq libvalijson-dev && dpkg-deb -x libvalijson-dev_*.deb / && rm libvalijson-dev_*.deb \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The commit `cronhost --version` prints (there is no .git in the build context).
ARG CRONHOST_COMMIT=unknown
# The ccache folder is a build cache mount (docker buildx and buildah both keep it between
# builds): a rebuild after a source change compiles only what changed.
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
      -DCRONHOST_BENCH=OFF -DCRONHOST_TESTS=OFF -DCRONHOST_COMMIT="${CRONHOST_COMMIT}" \
 && cmake --build /build \
 && (ccache --show-stats | grep -E 'Hits|Misses' || true)
# The installed layout under /usr (cronhost in bin/, the host binary and its runner in libexec/cronhost/, the
# plugin headers, schemas and examples), stripped, staged for the runtime image.
RUN DESTDIR=/stage cmake --install /build --prefix /usr --strip

# --- runtime
FROM docker.io/library/debian:bookworm-slim
# The shared libraries the daemon loads (objdump -p: NEEDED; the runner needs only libc),
# TLS roots, time zones,
# tini (PID 1: reaps orphans and forwards SIGTERM) and curl (the health check).
# pg_dump/mariadb-dump for db.dump (a nightly-backup of a PostgreSQL or MySQL app database;
# SQLite needs no tool) depend on Perl, so they are left out by default:
#   --build-arg CRONHOST_EXTRA_DEBS="postgresql-client mariadb-client"
ARG CRONHOST_EXTRA_DEBS=""
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libyaml-0-2 libsqlite3-0 libspdlog1.10 libfmt9 liblua5.4-0 libpq5 \
      libcurl4 zlib1g libssl3 libpugixml1v5 libmariadb3 libcpp-httplib0.11 libsystemd0 \
      ca-certificates tzdata tini curl ${CRONHOST_EXTRA_DEBS} \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# A fixed numeric uid, so Kubernetes' runAsNonRoot can check it and volumes can be chowned.
RUN groupadd --system --gid 10001 cronhost \
 && useradd --system --uid 10001 --gid cronhost --home-dir /var/lib/cronhost --shell /usr/sbin/nologin cronhost \
 && install -d -o cronhost -g cronhost -m 0700 /var/lib/cronhost \
 && install -d -o cronhost -g cronhost -m 0750 /var/backups/app /var/lib/app
COPY --from=build /stage/ /
# The bundled host config and jobs: every value comes from the environment (see README).
COPY cronhost.yaml /etc/cronhost/cronhost.yaml
COPY jobs.d/ /etc/cronhost/jobs.d/
COPY scripts/ /etc/cronhost/scripts/

# Service mode: config /etc/cronhost/cronhost.yaml, jobs /etc/cronhost/jobs.d, state
# /var/lib/cronhost/state.db. The API listens on every address of the container.
ENV CRONHOST_SERVICE=1 \
    CRONHOST_LISTEN=0.0.0.0:8080
USER 10001:10001
WORKDIR /var/lib/cronhost
VOLUME ["/etc/cronhost/jobs.d", "/var/lib/cronhost"]
EXPOSE 8080
# /health is open in the bundled cronhost.yaml (server.open); 503 when the scheduler is stuck.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${CRONHOST_LISTEN##*:}/health" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/bin/cronhost"]
# Service mode (CRONHOST_SERVICE=1) gives the paths; a config's state: (PostgreSQL) wins.
CMD ["run"]
