# syntax=docker/dockerfile:1
# One image for every StepGate service; docker-compose.yml picks the service with `command`.
# The default command is the embedded demo (all services in one process, in-process bus, SQLite, the dev
# issuer): `docker run -p 8080:8080 IMAGE` and nothing else. It says loudly that it is a demo.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# better-sqlite3 is a native addon. Its prebuilt download is not relied on: node-gyp compiles it
# against the image's own headers (/usr/local/include/node), so no fetch from nodejs.org either.
FROM base AS toolchain
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local

FROM toolchain AS build
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY .swcrc tsconfig.json ./
COPY scripts ./scripts
COPY libs ./libs
COPY apps ./apps
# tools/ (the risk evaluation harness, the Kafka replay) is not copied: operators run them from a checkout.
RUN npm run build

# Production dependencies only, installed (and compiled) separately so no dev tooling reaches the runtime.
FROM toolchain AS prod-deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

FROM base AS runtime
# Containers bind every interface; which ports are reachable is decided by the network, not the process.
ENV NODE_ENV=production \
    STEPGATE_CONFIG=/app/config/stepgate.yaml \
    STEPGATE_DATA_DIR=/app/data \
    STEPGATE_GATEWAY_HOST=0.0.0.0 \
    STEPGATE_RISK_HOST=0.0.0.0 \
    STEPGATE_CHALLENGE_HOST=0.0.0.0 \
    STEPGATE_DEV_ISSUER_HOST=0.0.0.0 \
    STEPGATE_DEMO_UPSTREAM_HOST=0.0.0.0
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
# STEPGATE_DATA_DIR: where a service keeps local state (SQLite when DATABASE_URL is unset); /app/demo-secrets:
# where compose's stepgate-secrets writes the secrets the operator did not supply. A named volume mounted on
# either starts with this ownership.
RUN mkdir -p /app/data /app/demo-secrets && chown node:node /app/data /app/demo-secrets && chmod 700 /app/demo-secrets
USER node
EXPOSE 8080 8090
CMD ["node", "dist/apps/stepgate/src/main.js", "--demo"]
