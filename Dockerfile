# One Signet node. Redis runs in its own container (see docker-compose.yml).
# Node 24 (the current LTS); package.json still supports Node 20.19+ for `npm start` on a host.

# Every npm dependency, with the toolchain that native modules (argon2, pkcs11js) may need to build.
FROM node:24-bookworm-slim AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund

# The console, built with the dev dependencies (SvelteKit, Vite) into build/.
FROM deps AS build
COPY . .
RUN npx vite build

# Production dependencies only: what the final image carries.
FROM deps AS production-deps
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# Tools the signing formats and key custody run at runtime:
#   osslsigncode 2.9 (Authenticode; bookworm-backports, derived from the image's own Debian source),
#   softhsm2 and libengine-pkcs11-openssl (PKCS#11 token custody), gnupg (OpenPGP verification),
#   openssl (certificate tooling), tini (PID 1: forwards SIGTERM so a node drains, reaps children).
RUN awk 'BEGIN { RS = ""; ORS = "\n\n" } NR == 1' /etc/apt/sources.list.d/debian.sources \
      | sed 's/^Suites:.*/Suites: bookworm-backports/' > /etc/apt/sources.list.d/backports.sources \
 && apt-get update \
 && apt-get install -y --no-install-recommends openssl softhsm2 libengine-pkcs11-openssl gnupg tini \
 && apt-get install -y --no-install-recommends -t bookworm-backports osslsigncode \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0 SIGNET_DATA_DIR=/data SIGNET_ARTIFACT_DIR=/artifacts
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/build ./build
COPY package.json ./
COPY bin ./bin
COPY server ./server
COPY src/lib/shared ./src/lib/shared
# The data directory (master.key when SIGNET_MASTER_KEY is unset, the audit checkpoint record) and the artifact store belong to
# the unprivileged user the node runs as.
RUN mkdir -p /data /artifacts && chown -R node:node /data /artifacts
USER node
EXPOSE 3000
# Liveness: the process answers HTTP. (Load balancers check /readyz, which also needs Redis.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "server/main.ts"]
