# trustwatch container image.
# Build:  docker build -t trustwatch .
# Use:    docker run --rm -v trustwatch-data:/data -v "$PWD/pkg.zip:/in/pkg.zip:ro" trustwatch verify /in/pkg.zip
# The hardened image (health check, `run` as the default command) comes with the
# operations issue; until the watchers land the default command prints the help.

FROM rust:1-bookworm AS builder
WORKDIR /src
# Dependencies first, in their own cached layer: build a dummy crate with the real manifest.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked \
    && strip target/release/trustwatch

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin trustwatch \
    && mkdir -p /data /etc/trustwatch \
    && chown trustwatch:trustwatch /data
COPY --from=builder /src/target/release/trustwatch /usr/local/bin/trustwatch
COPY config/trustwatch.toml /etc/trustwatch/trustwatch.toml
ENV TRUSTWATCH_CONFIG=/etc/trustwatch/trustwatch.toml \
    TRUSTWATCH_DATA_DIR=/data
USER trustwatch
VOLUME ["/data"]
WORKDIR /data
ENTRYPOINT ["trustwatch"]
CMD ["--help"]
