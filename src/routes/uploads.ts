// Reading a multipart/form-data upload: one image file in a named part, and text fields.
//
// The caller admits the request to the work queue first, so uploads held in memory are bounded by
// the queue like downloads are. Limits (set where @fastify/multipart is registered, in app.ts): the
// file's size (MAX_DOWNLOAD_BYTES), the number of fields and parts, the length of a field. Reading
// stops when the request's work signal fires (deadline, client gone); the connection is then closed
// rather than kept for a body nobody reads.
import type { Multipart } from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ServiceError } from '../errors.js';

export const FORM_LIMITS = {
  /** Text fields per form: the options, with room to spare. */
  fields: 32,
  /** Bytes per text field: a URL of up to 8192 characters, in JSON. */
  fieldSize: 16 * 1024,
  fieldNameSize: 100,
  /** Two, so a second file is seen and refused by name rather than cut off. */
  files: 2,
  parts: 34,
  headerPairs: 100,
} as const;

export interface Upload {
  /** The uploaded file, if a part named as asked came. */
  file?: { bytes: Buffer; filename: string };
  /** Text fields by name: strings, or values already parsed from parts sent as application/json. */
  fields: Record<string, unknown>;
}

export interface UploadOptions {
  /** The part that carries the image. */
  fileField: string;
  maxFileBytes: number;
  /**
   * 'refuse': any other file part, or a second file, is a 400; fields are collected.
   * 'ignore': other parts (fields and files) are read and dropped, as older clients may send them.
   */
  others: 'refuse' | 'ignore';
  signal: AbortSignal;
}

function invalid(message: string): ServiceError {
  return new ServiceError('invalid_request', message);
}

/** What @fastify/multipart and busboy throw, as the service's errors. */
function formError(error: unknown, maxFileBytes: number): ServiceError {
  if (error instanceof ServiceError) return error;
  switch ((error as { code?: unknown }).code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new ServiceError('too_large', `the uploaded file is larger than the limit of ${maxFileBytes} bytes`);
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return invalid(`the form has too many parts (at most ${FORM_LIMITS.fields} fields and ${FORM_LIMITS.files} files)`);
    case 'FST_PROTO_VIOLATION':
      return invalid('the form has a field name that is not allowed');
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return invalid('a form field sent as application/json is not valid JSON');
    default:
      return new ServiceError('invalid_request', 'the multipart body is malformed or ended early', { cause: error });
  }
}

async function readParts(request: FastifyRequest, options: UploadOptions): Promise<Upload> {
  const upload: Upload = { fields: {} };
  for await (const part of request.parts() as AsyncIterableIterator<Multipart>) {
    options.signal.throwIfAborted();
    if (part.type === 'file') {
      if (part.fieldname === options.fileField && !upload.file) {
        upload.file = { bytes: await part.toBuffer(), filename: part.filename };
      } else if (options.others === 'ignore') {
        for await (const chunk of part.file) void chunk; // read and dropped, within the file size limit
      } else {
        throw invalid(
          part.fieldname === options.fileField
            ? `the form has more than one ${options.fileField} file`
            : `the form has a file in "${part.fieldname}"; send the image as ${options.fileField}`,
        );
      }
      continue;
    }
    if (options.others === 'ignore' && part.fieldname !== options.fileField) continue;
    if (part.fieldnameTruncated) throw invalid(`a field name is longer than ${FORM_LIMITS.fieldNameSize} bytes`);
    if (part.valueTruncated) throw invalid(`the field ${part.fieldname} is longer than ${FORM_LIMITS.fieldSize} bytes`);
    if (Object.hasOwn(upload.fields, part.fieldname)) throw invalid(`the field ${part.fieldname} is given more than once`);
    upload.fields[part.fieldname] = part.value;
  }
  return upload;
}

/** Reads the form; throws a ServiceError (or the signal's reason) when it cannot be read or breaks a rule. */
export async function readUpload(request: FastifyRequest, reply: FastifyReply, options: UploadOptions): Promise<Upload> {
  const { signal } = options;
  let stop: (() => void) | undefined;
  const stopped = new Promise<never>((_resolve, reject) => {
    stop = () => reject(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
  });
  const reading = readParts(request, options);
  reading.catch(() => {}); // when the signal wins the race, reading ends on its own once the connection closes
  try {
    return await Promise.race([reading, stopped]);
  } catch (error) {
    // Whatever is left of the body is not read: close the connection after the answer.
    reply.header('connection', 'close');
    throw signal.aborted ? signal.reason : formError(error, options.maxFileBytes);
  } finally {
    signal.removeEventListener('abort', stop!);
  }
}
