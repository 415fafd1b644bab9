# Two stages. `build` installs everything, compiles the TypeScript, fetches and verifies the model
# weights, then drops the dev dependencies; `runtime` holds only what the service runs.
#
#   docker build -t bg-removal-service .
#   docker build --build-arg MODEL_MIRROR=model-mirror -t bg-removal-service .   # weights from ./model-mirror/
#   docker run --rm -p 8000:8000 bg-removal-service
#
# glibc (Debian) rather than Alpine: onnxruntime-node ships glibc binaries only.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY models/*.json ./models/
COPY scripts ./scripts
COPY src ./src
# The web page's sources: the build compiles them to dist/web, which the runtime stage takes with dist/.
COPY web ./web
# Always present (it holds a README), so this COPY never fails; it holds weights only when someone
# puts a mirror there. .dockerignore lets it through, unlike models/*.onnx.
COPY model-mirror ./model-mirror

# Where fetch-model copies the weights from: a folder in the build context (model-mirror) or a URL
# prefix, with a SHA256SUMS next to the weights. Empty: download the upstream file. Either way the
# digest is checked against models/u2netp.json and a mismatch fails the build.
ARG MODEL_MIRROR=""

# onnxruntime-node's install script would download its CUDA binaries from NuGet (the CPU binaries
# ship in the package). package.json's allowScripts denies it to npm 11.16 and later; the npm this
# image bundles (10) does not read allowScripts, so the script is told itself.
ENV ONNXRUNTIME_NODE_INSTALL=skip

# npm ci runs the prepare script (tsc, then fetch-model). onnxruntime-node ships binaries for every
# OS and CPU (about 290 MB); only this platform's are kept, and the import check fails the build if
# pruning went too far.
RUN npm ci \
 && npm prune --omit=dev \
 && arch="$(node -p process.arch)" \
 && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} + \
 && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -type d ! -name "$arch" -exec rm -rf {} + \
 && node --input-type=module -e "await import('onnxruntime-node'); await import('sharp')"


FROM node:22-bookworm-slim AS runtime
# tini is PID 1: it forwards SIGTERM to node and reaps zombies. Node as PID 1 would ignore a SIGTERM
# that arrives before the service installs its handler (while the model loads), so `docker stop`
# would wait for its SIGKILL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# One worker in a 1 GB, 2-core container. The three process-level variables are RUNTIME_ENV in
# src/config.ts (a test keeps them equal), read by glibc and libuv at process start:
# GLIBC_TUNABLES gives large allocations transparent huge pages, so onnxruntime, which allocates
# its buffers afresh for every inference (its arena is off to keep ~450 MB less resident), does not
# pay a page fault per 4 kB, and gives every allocation of 1 MiB or more a mapping of its own,
# returned when freed (glibc would otherwise move that line up to 32 MiB and keep the heaps it
# grew); MALLOC_ARENA_MAX limits glibc's arenas, against fragmentation across
# threads; UV_THREADPOOL_SIZE sizes the libuv pool that runs sharp's jobs, one thread per core.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=1048576 \
    MALLOC_ARENA_MAX=2 \
    UV_THREADPOOL_SIZE=2

# Owned by root and read-only to the service: it never writes to its code or weights.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/models ./models
# The one folder the service writes: POST /remove-bg's results (STORAGE_DIR). With several replicas,
# mount a volume they share here instead.
RUN mkdir -p static/processed_images && chown 1000:1000 static/processed_images

# The base image's `node` user, by number so Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE 8000
# Slim images have no curl; node's own fetch does. Liveness only: /ready is for load balancers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/server.js"]
