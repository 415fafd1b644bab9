// POST /remove-bg, the API of the Flask app this service replaces, for the clients it still has: a
// multipart upload in the field `image`; the subject on white, saved as a JPEG in the storage
// folder; the answer {"url": ...} where a GET serves that file.
//
// The result keeps the input's size, as the old app's did (rembg never crops), and old clients
// may lay it out by the original's size. Errors have the service's usual shape.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ServiceError, type ErrorCode } from '../errors.js';
import { WHITE } from '../pipeline/background.js';
import type { OutputOptions } from '../pipeline/index.js';
import { StageTimer } from '../pipeline/timings.js';
import { binaryResponse, errorResponses, REQUEST_ID_HEADER, WORK_ERRORS } from './responses.js';
import { cutOut } from './cutout.js';
import { readUpload } from './uploads.js';
import { workSignal } from './work-signal.js';

/** Where stored results are served: the old app's static path, whatever STORAGE_DIR is. */
export const STORED_PREFIX = '/static/processed_images';

const LEGACY_OUTPUT: OutputOptions = { format: 'jpeg', quality: 90, background: { kind: 'colour', colour: WHITE } };

const LegacyForm = Type.Object({
  image: Type.String({ format: 'binary', description: 'The image. Other fields are ignored.' }),
});

const ERRORS: readonly ErrorCode[] = [
  ...WORK_ERRORS,
  'invalid_request',
  'too_large',
  'too_many_pixels',
  'unsupported_media_type',
  'image_decode_failed',
  'no_foreground',
  'storage_failed',
];

function noImage(): ServiceError {
  return new ServiceError('invalid_request', 'no image uploaded: send the file as multipart/form-data in the field "image"');
}

/** PUBLIC_BASE_URL, or the origin the request was sent to. */
function baseUrl(request: FastifyRequest, configured: string): string {
  return configured !== '' ? configured : `${request.protocol}://${request.host}`;
}

const removeBgRoutes: FastifyPluginAsync = async (app) => {
  app.post(
    '/remove-bg',
    {
      schema: {
        summary: 'Remove the background and store the result (the older API)',
        description:
          "For clients of the Flask app this service replaces. Upload the image in the form field `image`; the subject is put on white, at the input's size, " +
          `saved as a JPEG, and the answer gives its URL, served under ${STORED_PREFIX}/ for STORAGE_MAX_AGE_MS.`,
        response: {
          200: Type.Object(
            { url: Type.String({ description: `PUBLIC_BASE_URL (or the request's origin) + ${STORED_PREFIX}/<random name>.jpg` }) },
            {
              description: 'Where the result can be fetched.',
              headers: { ...REQUEST_ID_HEADER, 'server-timing': Type.String({ description: 'Milliseconds per stage, as for /remove-background.' }) },
            },
          ),
          ...errorResponses(ERRORS),
        },
      },
      config: { form: LegacyForm },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw noImage();
      const timer = new StageTimer();
      const ticket = app.queue.admit(request.apiKeyLabel);
      const work = workSignal(request, reply, app.config.REQUEST_DEADLINE_MS, () => app.queue.retryAfterSeconds());
      const { signal } = work;
      try {
        const upload = await timer.time('fetch', () =>
          readUpload(request, reply, { fileField: 'image', maxFileBytes: app.config.MAX_DOWNLOAD_BYTES, others: 'ignore', signal }),
        );
        // Browsers send a form whose file input was left empty as a part with an empty filename.
        if (upload.file?.filename === '' || upload.fields.image === '') throw new ServiceError('invalid_request', 'the uploaded file has an empty filename');
        if (!upload.file) throw noImage();
        const { bytes } = upload.file;
        await app.model.warmed;
        const removal = { crop: false, margin: 0, subject: 'largest', channels: 'rgba', threshold: app.config.MASK_THRESHOLD, refine: true, accuracy: 'standard' } as const;
        const result = await cutOut(app, ticket, bytes, removal, LEGACY_OUTPUT, timer, signal);
        signal.throwIfAborted();
        let name: string;
        try {
          name = await app.resultStore.save(result.image);
        } catch (error) {
          throw new ServiceError('storage_failed', 'the result could not be saved', { cause: error });
        }
        reply.header('server-timing', timer.serverTiming());
        return { url: `${baseUrl(request, app.config.PUBLIC_BASE_URL)}${STORED_PREFIX}/${name}` };
      } finally {
        ticket.release();
        work.dispose();
        request.stageTimings = timer.summary();
      }
    },
  );

  // Stored names are 128 random bits, known only to whoever uploaded the image, so serving them
  // needs no API key (an <img src> cannot send one).
  app.get(
    `${STORED_PREFIX}/:name`,
    {
      config: { public: true },
      schema: {
        summary: 'A result stored by POST /remove-bg',
        params: Type.Object({ name: Type.String({ description: 'The name in the URL /remove-bg answered with: 32 hex digits and .jpg. Any other name is not found.' }) }),
        response: {
          200: binaryResponse('The JPEG.', ['image/jpeg'], {
            ...REQUEST_ID_HEADER,
            'cache-control': Type.String({ description: 'public, for STORAGE_MAX_AGE_MS: a name never points to anything else.' }),
          }),
          ...errorResponses(['not_found', 'internal']),
        },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      // open() checks the name's shape before it becomes a path: nothing outside the folder is reachable.
      const file = await app.resultStore.open(name);
      if (!file) throw new ServiceError('not_found', 'no such stored result (it may have expired)');
      return reply
        .type('image/jpeg')
        .headers({
          'content-length': file.size,
          // The name never changes what it points to; the file only goes away.
          'cache-control': `public, max-age=${Math.floor(app.config.STORAGE_MAX_AGE_MS / 1000)}, immutable`,
          'x-content-type-options': 'nosniff',
        })
        .send(file.handle.createReadStream());
    },
  );
};

export default removeBgRoutes;
