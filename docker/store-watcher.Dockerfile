# syntax=docker/dockerfile:1.6
# pimap-store-watcher: store changes (push_notification intake, IDLE/NOTIFY) -> Kafka.
# Ports: 8080 push_notification intake (HTTP), 9090 admin.
# Build from the repository root (the build context must be the whole tree):
#   docker build -f docker/store-watcher.Dockerfile -t pimap-store-watcher .
# integration-tests/test_docker.py checks this file statically (COPY sources, CMake target, runtime libraries).

# ---- build: Debian 12 with the build packages of scripts/install-deps (BUILD_PKGS) -------------------------
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libboost1.81-all-dev \
      libboost-json1.81-dev libboost-url1.81-dev libssl-dev libhiredis-dev librdkafka-dev prometheus-cpp-dev \
      libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libyaml-cpp-dev libevent-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the configure step reads: the top-level CMake files, proto, libs and services.
COPY CMakeLists.txt CMakePresets.json ./
COPY cmake/ cmake/
COPY proto/ proto/
COPY libs/ libs/
COPY services/ services/
# Benchmarks, fuzzers and integration tests are off: only the service's own target is built.
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake --preset release -DPIMAP_BENCH=OFF -DPIMAP_FUZZ=OFF -DPIMAP_INTEGRATION_TESTS=OFF \
 && cmake --build --preset release --target pimap-store-watcher \
 && install -D --strip build/release/services/store-watcher/pimap-store-watcher /out/pimap-store-watcher

# ---- runtime: slim Debian 12, the shared libraries pimap-store-watcher links and nothing else -----------------------
#   gRPC/protobuf (StoreEvent; libs/kit, proto), OpenSSL (IMAPS to the store), zlib, yaml-cpp (config),
#   prometheus-cpp core (metrics), Boost.JSON (push_notification bodies), librdkafka (producer; libs/kafka),
#   hiredis (watched users, MODSEQ marks)
FROM debian:12-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libgrpc29 libprotobuf32 \
      libssl3 zlib1g libyaml-cpp0.7 libprometheus-cpp-core1.0 libboost-json1.81.0 \
      librdkafka1 librdkafka++1 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pimap \
 && useradd --system --uid 10001 --gid pimap --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pimap
COPY --from=build /out/pimap-store-watcher /usr/local/bin/pimap-store-watcher
COPY docker/config/store-watcher.yaml /etc/pimap/store-watcher.yaml
COPY docker/healthcheck /usr/local/bin/pimap-healthcheck
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8080 9090
# For Docker and compose; Kubernetes ignores it and uses the chart's probes on the same endpoint.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/usr/local/bin/pimap-healthcheck"]
# SIGTERM drains (readyz 503, stop accepting, finish in-flight work within shutdown.drain_seconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pimap-store-watcher"]
CMD ["--config", "/etc/pimap/store-watcher.yaml"]
