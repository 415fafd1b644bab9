// Response schemas shared by the routes. They document the API (src/plugins/openapi.ts turns them
// into /openapi.json) and Fastify serialises JSON answers with them.
import { Type, type TSchema } from 'typebox';
import { errorCatalog, type ErrorCode } from '../errors.js';

/** Codes a route that takes work can answer with whatever it does: keys, the queue, deadlines, failures. */
export const WORK_ERRORS = ['unauthorized', 'rate_limited', 'client_closed', 'overloaded', 'deadline_exceeded', 'not_ready', 'internal'] as const satisfies readonly ErrorCode[];

const header = (description: string) => Type.String({ description });
export const REQUEST_ID_HEADER = { 'x-request-id': header("The request's id (yours, if you sent a plain X-Request-Id); the log line has it too.") };
const STATUS_HEADERS: Record<number, Record<string, TSchema>> = {
  401: { 'www-authenticate': header('Bearer realm="bg-removal-service"') },
  429: {
    'retry-after': header('Seconds after which this key may try again.'),
    'ratelimit-limit': header('With KEY_RATE_LIMIT: requests per 60 s this key may make (sent on every answer to a keyed request).'),
    'ratelimit-remaining': header('With KEY_RATE_LIMIT: requests this key may still make now.'),
    'ratelimit-reset': header('With KEY_RATE_LIMIT: seconds until the oldest request in the window leaves it.'),
  },
  503: { 'retry-after': header('Seconds after which a retry has a fair chance.') },
};

/** The error shape, one response per status, each listing the codes it carries and what they mean. */
export function errorResponses(codes: readonly ErrorCode[]): Record<string, TSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = errorCatalog[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, TSchema> = {};
  for (const [status, statusCodes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = Type.Object(
      {
        error: Type.Object({
          code: Type.Unsafe<ErrorCode>({ type: 'string', enum: statusCodes, description: 'Stable: branch on it.' }),
          message: Type.String({ description: 'For people; it may change.' }),
        }),
      },
      {
        description: statusCodes.map((code) => `\`${code}\`: ${errorCatalog[code].description}`).join('\n\n'),
        headers: { ...REQUEST_ID_HEADER, ...STATUS_HEADERS[status] },
      },
    );
  }
  return responses;
}

/** A binary body in one of `contentTypes`, with `headers`. */
export function binaryResponse(description: string, contentTypes: readonly string[], headers: Record<string, TSchema> = {}): TSchema {
  const content = Object.fromEntries(contentTypes.map((type) => [type, { schema: { type: 'string', format: 'binary' } }]));
  return { description, content, headers } as unknown as TSchema;
}
