import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { Type } from 'typebox';
import { ServiceError } from '../../src/errors.js';
import { formOptions, pipelineOptions, UploadFields } from '../../src/options.js';
import {
  COMMAND_FLAGS,
  extensionOf,
  formatOfPath,
  optionFlags,
  parseCommandLine,
  pipelineOptionsOf,
  UsageError,
} from '../../src/cli/args.js';

/** The message formOptions gives these fields, as the upload form would answer it. */
function formMessage(fields: Record<string, string>): string {
  try {
    formOptions(fields);
  } catch (error) {
    if (error instanceof ServiceError) return error.message;
  }
  throw new Error(`formOptions took ${JSON.stringify(fields)}`);
}

t.test('every field of the option schema is a flag, in kebab-case; booleans also have --no-', async (t) => {
  const flags = optionFlags();
  t.same(flags.map((f) => f.field), Object.keys(UploadFields.properties), 'one flag per field, in order');
  for (const { field, flag, boolean } of flags) {
    t.equal(flag, field.replaceAll('_', '-'));
    t.equal(boolean, (UploadFields.properties as Record<string, { type?: string }>)[field]!.type === 'boolean', field);
  }
  t.ok(flags.some((f) => f.flag === 'max-dimension'));
  // A field added to the schema later is a flag with no more code.
  const grown = optionFlags({ properties: { ...UploadFields.properties, future_option: Type.Integer({ minimum: 0, maximum: 100 }) } });
  t.equal(grown.at(-1)!.flag, 'future-option');
  t.throws(() => optionFlags({ properties: { output: Type.String() } }), /own flags/, 'a field may not take a command flag');
  for (const { flag } of flags) t.notOk(Object.hasOwn(COMMAND_FLAGS, flag), `${flag} is not also a command flag`);
});

t.test('parseCommandLine: inputs, command flags, and the API options as text', async (t) => {
  const line = parseCommandLine(['a.jpg', 'b', '-o', 'out', '-r', '--overwrite', '--quiet', '--json', 'r.json', '--format', 'webp', '--max-dimension', '512', '--margin', '10%']);
  t.same(line.inputs, ['a.jpg', 'b']);
  t.match(line, { output: 'out', recursive: true, overwrite: true, watch: false, quiet: true, json: 'r.json', jobs: 2 });
  t.same(line.fields, { format: 'webp', max_dimension: '512', margin: '10%' }, 'only what was given, by field name');

  t.same(parseCommandLine(['x', '--crop', 'false']).fields, { crop: 'false' });
  t.same(parseCommandLine(['x', '--crop=false']).fields, { crop: 'false' });
  t.same(parseCommandLine(['x', '--no-crop']).fields, { crop: 'false' });
  t.same(parseCommandLine(['--crop', 'x']).fields, { crop: 'true' }, 'a boolean flag alone is true; x stays an input');
  t.same(parseCommandLine(['--crop', 'x']).inputs, ['x']);
  t.same(parseCommandLine(['--refine', 'FALSE', 'x']).fields, { refine: 'FALSE' });
  t.same(parseCommandLine(['-', '-o', '-']).inputs, ['-'], '- is an input');
  t.equal(parseCommandLine(['-', '-o', '-']).output, '-');
  t.equal(parseCommandLine(['x', '-j', '1']).jobs, 1);
  t.equal(parseCommandLine(['x', '--background-image', 's.jpg']).backgroundImage, 's.jpg');

  t.throws(() => parseCommandLine(['x', '--colour', 'red']), UsageError, 'unknown flag');
  t.throws(() => parseCommandLine(['x', '--crop', '--no-crop']), /not both/);
  t.throws(() => parseCommandLine(['x', '--jobs', '0']), /--jobs/);
  t.throws(() => parseCommandLine(['x', '--jobs', 'two']), /--jobs/);
  t.throws(() => parseCommandLine(['x', '--background', '#fff', '--background-image', 's.jpg']), /not both/);
  t.throws(() => parseCommandLine(['x', '-o']), UsageError, '-o without its value');
});

