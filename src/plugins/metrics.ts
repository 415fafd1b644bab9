// GET /metrics in Prometheus format: requests by route, status and error code; time per pipeline
// stage; the work queue, with time waited for a slot; inferences; with API keys, requests and
// refusals per key (by its label, never the key); the process's memory and CPU (prom-client's defaults).
// Stage times come from the same StageTimer as the Server-Timing header, so the two always agree.
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { STAGES } from '../pipeline/timings.js';

// From a 1 ms fetch to a 24-megapixel encode of several seconds.
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2.5, 5, 10];

export default fp(
  async (app) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'bg_removal_' });

    const requests = new Counter({
      name: 'bg_removal_requests_total',
      help: 'Requests answered, by route, method, status and error code ("" when none).',
      labelNames: ['route', 'method', 'status', 'code'] as const,
      registers: [registry],
    });
    const stages = new Histogram({
      name: 'bg_removal_stage_seconds',
      help: 'Time per pipeline stage of cutout requests, /remove-background and /remove-bg (total: the whole request).',
      labelNames: ['stage'] as const,
      buckets: SECONDS,
      registers: [registry],
    });
    const inferences = new Histogram({
      name: 'bg_removal_inference_seconds',
      help: 'Time of each model inference, two per request with accuracy "high" (its count is the number of inferences; the warm-up is not counted).',
      buckets: SECONDS,
      registers: [registry],
    });
    // From the segmenter itself, so each inference is one observation; after the warm-up, which serves no request.
    let stopObserving = (): void => {};
    app.model.warmed.then(
      () => (stopObserving = app.model.segmenter.onInference((seconds) => inferences.observe(seconds))),
      () => {},
    );
    app.addHook('onClose', async () => stopObserving());
    const queue = app.queue;
    new Gauge({
      name: 'bg_removal_queue_running',
      help: 'Requests whose CPU work is running.',
      registers: [registry],
      collect() {
        this.set(queue.stats.running);
      },
    });
    new Gauge({
      name: 'bg_removal_queue_waiting',
      help: 'Requests waiting for a work slot.',
      registers: [registry],
      collect() {
        this.set(queue.stats.queued);
      },
    });
    new Gauge({
      name: 'bg_removal_queue_admitted',
      help: 'Requests admitted and not yet answered (downloading, waiting or running).',
      registers: [registry],
      collect() {
        this.set(queue.stats.admitted);
      },
    });
    new Counter({
      name: 'bg_removal_queue_rejected_total',
      help: 'Requests refused with 503 overloaded because every place was taken.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(queue.stats.rejected);
      },
    });

    // Per key: label values are the configured keys' labels (a bounded set), or "" without keys.
    const keyRequests = new Counter({
      name: 'bg_removal_key_requests_total',
      help: 'Requests answered per API key (its label), by error code ("" when none): refusals are the ones with a code.',
      labelNames: ['key', 'code'] as const,
      registers: [registry],
    });
    const waits = new Histogram({
      name: 'bg_removal_queue_wait_seconds',
      help: 'Time each job waited for its work slot (0 when one was free), per API key label ("" without keys).',
      labelNames: ['key'] as const,
      buckets: [0.001, ...SECONDS],
      registers: [registry],
    });
    queue.onWaited = (key, ms) => waits.observe({ key: key ?? '' }, ms / 1000);

    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      requests.inc({ route, method: request.method, status: String(reply.statusCode), code: request.errorCode ?? '' });
      if (request.apiKeyLabel !== undefined) keyRequests.inc({ key: request.apiKeyLabel, code: request.errorCode ?? '' });
      const timings = request.stageTimings;
      if (!timings) return;
      for (const stage of [...STAGES, 'total'] as const) {
        const ms = timings[stage];
        if (ms !== undefined) stages.observe({ stage }, ms / 1000);
      }
    });

    app.get('/metrics', async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    });
  },
  { name: 'metrics', dependencies: ['work-queue', 'model'] },
);
