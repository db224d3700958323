# syntax=docker/dockerfile:1
#
# Capstone server image.
#   docker build -t capstone .
#   docker run --rm -p 8080:8080 -v capstone-data:/app/data capstone
# Needs BuildKit (the default builder since Docker 23) for the cache mounts below.

# ---- build ------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src

# Only what the build reads, so edits to docs or deploy files do not invalidate this layer.
COPY Cargo.toml Cargo.lock ./
# The patched sqlx-core (see vendor/README.md) and the bundled SQLite's build flags.
COPY vendor ./vendor
COPY .cargo ./.cargo
COPY crates ./crates

# The cargo registry, git checkouts and target dir live in BuildKit cache mounts: rebuilds
# reuse downloaded crates and compiled dependencies. The target dir is not part of the
# image, so the binary is copied out within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p capstone \
 && install -D -m 0755 target/release/capstone /out/capstone

# ---- runtime ----------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

# SQLite is bundled and TLS is rustls, so the CA roots are the only runtime dependency.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 capstone \
 && useradd --system --uid 10001 --gid capstone --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin capstone \
 && mkdir -p /app/data \
 && chown capstone:capstone /app/data

COPY --from=builder /out/capstone /usr/local/bin/capstone

WORKDIR /app
# Numeric, so that orchestrators enforcing "run as non-root" can verify it.
USER 10001:10001

# Listen on every interface inside the container; emit one JSON log object per line.
# The default DATABASE_URL (sqlite://data/capstone.db?mode=rwc) lands in /app/data.
ENV CAPSTONE_HOST=0.0.0.0 \
    PORT=8080 \
    CAPSTONE_LOG_FORMAT=json
VOLUME ["/app/data"]
EXPOSE 8080

# No curl in the image: bash's /dev/tcp sends a bare HTTP request to the liveness endpoint.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-8080} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]

# `capstone serve` finishes in-flight requests on SIGTERM (CAPSTONE_SHUTDOWN_TIMEOUT_SECS,
# default 30 s): give `docker stop` longer than that, e.g. `docker stop -t 40`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["capstone"]
CMD ["serve"]