t.test('formats by file extension', async (t) => {
  t.equal(formatOfPath('a/cut.webp'), 'webp');
  t.equal(formatOfPath('cut.JPG'), 'jpeg');
  t.equal(formatOfPath('cut.jpeg'), 'jpeg');
  t.equal(formatOfPath('cut.png'), 'png');
  t.equal(formatOfPath('cut.gif'), undefined);
  t.equal(formatOfPath('cut'), undefined);
  t.equal(extensionOf('jpeg'), '.jpg');
  t.equal(extensionOf('webp'), '.webp');
});

const LIMITS = { defaultThreshold: 0.3, maxCanvasPixels: 16_000_000 };

t.test('pipelineOptionsOf reads the options as the upload form does, with the same defaults', async (t) => {
  const none = pipelineOptionsOf({ fields: {}, backgroundImage: undefined }, LIMITS);
  t.same(none, pipelineOptions(formOptions({}), LIMITS), 'no flags: the API defaults');
  t.equal(none.removal.threshold, 0.3, "the threshold's default is the setting");
  const given = pipelineOptionsOf({ fields: { crop: 'false', margin: '16', subject: 'group', background: '#fff', quality: '70', accuracy: 'high' }, backgroundImage: undefined }, LIMITS);
  t.match(given, { removal: { crop: false, margin: 16, subject: 'group', accuracy: 'high' }, output: { quality: 70 }, background: { kind: 'colour' } });

  t.equal(pipelineOptionsOf({ fields: {}, backgroundImage: undefined }, LIMITS, 'cut.webp').output.format, 'webp', 'from the extension');
  t.equal(pipelineOptionsOf({ fields: { format: 'jpeg' }, backgroundImage: undefined }, LIMITS, 'cut.png').output.format, 'jpeg', '--format wins');
  t.throws(() => pipelineOptionsOf({ fields: {}, backgroundImage: undefined }, LIMITS, 'cut.gif'), /cannot tell the output format.*--format/);
  t.doesNotThrow(() => pipelineOptionsOf({ fields: { format: 'png' }, backgroundImage: undefined }, LIMITS, 'cut.gif'), 'an unknown extension is fine with --format');

  const file = pipelineOptionsOf({ fields: {}, backgroundImage: 'studio.jpg' }, LIMITS);
  t.same(file.background, { kind: 'url', url: pathToFileURL(path.resolve('studio.jpg')).href }, 'a local background image as a file: URL');
  const url = pipelineOptionsOf({ fields: {}, backgroundImage: 'https://example.com/s.jpg' }, LIMITS);
  t.same(url.background, { kind: 'url', url: 'https://example.com/s.jpg' });
});

t.test("a bad value is a usage error with the API's message and the flag", async (t) => {
  const bad: Record<string, string>[] = [{ max_dimension: '0' }, { format: 'gif' }, { margin: '200%' }, { crop: 'maybe' }, { threshold: '2' }, { background: 'red' }];
  for (const fields of bad) {
    const message = formMessage(fields);
    const flag = `--${Object.keys(fields)[0]!.replaceAll('_', '-')}`;
    t.throws(() => pipelineOptionsOf({ fields, backgroundImage: undefined }, LIMITS), { name: 'UsageError', message: `${message} (${flag})` }, JSON.stringify(fields));
  }
  // A contradiction the conversion finds (not the schema): its message, naming both flags.
  t.throws(() => pipelineOptionsOf({ fields: { channels: 'alpha', background: 'blur' }, backgroundImage: undefined }, LIMITS), /channels.*background.*\(--channels, --background\)/);
  t.throws(() => pipelineOptionsOf({ fields: { channels: 'alpha' }, backgroundImage: 's.jpg' }, LIMITS), /--background-image/);
});
