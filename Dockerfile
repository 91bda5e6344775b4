# GraphQL gateway image. Build: `docker build -t idp-token-gateway .`
# Run:   `docker run --rm -p 4000:4000 --env-file .env idp-token-gateway` (variables: CONTRACT §2).
FROM node:20-bookworm-slim

WORKDIR /app

# Runtime dependencies only; the app runs its TypeScript through tsx, a runtime dependency.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

COPY tsconfig.json ./
COPY schema/ ./schema/
COPY src/ ./src/

ENV NODE_ENV=production \
    PORT=4000 \
    HOST=0.0.0.0

# The files stay owned by root (read-only for the app); tsx's cache goes to /tmp.
USER node

EXPOSE 4000

# /healthz answers 200 while the process runs (CONTRACT §3). Node's global fetch: no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node itself (not npm) is the main process, so SIGTERM reaches the gateway for a graceful shutdown.
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "src/main.ts"]
