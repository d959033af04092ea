# ironfaas watchdog image: only `/fwatchdog`, to `COPY --from` into function images.
#
# One Dockerfile, two ways to feed its `runtime` stage:
#   - from source, where rust:1-bookworm can be pulled (what `docker compose up` does when the
#     image is not there yet):
#       docker build -f deploy/docker/watchdog.Dockerfile -t ironfaas/watchdog:0.1.0 .
#   - from a static binary built on the host (no registry needed): `scripts/build-images` builds
#     the `runtime` stage alone, with `scripts/build-static fwatchdog`'s output in the context in
#     place of the `build` stage's `/out/fwatchdog`.
# Keep the runtime stage last and its binary copied from `/out/`: build-images relies on both.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN mkdir /out && cp "$(scripts/build-static fwatchdog | tail -n 1)" /out/fwatchdog

FROM scratch AS runtime
COPY --from=build /out/fwatchdog /fwatchdog
# Function images set their own USER; this default matters only when an image is built FROM this one.
USER 65534:65534
EXPOSE 8080
HEALTHCHECK --interval=3s --timeout=5s --start-period=30s --retries=3 CMD ["/fwatchdog", "healthcheck"]
ENTRYPOINT ["/fwatchdog"]
