# retl-relay container image: one image for `serve` (Kubernetes, Cloud Run, Cloudflare
# Containers, plain podman/docker) and `lambda` (AWS Lambda container images). docs/deploy.md.
#
#   podman build -t retl-relay .                      # or: docker build -t retl-relay .
#   podman build --build-arg BASE_IMAGE=… -t retl-relay .   # another Debian 12 base
#
# Build stage: Debian 12 with the build dependencies; the binary is the `release` preset (SQLite,
# Boost.JSON, toml++ and libstdc++ linked in). Runtime stage: the same base with the four shared
# libraries the binary loads (libcrypto; libcurl and libpq on first use) and CA certificates.
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      g++ cmake ninja-build pkg-config libboost1.81-dev libboost-json1.81-dev libssl-dev \
      libcurl4-openssl-dev libsqlite3-dev libpq-dev libtomlplusplus-dev libcli11-dev >/dev/null
WORKDIR /src
COPY CMakeLists.txt CMakePresets.json README.md ./
COPY cmake cmake
COPY packaging packaging
COPY docs docs
COPY ui ui
COPY src src
RUN cmake --preset release >/dev/null \
 && cmake --build build/release --target retl-relay -j"$(nproc)" \
 && strip build/release/bin/retl-relay

FROM ${BASE_IMAGE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libssl3 libcurl4 libpq5 ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 retl-relay \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/retl-relay --shell /usr/sbin/nologin retl-relay \
 && mkdir -p /var/lib/retl-relay /etc/retl-relay \
 && chown retl-relay:retl-relay /var/lib/retl-relay
COPY --from=build /src/build/release/bin/retl-relay /usr/local/bin/retl-relay
# The state directory is the default SQLite location (relay.db); mount a volume there. A
# config file at /etc/retl-relay/relay.toml is read when present, else the environment.
ENV STATE_DIRECTORY=/var/lib/retl-relay
VOLUME /var/lib/retl-relay
USER 10001:10001
EXPOSE 8080
# `retl-relay probe` GETs /healthz where the relay listens (the config file's server.listen,
# else RETL_RELAY_LISTEN, else $PORT, else 8080): no curl needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["retl-relay", "probe"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["retl-relay"]
CMD ["serve"]
