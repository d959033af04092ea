# ironfaas queue-worker image: runs queued invocations from NATS JetStream.
#
# One Dockerfile, two ways to feed its `runtime` stage:
#   - from source, where rust:1-bookworm can be pulled (what `docker compose up` does when the
#     image is not there yet):
#       docker build -f deploy/docker/queue-worker.Dockerfile -t ironfaas/queue-worker:0.1.0 .
#   - from a static binary built on the host (no registry needed): `scripts/build-images` builds
#     the `runtime` stage alone, with `scripts/build-static queue-worker`'s output in the context in
#     place of the `build` stage's `/out/queue-worker`.
# Keep the runtime stage last and its binary copied from `/out/`: build-images relies on both.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN mkdir /out && cp "$(scripts/build-static queue-worker | tail -n 1)" /out/queue-worker

FROM scratch AS runtime
COPY --from=build /out/queue-worker /queue-worker
# Nothing here needs root: an unprivileged port for /healthz and /metrics, no files written.
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=3s --timeout=5s --start-period=30s --retries=3 CMD ["/queue-worker", "healthcheck"]
ENTRYPOINT ["/queue-worker"]
