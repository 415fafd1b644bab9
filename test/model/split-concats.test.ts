import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { readManifest } from '../../src/model/manifest.js';
import { bytesField, decodeMessage, encodeMessage, intField, textField, textOf, type Field } from '../../src/model/protobuf.js';
import { splitConcatConvs } from '../../src/model/split-concats.js';
import { MODEL_SIZE } from '../../src/pipeline/preprocess.js';
import { sessionOptions } from '../../src/pipeline/segment.js';

// ---- a small ONNX model, written field by field (onnx.proto's numbers)
const message = (...fields: Field[]): Uint8Array => encodeMessage(fields);
const intAttribute = (name: string, value: number): Field => bytesField(5, message(textField(1, name), intField(3, value), intField(20, 2)));
const intsAttribute = (name: string, values: number[]): Field => bytesField(5, message(textField(1, name), ...values.map((v) => intField(8, v)), intField(20, 7)));
const node = (op: string, inputs: string[], output: string, ...attributes: Field[]): Field =>
  bytesField(1, message(...inputs.map((i) => textField(1, i)), textField(2, output), textField(3, `${op}_${output}`), textField(4, op), ...attributes));
const tensor = (name: string, dims: number[], seed: number): Field => {
  const values = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed + i * 1.7));
  return bytesField(5, message(...dims.map((d) => intField(1, d)), intField(2, 1), textField(8, name), bytesField(9, new Uint8Array(values.buffer))));
};
const valueInfo = (field: number, name: string, dims: number[]): Field =>
  bytesField(field, message(textField(1, name), bytesField(2, message(bytesField(1, message(intField(1, 1), bytesField(2, message(...dims.map((d) => bytesField(1, message(intField(1, d))))))))))));
const model = (nodes: Field[], initializers: Field[], outputs: [string, number[]][]): Uint8Array =>
  message(intField(1, 7), bytesField(8, message(textField(1, ''), intField(2, 11))), bytesField(7, message(...nodes, textField(2, 'test'), ...initializers, valueInfo(11, 'x', [1, 2, 5, 5]), ...outputs.map(([name, dims]) => valueInfo(12, name, dims)))));

/** Two convolutions (3x3 with bias and padding; 1x1 without) of one concatenation of x and relu(x), x having 2 channels. */
const concatConvs = model(
  [
    node('Relu', ['x'], 'r'),
    node('MaxPool', ['r'], 'p', intsAttribute('kernel_shape', [1, 1])),
    node('Concat', ['x', 'p'], 'c', intAttribute('axis', 1)),
    node('Conv', ['c', 'w3', 'b3'], 'y', intsAttribute('kernel_shape', [3, 3]), intsAttribute('pads', [1, 1, 1, 1])),
    node('Conv', ['c', 'w1'], 'z', intsAttribute('kernel_shape', [1, 1])),
  ],
  [tensor('w3', [3, 4, 3, 3], 1), tensor('b3', [3], 2), tensor('w1', [2, 4, 1, 1], 3)],
  [['y', [1, 3, 5, 5]], ['z', [1, 2, 5, 5]]],
);

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, outputs: string[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes, sessionOptions(1));
  try {
    const results = await session.run(feeds, outputs);
    return outputs.map((name) => results[name]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

function largestDifference(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let worst = 0;
  a.forEach((values, k) => values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[k]![i]!)))));
  return worst;
}

const opTypes = (bytes: Uint8Array): string[] => {
  const graph = decodeMessage(decodeMessage(bytes).find((f) => f.field === 7)!.bytes);
  return graph.filter((f) => f.field === 1).map((f) => textOf(decodeMessage(f.bytes).find((g) => g.field === 4)!));
};

t.test('a concatenation feeding two convolutions becomes sums of convolutions with the same result', async (t) => {
  const { model: split, concats } = splitConcatConvs(concatConvs);
  t.equal(concats, 1);
  t.same(opTypes(split), ['Relu', 'MaxPool', 'Conv', 'Conv', 'Add', 'Conv', 'Conv', 'Add'], 'no Concat left; a Conv per part and their sum');
  const x = new ort.Tensor('float32', Float32Array.from({ length: 50 }, (_, i) => Math.cos(i) * 3), [1, 2, 5, 5]);
  const expected = await run(concatConvs, { x }, ['y', 'z']);
  const actual = await run(split, { x }, ['y', 'z']);
  t.ok(largestDifference(expected, actual) < 1e-5, `largest difference ${largestDifference(expected, actual)}`);
});

t.test('what it cannot prove the same is left as it is', async (t) => {
  const feedsOther = model(
    [node('Concat', ['x', 'x'], 'c', intAttribute('axis', 1)), node('Conv', ['c', 'w'], 'y', intsAttribute('kernel_shape', [1, 1])), node('Relu', ['c'], 'z')],
    [tensor('w', [1, 4, 1, 1], 1)],
    [['y', [1, 1, 5, 5]], ['z', [1, 4, 5, 5]]],
  );
  t.equal(splitConcatConvs(feedsOther).concats, 0, 'the concatenation is read by something else too');
  const grouped = model(
    [node('Concat', ['x', 'x'], 'c', intAttribute('axis', 1)), node('Conv', ['c', 'w'], 'y', intsAttribute('kernel_shape', [1, 1]), intAttribute('group', 2))],
    [tensor('w', [2, 2, 1, 1], 1)],
    [['y', [1, 2, 5, 5]]],
  );
  t.equal(splitConcatConvs(grouped).concats, 0, 'a grouped convolution');
  const spatial = model(
    [node('Concat', ['x', 'x'], 'c', intAttribute('axis', 3)), node('Conv', ['c', 'w'], 'y', intsAttribute('kernel_shape', [1, 1]))],
    [tensor('w', [1, 2, 1, 1], 1)],
    [['y', [1, 1, 5, 10]]],
  );
  t.equal(splitConcatConvs(spatial).concats, 0, 'a concatenation along another axis');
  const untraced = model(
    [node('Softmax', ['x'], 's'), node('Concat', ['x', 's'], 'c', intAttribute('axis', 1)), node('Conv', ['c', 'w'], 'y', intsAttribute('kernel_shape', [1, 1]))],
    [tensor('w', [1, 4, 1, 1], 1)],
    [['y', [1, 1, 5, 5]]],
  );
  t.equal(splitConcatConvs(untraced).concats, 0, 'a part whose channels it cannot trace');
  const notAModel = Uint8Array.from([8, 7]);
  t.equal(splitConcatConvs(notAModel).model, notAModel, 'no graph: the same bytes');
});

t.test('u2netp: its 51 decoder concatenations go, and d0 stays the same to float rounding', async (t) => {
  const original = readFileSync(loadConfig({}).MODEL_PATH);
  const { model: split, concats } = splitConcatConvs(original);
  t.equal(concats, 51);
  const ops = opTypes(split);
  t.equal(ops.filter((op) => op === 'Concat').length, 127 - 51, 'only the shape computations still concatenate');
  const { input, output } = readManifest();
  const values = Float32Array.from({ length: 3 * MODEL_SIZE * MODEL_SIZE }, (_, i) => Math.sin(i / 997) * 2);
  const feeds = { [input.name]: new ort.Tensor('float32', values, [1, 3, MODEL_SIZE, MODEL_SIZE]) };
  const difference = largestDifference(await run(original, feeds, [output.name]), await run(split, feeds, [output.name]));
  t.ok(difference < 1e-5, `largest difference on d0 ${difference}`);
});
