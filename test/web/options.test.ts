import t from 'tap';
import Value from 'typebox/value';
import { UploadFields } from '../../src/routes/remove-background.js';
import { formOptions } from '../../src/routes/remove-background.js';
import {
  checkImageUrl,
  DEFAULT_OPTIONS,
  MARKETPLACE,
  nameFromUrl,
  optionsProblem,
  requestFields,
  requestJson,
  resultFileName,
  sameOptions,
  type CutoutOptions,
} from '../../web/src/options.js';

const options = (changes: Partial<CutoutOptions> = {}): CutoutOptions => ({ ...DEFAULT_OPTIONS, ...changes });

t.test('options become form fields the service takes as they are', async (t) => {
  t.same(requestFields(options()), { format: 'png', crop: 'true', background: 'transparent', margin: '0', shadow: 'none' });
  t.same(requestFields(options({ background: 'colour', colour: '#00A0FF', format: 'jpeg', margin: 10, marginUnit: '%' })), {
    format: 'jpeg',
    crop: 'true',
    background: '#00a0ff',
    margin: '10%',
    shadow: 'none',
  });
  t.same(requestFields(options({ background: 'blur', crop: false, margin: 40 })), { format: 'png', crop: 'false', background: 'blur', shadow: 'none' }, 'no margin without a crop');
  t.match(requestFields(options({ canvas: 'custom', canvasWidth: 800, canvasHeight: 600, fill: 70, position: 'bottom', shadow: 'contact' })), {
    canvas: '800x600',
    fill: '70%',
    position: 'bottom',
    shadow: 'contact',
  });
  t.notOk('fill' in requestFields(options({ fill: 50 })), 'no fill or position without a canvas');

  // The service's own form reading accepts each combination, and reads back what was meant.
  const cases: [CutoutOptions, Record<string, unknown>][] = [
    [options(), { crop: true, margin: 0, background: 'transparent', format: 'png' }],
    [options({ margin: 16 }), { margin: 16 }],
    [options({ margin: 10, marginUnit: '%' }), { margin: '10%' }],
    [options({ background: 'colour', colour: '#123456', format: 'webp' }), { background: '#123456', format: 'webp' }],
    [options({ background: 'blur', crop: false, format: 'jpeg' }), { background: 'blur', crop: false, format: 'jpeg' }],
    [options({ canvas: 'square', shadow: 'drop' }), { canvas: 'square', fill: '90%', position: 'center', shadow: 'drop' }],
    [options({ canvas: '2000' }), { canvas: { width: 2000, height: 2000 } }],
    [options({ ...MARKETPLACE }), { canvas: { width: 2000, height: 2000 }, fill: '85%', position: 'center', background: '#ffffff', format: 'jpeg', shadow: 'none' }],
  ];
  for (const [given, expected] of cases) t.match(formOptions(requestFields(given)), expected, JSON.stringify(requestFields(given)));
});

t.test('a pasted URL becomes a JSON body that passes the service schema', async (t) => {
  const body = requestJson('https://example.com/a.jpg', options({ margin: 12 }));
  t.same(body, { image_url: 'https://example.com/a.jpg', format: 'png', crop: true, background: 'transparent', margin: 12, shadow: 'none' });
  const { image_url: _url, ...rest } = body;
  t.ok(Value.Check(UploadFields, Value.Default(UploadFields, rest)), 'its options are the upload options');
  t.same(requestJson('https://example.com/a.jpg', options({ marginUnit: '%', margin: 5 })).margin, '5%');
  const canvas = requestJson('https://example.com/a.jpg', options({ canvas: 'custom', canvasWidth: 640, canvasHeight: 480, position: 'original' }));
  t.match(canvas, { canvas: { width: 640, height: 480 }, fill: '90%', position: 'original', shadow: 'none' });
  const { image_url: _canvasUrl, ...canvasRest } = canvas;
  t.ok(Value.Check(UploadFields, Value.Default(UploadFields, canvasRest)), 'a canvas too');
});

