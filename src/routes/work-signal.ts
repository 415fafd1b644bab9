// One abort signal per request for its work: it fires when the request passes its deadline or when
// the client goes away, so no stage works on for nobody.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError } from '../errors.js';

export interface WorkSignal {
  signal: AbortSignal;
  /** Stops watching; call once the request is done. */
  dispose(): void;
}

export function workSignal(request: FastifyRequest, reply: FastifyReply, deadlineMs: number, retryAfterSeconds: () => number): WorkSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(
      new ServiceError('deadline_exceeded', `the request could not finish within ${deadlineMs} ms`, {
        headers: { 'retry-after': String(retryAfterSeconds()) },
      }),
    );
  }, deadlineMs);
  // 'close' also fires after a normal end; only a close before the answer was written is a client leaving.
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort(new ServiceError('client_closed', 'the client closed the connection'));
  };
  reply.raw.once('close', onClose);
  request.log.trace('work signal armed');
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      reply.raw.off('close', onClose);
    },
  };
}
