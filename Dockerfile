# A plain image that builds and runs the service. (See the README's Docker section.)
FROM node:22-bookworm-slim
WORKDIR /app

# Set to a folder in the build context or a URL prefix to copy the weights from a mirror.
ARG MODEL_MIRROR=""
ENV MODEL_MIRROR=${MODEL_MIRROR}

COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY models ./models
COPY src ./src
COPY scripts ./scripts
# npm ci builds and fetches the verified weights (the prepare script); then drop dev dependencies.
RUN npm ci && npm prune --omit=dev && npm cache clean --force

ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000
EXPOSE 8000
USER node
CMD ["node", "dist/src/server.js"]
