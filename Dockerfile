# trustwatch container image: runs the watcher (`run`) as a non-root user.
# Build:  docker build --build-arg TRUSTWATCH_COMMIT="$(git rev-parse --short=12 HEAD)" -t trustwatch .
# Run:    docker run -d --name trustwatch -v trustwatch-data:/data \
#             -v "$PWD/trustwatch.toml:/etc/trustwatch/trustwatch.toml:ro" -e DISCORD_TOKEN trustwatch
# Other commands against the same volume (stop the watcher first: one process per store):
#         docker run --rm -v trustwatch-data:/data -v "$PWD/pkg.zip:/in/pkg.zip:ro" trustwatch verify /in/pkg.zip

# Toolchain and Debian release pinned; the runtime below is the same release (glibc).
FROM rust:1.95-bookworm AS builder
# The build context has no .git (.dockerignore): build.rs takes the commit for `--version`
# from this argument, and says `unknown` when it is not given.
ARG TRUSTWATCH_COMMIT=unknown
WORKDIR /src
# Dependencies first, in their own cached layer: build a dummy crate with the real manifest.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
RUN touch build.rs src/main.rs src/lib.rs && cargo build --release --locked \
    && strip target/release/trustwatch

FROM debian:bookworm-slim
# ca-certificates for HTTPS sources, tzdata for local times. Pinning exact Debian
# revisions breaks the build at every security update of the release; the release
# itself is pinned by the base image tag.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 trustwatch \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin trustwatch \
    && mkdir -p /data /etc/trustwatch \
    && chown 10001:10001 /data
COPY --from=builder /src/target/release/trustwatch /usr/local/bin/trustwatch
# Root-owned and read-only to the service user; mount your own over it with :ro.
COPY --chmod=0444 config/trustwatch.toml /etc/trustwatch/trustwatch.toml
ENV TRUSTWATCH_CONFIG=/etc/trustwatch/trustwatch.toml \
    TRUSTWATCH_DATA_DIR=/data
# Numeric, so the runtime need not resolve the name (hadolint DL3066).
USER 10001:10001
VOLUME ["/data"]
WORKDIR /data
# The HTTP interactions endpoint, when configured with interactions_listen = "0.0.0.0:8080".
EXPOSE 8080
# `status` reaches the running instance through its control socket and reads the store:
# it fails when `run` holds the store but no longer answers.
HEALTHCHECK --interval=60s --timeout=10s --retries=3 CMD ["trustwatch", "status"]
ENTRYPOINT ["trustwatch"]
CMD ["run"]
