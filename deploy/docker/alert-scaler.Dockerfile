# ironfaas alert-scaler image: scales functions on AlertManager's alerts, idle ones to zero.
#
# One Dockerfile, two ways to feed its `runtime` stage:
#   - from source, where rust:1-bookworm can be pulled (what `docker compose up` does when the
#     image is not there yet):
#       docker build -f deploy/docker/alert-scaler.Dockerfile -t ironfaas/alert-scaler:0.1.0 .
#   - from a static binary built on the host (no registry needed): `scripts/build-images` builds
#     the `runtime` stage alone, with `scripts/build-static alert-scaler`'s output in the context in
#     place of the `build` stage's `/out/alert-scaler`.
# Keep the runtime stage last and its binary copied from `/out/`: build-images relies on both.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN mkdir /out && cp "$(scripts/build-static alert-scaler | tail -n 1)" /out/alert-scaler

FROM scratch AS runtime
COPY --from=build /out/alert-scaler /alert-scaler
# Nothing here needs root: an unprivileged port, no files written.
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=3s --timeout=5s --start-period=30s --retries=3 CMD ["/alert-scaler", "healthcheck"]
ENTRYPOINT ["/alert-scaler"]
