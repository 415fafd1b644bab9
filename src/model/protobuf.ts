// The protocol-buffers wire format, as far as rewriting an ONNX file needs it: a message is a list
// of fields, each kept as the bytes it was read from, so that whatever the rewrite does not touch is
// written back exactly as it was. A schema library (protobufjs with ONNX's .proto) would turn every
// weight into an object and back; the rewrite needs a few fields of three message types.

/** Wire types: 0 varint, 1 fixed 64-bit, 2 length-delimited (bytes, strings, sub-messages, packed), 5 fixed 32-bit. */
export type WireType = 0 | 1 | 2 | 5;

export interface Field {
  field: number;
  wire: WireType;
  /** The value's bytes (for wire type 2, without the length prefix). */
  bytes: Uint8Array;
}

function readVarint(bytes: Uint8Array, at: { offset: number }): bigint {
  let value = 0n;
  for (let shift = 0n; ; shift += 7n) {
    if (at.offset >= bytes.length || shift > 63n) throw new RangeError('protobuf: truncated or overlong varint');
    const byte = bytes[at.offset++]!;
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return value;
  }
}

function varintBytes(value: bigint): number[] {
  let rest = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (rest > 0x7fn) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return out;
}

/** The fields of one message, in file order (repeated fields appear once per value). */
export function decodeMessage(bytes: Uint8Array): Field[] {
  const fields: Field[] = [];
  const at = { offset: 0 };
  while (at.offset < bytes.length) {
    const key = readVarint(bytes, at);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    const start = at.offset;
    let end: number;
    if (wire === 0) {
      readVarint(bytes, at);
      end = at.offset;
    } else if (wire === 2) {
      const length = Number(readVarint(bytes, at));
      end = at.offset + length;
      if (end > bytes.length) throw new RangeError(`protobuf: field ${field} runs past the end`);
      fields.push({ field, wire, bytes: bytes.subarray(at.offset, end) });
      at.offset = end;
      continue;
    } else if (wire === 1 || wire === 5) {
      end = start + (wire === 1 ? 8 : 4);
      if (end > bytes.length) throw new RangeError(`protobuf: field ${field} runs past the end`);
    } else {
      throw new RangeError(`protobuf: unsupported wire type ${wire}`);
    }
    fields.push({ field, wire, bytes: bytes.subarray(start, end) });
    at.offset = end;
  }
  return fields;
}

export function encodeMessage(fields: readonly Field[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const { field, wire, bytes } of fields) {
    parts.push(Uint8Array.from(varintBytes((BigInt(field) << 3n) | BigInt(wire))));
    if (wire === 2) parts.push(Uint8Array.from(varintBytes(BigInt(bytes.length))));
    parts.push(bytes);
  }
  return Buffer.concat(parts);
}

/** A varint field's value as a signed 64-bit integer (ONNX's int64), which must fit a double exactly. */
export function intValue(field: Field): number {
  const value = BigInt.asIntN(64, readVarint(field.bytes, { offset: 0 }));
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError('protobuf: integer beyond 2^53');
  return Number(value);
}

/** The integers of a repeated int64 field, packed (one length-delimited field) or not. */
export function intValues(fields: readonly Field[], number: number): number[] {
  const values: number[] = [];
  for (const field of fields) {
    if (field.field !== number) continue;
    if (field.wire === 0) values.push(intValue(field));
    else if (field.wire === 2) {
      const at = { offset: 0 };
      while (at.offset < field.bytes.length) values.push(Number(BigInt.asIntN(64, readVarint(field.bytes, at))));
    }
  }
  return values;
}

export const textOf = (field: Field): string => Buffer.from(field.bytes.buffer, field.bytes.byteOffset, field.bytes.length).toString('utf8');

export const intField = (field: number, value: number): Field => ({ field, wire: 0, bytes: Uint8Array.from(varintBytes(BigInt(value))) });
export const bytesField = (field: number, bytes: Uint8Array): Field => ({ field, wire: 2, bytes });
export const textField = (field: number, text: string): Field => bytesField(field, Buffer.from(text, 'utf8'));
