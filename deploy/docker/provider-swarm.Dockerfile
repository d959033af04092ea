# ironfaas provider-swarm image: the provider API over the Docker engine.
#
# One Dockerfile, two ways to feed its `runtime` stage:
#   - from source, where rust:1-bookworm can be pulled (what `docker compose up` does when the
#     image is not there yet):
#       docker build -f deploy/docker/provider-swarm.Dockerfile -t ironfaas/provider-swarm:0.1.0 .
#   - from a static binary built on the host (no registry needed): `scripts/build-images` builds
#     the `runtime` stage alone, with `scripts/build-static provider-swarm`'s output in the context in
#     place of the `build` stage's `/out/provider-swarm`.
# Keep the runtime stage last and its binary copied from `/out/`: build-images relies on both.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN mkdir /out && cp "$(scripts/build-static provider-swarm | tail -n 1)" /out/provider-swarm

FROM scratch AS runtime
COPY --from=build /out/provider-swarm /provider-swarm
# Runs as root on purpose: it drives the engine through /var/run/docker.sock, which is owned by
# root:docker (mode 660) and the docker group's id differs from host to host. Access to that
# socket is root on the host whatever the process's user, so a non-root user would buy nothing.
# The containers backend also writes secret files under data_dir (a host path bind-mounted here).
EXPOSE 8080
HEALTHCHECK --interval=3s --timeout=5s --start-period=30s --retries=3 CMD ["/provider-swarm", "healthcheck"]
ENTRYPOINT ["/provider-swarm"]
