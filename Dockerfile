# One production image for every component; the command picks it:
#   docker run … streamfront dist/edge/src/main.js        (the default)
#   docker run … streamfront dist/shield/src/main.js
#   docker run … streamfront dist/controller/src/main.js
# Add --check-config to any of them to validate its settings and exit.
#
# The runtime stage holds what deploy/image/assemble.ts puts together: the
# compiled files the three entry points import, package.json, the lockfile,
# and `npm ci --omit=dev` — no tests, no s3rver, no dev tools.
# deploy/test/production-image.system.test.ts performs the same assembly and
# starts every component from it as a non-root user.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build --silent && node dist/deploy/image/assemble.js /image

FROM node:20-bookworm-slim
# tini as PID 1: forwards SIGTERM (the edge's drain) and reaps; node never runs as PID 1.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /image ./
# The image's own non-root user (uid 1000, from the node image); the root file system can be read-only:
# components write only where their settings say (a spool or cache directory on a volume).
USER node
# edge 1935 (RTMP) and 8080 (shared RTMP/HTTP); controller 7001 (gRPC), 7003 (API); shield 7002; admin 9100-9102
EXPOSE 1935 8080 7001 7002 7003 9100 9101 9102
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--enable-source-maps"]
CMD ["dist/edge/src/main.js"]
