# ironfaas gateway image: the API, the invocation proxy and metrics (8082).
#
# One Dockerfile, two ways to feed its `runtime` stage:
#   - from source, where rust:1-bookworm can be pulled (what `docker compose up` does when the
#     image is not there yet):
#       docker build -f deploy/docker/gateway.Dockerfile -t ironfaas/gateway:0.1.0 .
#   - from a static binary built on the host (no registry needed): `scripts/build-images` builds
#     the `runtime` stage alone, with `scripts/build-static gateway`'s output in the context in
#     place of the `build` stage's `/out/gateway`.
# Keep the runtime stage last and its binary copied from `/out/`: build-images relies on both.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN mkdir /out && cp "$(scripts/build-static gateway | tail -n 1)" /out/gateway

FROM scratch AS runtime
COPY --from=build /out/gateway /gateway
# Nothing here needs root: unprivileged ports, no files written.
USER 10001:10001
EXPOSE 8080 8082
HEALTHCHECK --interval=3s --timeout=5s --start-period=30s --retries=3 CMD ["/gateway", "healthcheck"]
ENTRYPOINT ["/gateway"]
