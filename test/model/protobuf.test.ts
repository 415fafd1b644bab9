import { readFileSync } from 'node:fs';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { bytesField, decodeMessage, encodeMessage, intField, intValue, intValues, textField, textOf } from '../../src/model/protobuf.js';

t.test('fields read back as written: varints (negative ones too), text, bytes, packed integers', async (t) => {
  const message = encodeMessage([intField(1, 1), intField(1, 300), intField(3, -1), textField(8, 'input.1'), bytesField(9, Uint8Array.from([0, 1, 255]))]);
  const fields = decodeMessage(message);
  t.same(fields.map((f) => [f.field, f.wire]), [[1, 0], [1, 0], [3, 0], [8, 2], [9, 2]]);
  t.same(intValues(fields, 1), [1, 300]);
  t.equal(intValue(fields[2]!), -1, 'int64 -1 is ten bytes on the wire');
  t.equal(fields[2]!.bytes.length, 10);
  t.equal(textOf(fields[3]!), 'input.1');
  t.same([...fields[4]!.bytes], [0, 1, 255]);
  t.same(encodeMessage(fields), message, 'written back byte for byte');
});

t.test('a packed repeated int64 field reads as its values', async (t) => {
  // dims 1, 64, 3, 3 packed into one length-delimited field 1: each value is a one-byte varint here
  const fields = decodeMessage(Uint8Array.from([0x0a, 4, 1, 64, 3, 3]));
  t.same(intValues(fields, 1), [1, 64, 3, 3]);
});

t.test('fixed-width fields are kept; truncated or unknown input is refused', async (t) => {
  const fixed = Uint8Array.from([0x15, 1, 2, 3, 4, 0x19, 1, 2, 3, 4, 5, 6, 7, 8]); // field 2 fixed32, field 3 fixed64
  const fields = decodeMessage(fixed);
  t.same(fields.map((f) => [f.field, f.wire, f.bytes.length]), [[2, 5, 4], [3, 1, 8]]);
  t.same(encodeMessage(fields), Buffer.from(fixed));
  t.throws(() => decodeMessage(Uint8Array.from([0x0a, 5, 1])), /runs past the end/);
  t.throws(() => decodeMessage(Uint8Array.from([0x08, 0x80])), /truncated/);
  t.throws(() => decodeMessage(Uint8Array.from([0x0b])), /wire type 3/);
});

t.test('the model file decodes and encodes back to the same bytes', async (t) => {
  const bytes = readFileSync(loadConfig({}).MODEL_PATH);
  const model = decodeMessage(bytes);
  const graph = model.find((f) => f.field === 7)!;
  t.ok(graph.bytes.length > 4_000_000, 'the graph holds the weights');
  t.ok(Buffer.from(encodeMessage(model)).equals(bytes));
});
