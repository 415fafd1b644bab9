// multipart/form-data bodies for tests, written out by hand so a test can send exactly what it means
// (a second file, an empty filename, a field sent as JSON).
import { randomBytes } from 'node:crypto';

export type FormPart =
  | { name: string; value: string; type?: string }
  | { name: string; filename: string; content: Buffer; type?: string };

export interface Form {
  payload: Buffer;
  headers: { 'content-type': string };
}

export function formBody(parts: FormPart[]): Form {
  const boundary = `----test${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const file = 'filename' in part;
    const disposition = `form-data; name="${part.name}"${file ? `; filename="${part.filename}"` : ''}`;
    const type = part.type ?? (file ? 'application/octet-stream' : undefined);
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n`));
    chunks.push(file ? part.content : Buffer.from(part.value));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/** Options as text fields, as `curl -F name=value` sends them. */
export const fields = (options: Record<string, string | number | boolean>): FormPart[] =>
  Object.entries(options).map(([name, value]) => ({ name, value: String(value) }));
