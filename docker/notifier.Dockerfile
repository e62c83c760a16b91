# syntax=docker/dockerfile:1.6
# pimap-notifier: Kafka consumer: per-device Redis queues, wake-ups over SMS / WAP Push.
# Ports: 9090 admin (it serves nothing else).
# Build from the repository root (the build context must be the whole tree):
#   docker build -f docker/notifier.Dockerfile -t pimap-notifier .
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
 && cmake --build --preset release --target pimap-notifier \
 && install -D --strip build/release/services/notifier/pimap-notifier /out/pimap-notifier

# ---- runtime: slim Debian 12, the shared libraries pimap-notifier links and nothing else -----------------------
#   gRPC/protobuf (session service; libs/kit, proto), OpenSSL (HTTPS to the gateways), zlib, yaml-cpp (config),
#   prometheus-cpp core (metrics), librdkafka (consumer group; libs/kafka), hiredis (device queues; libs/redis)
FROM debian:12-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libgrpc29 libprotobuf32 \
      libssl3 zlib1g libyaml-cpp0.7 libprometheus-cpp-core1.0 \
      librdkafka1 librdkafka++1 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pimap \
 && useradd --system --uid 10001 --gid pimap --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pimap
COPY --from=build /out/pimap-notifier /usr/local/bin/pimap-notifier
COPY docker/config/notifier.yaml /etc/pimap/notifier.yaml
COPY docker/healthcheck /usr/local/bin/pimap-healthcheck
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 9090
# For Docker and compose; Kubernetes ignores it and uses the chart's probes on the same endpoint.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/usr/local/bin/pimap-healthcheck"]
# SIGTERM drains (readyz 503, stop accepting, finish in-flight work within shutdown.drain_seconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pimap-notifier"]
CMD ["--config", "/etc/pimap/notifier.yaml"]