t.test('optionsProblem says what the service would refuse', async (t) => {
  t.equal(optionsProblem(options()), null);
  t.match(optionsProblem(options({ background: 'colour', colour: 'red' })), /#rrggbb/);
  t.match(optionsProblem(options({ margin: -1 })), /0 to 10000 pixels/);
  t.match(optionsProblem(options({ margin: 101, marginUnit: '%' })), /0 to 100 %/);
  t.match(optionsProblem(options({ margin: 1.5 })), /whole number/);
  t.equal(optionsProblem(options({ crop: false, margin: -1 })), null, 'the margin does not matter without a crop');
  t.match(optionsProblem(options({ format: 'gif' as 'png' })), /format/);
  t.match(optionsProblem(options({ canvas: 'custom', canvasWidth: 0 })), /1 to 10000 pixels/);
  t.match(optionsProblem(options({ canvas: 'custom', canvasHeight: 10_001 })), /1 to 10000 pixels/);
  t.equal(optionsProblem(options({ canvasWidth: 0 })), null, 'the custom size does not matter for other canvases');
  t.match(optionsProblem(options({ canvas: 'square', fill: 0 })), /fill.*1 to 100/);
  t.equal(optionsProblem(options({ fill: 0 })), null, 'nor the fill without a canvas');
});

t.test('sameOptions ignores what does not change the result', async (t) => {
  t.ok(sameOptions(options({ colour: '#000000' }), options({ colour: '#ffffff' })), 'the colour, when the background is not a colour');
  t.ok(sameOptions(options({ crop: false, margin: 3 }), options({ crop: false })), 'the margin, without a crop');
  t.ok(sameOptions(options({ background: 'colour', colour: '#ABCDEF' }), options({ background: 'colour', colour: '#abcdef' })));
  t.notOk(sameOptions(options({ background: 'colour', colour: '#000000' }), options({ background: 'colour', colour: '#ffffff' })));
  t.notOk(sameOptions(options({ margin: 3 }), options()));
  t.notOk(sameOptions(options({ format: 'webp' }), options()));
  t.ok(sameOptions(options({ fill: 50, position: 'bottom', canvasWidth: 5 }), options()), 'fill, position and size, without a canvas');
  t.notOk(sameOptions(options({ canvas: 'square', fill: 50 }), options({ canvas: 'square' })));
  t.notOk(sameOptions(options({ canvas: 'custom', canvasWidth: 5 }), options({ canvas: 'custom' })));
  t.notOk(sameOptions(options({ shadow: 'drop' }), options()));
});

t.test('result names: the source without its extension, -cutout, the format', async (t) => {
  t.equal(resultFileName('shoe.jpg', 'png'), 'shoe-cutout.png');
  t.equal(resultFileName('archive.tar.gz', 'jpeg'), 'archive.tar-cutout.jpg');
  t.equal(resultFileName('noext', 'webp'), 'noext-cutout.webp');
  t.equal(resultFileName('.jpg', 'png'), 'image-cutout.png');
  t.equal(resultFileName('a/b\\c.png', 'png'), 'a_b_c-cutout.png', 'no folders');
});

t.test('names and checks of pasted URLs', async (t) => {
  t.equal(nameFromUrl('https://example.com/photos/red%20shoe.jpg?w=2'), 'red shoe.jpg');
  t.equal(nameFromUrl('https://example.com/'), 'example.com');
  t.equal(nameFromUrl('https://example.com/%E0%A4%A'), '%E0%A4%A', 'a broken escape is kept as it is');
  t.same(checkImageUrl('  https://example.com/a.png '), { url: 'https://example.com/a.png' });
  t.match(checkImageUrl('example.com/a.png'), { problem: /not a URL/ });
  t.match(checkImageUrl('ftp://example.com/a.png'), { problem: /http and https/ });
  t.match(checkImageUrl('javascript:alert(1)'), { problem: /http and https/ });
});
