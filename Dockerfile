# syntax=docker/dockerfile:1
# drctl in a container: docker run --rm -e DRCTL_REPO=s3://bucket/prefix ghcr.io/acme/drctl verify-backups
# Stage 1 builds and packs drctl exactly as npm would publish it; stage 2 installs that tarball
# with production dependencies only, beside the PostgreSQL 15 client tools, zstd, bsdtar and redis-cli.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json runbook.schema.json README.md .env.example ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
COPY runbooks ./runbooks
COPY examples ./examples
RUN npm run build && npm pack --ignore-scripts --pack-destination /tmp && mv /tmp/drctl-*.tgz /tmp/drctl.tgz

FROM ${NODE_IMAGE}
# bookworm's postgresql-client is 15: pg_dump/pg_restore/pg_basebackup match the servers drctl targets.
# tini is PID 1 so that pg_dump and friends are reaped and SIGTERM reaches drctl (exit 130, cleanup).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 zstd libarchive-tools redis-tools ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /tmp/drctl.tgz /tmp/drctl.tgz
RUN npm install -g --omit=dev --no-audit --no-fund /tmp/drctl.tgz \
 && rm /tmp/drctl.tgz \
 && npm cache clean --force
# A numeric non-root user: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 drctl \
 && useradd --system --uid 10001 --gid drctl --home-dir /home/drctl --create-home --shell /usr/sbin/nologin drctl \
 && install -d -o drctl -g drctl /work
ENV NODE_ENV=production \
    PG_BIN=/usr/lib/postgresql/15/bin \
    DRCTL_STATE_DIR=/home/drctl/state
WORKDIR /work
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--", "drctl"]
CMD ["--help"]
