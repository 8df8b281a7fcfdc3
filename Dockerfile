# One Signet node. Redis runs in its own container (see docker-compose.yml).
FROM node:20-bookworm-slim
# SoftHSM2: the embedded PKCS#11 token for token-held keys (unless SIGNET_PKCS11_MODULE names an
# HSM's module, which then has to be added to the image).
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends softhsm2 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx vite build && mkdir -p /artifacts /data && chown node /artifacts /data
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0 SIGNET_DATA_DIR=/data
EXPOSE 3000
USER node
CMD ["node", "--import", "tsx", "server/main.ts"]
