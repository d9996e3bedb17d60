# syntax=docker/dockerfile:1
# The tinomail-monitor exporters in one image: `docker run tinomail-monitor all` (the default) runs every exporter,
# `docker run tinomail-monitor redis --redis.uri=...` runs one. docker-compose.yml builds and runs it.
# The Haraka and ZoneMTA plugins are not in here: they run inside those daemons (see README.md).
# Every /metrics listens on 127.0.0.1 by default (docs/ports.md), which inside a container is the container's own
# loopback: run it with `--network host` as docker-compose.yml does, or give each exporter an address such as
# `--redis.web.listen-address=:9744` (with a web config) before publishing ports with `-p`.

ARG NODE_VERSION=20

# Stage 1: compile the TypeScript with every dev dependency present.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.base.json tsconfig.build.json ./
COPY exporters ./exporters
RUN npx tsc -p tsconfig.build.json

# Stage 2: only the runtime dependencies and the compiled JavaScript.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm install --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
# State files of the reports exporter and the probe (docker-compose.yml mounts a volume here; it takes this owner).
RUN mkdir -p /var/lib/tinomail && chown node:node /var/lib/tinomail
# Unprivileged; the system exporter reads the host through /proc (docker-compose.yml gives it the host's pid namespace).
USER node
# wildduck, gelf, mongodb, redis, system, probe, reports, dns exporters; GELF input (docs/ports.md).
EXPOSE 9741 9742 9743 9744 9745 9749 9750 9751 12201/udp 12201/tcp
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["all"]
