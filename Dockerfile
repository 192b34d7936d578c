# Kabao (卡保) container image: build in a full Rust image, run in Debian slim as a non-root user.
#   docker build -t kabao .
#   docker compose up -d        (with PostgreSQL; see compose.yaml and README "Docker")

# --- build ---------------------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY crates ./crates
RUN cargo build --release --locked -p kabao \
 && strip target/release/kabao \
 && target/release/kabao --version

# --- run -----------------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# ca-certificates: the payment gateways and SMTP over TLS; tzdata: China time in mails and pages.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 kabao \
 && useradd --system --uid 10001 --gid kabao --home-dir /data --no-create-home --shell /usr/sbin/nologin kabao \
 && mkdir -p /data \
 && chown kabao:kabao /data \
 && chmod 0700 /data
COPY --from=builder /src/target/release/kabao /usr/local/bin/kabao
USER kabao:kabao
WORKDIR /data
# Listen on all interfaces inside the container; SQLite (if no KABAO_DATABASE_URL), mails and the dev master key
# file live in /data. JSON logs for the log collector.
ENV KABAO_LISTEN=0.0.0.0:8080 \
    KABAO_DATA_DIR=/data \
    KABAO_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
# No curl in the slim image: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["kabao", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["kabao"]
CMD ["serve"]
