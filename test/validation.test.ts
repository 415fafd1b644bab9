// Validation messages from the schema: one test per kind of mistake, on a schema of every shape the
// option schema uses, then on the option schema itself (and on a field added to it, which must get
// its message with no code of its own).
import t from 'tap';
import { Type } from 'typebox';
import Value from 'typebox/value';
import { RemoveBackgroundBody } from '../src/routes/remove-background.js';
import { describe, expecting, findProblem } from '../src/validation.js';

const Schema = Type.Object(
  {
    url: Type.String({ format: 'uri', maxLength: 30, ...expecting('an absolute http or https URL', 'unsupported_url') }),
    mode: Type.Union([Type.Literal('fast'), Type.Literal('good'), Type.Literal('best')], { default: 'fast' }),
    pair: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
    count: Type.Integer({ minimum: 1, maximum: 10, default: 1 }),
    ratio: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
    flag: Type.Boolean({ default: false }),
    size: Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^\\d+%$', ...expecting('a percentage such as "10%"') })], { default: 0 }),
    code: Type.Optional(Type.String({ pattern: '^[a-z]{3}$' })),
    box: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }), { minItems: 4, maxItems: 4 })),
    under: Type.Optional(Type.Union([Type.Literal('none'), Type.Object({ url: Type.String({ format: 'uri' }) }, { additionalProperties: false })])),
  },
  { additionalProperties: false },
);
const good = { url: 'https://example.com/a.jpg', mode: 'fast', pair: 'on', count: 1, ratio: 0.5, flag: false, size: 0 };
const problem = (change: Record<string, unknown>, schema = Schema) => findProblem(schema, { ...good, ...change }, 'the body');

t.test('a value that fits has no problem', async (t) => {
  t.equal(findProblem(Schema, good), undefined);
  t.equal(problem({ size: '12%', box: [1, 2, 3, 4], under: { url: 'https://example.com/b.png' }, code: 'abc' }), undefined);
});

t.test('a value outside a list of literals: the list', async (t) => {
  t.same(problem({ mode: 'quick' }), { code: 'invalid_request', message: 'mode must be one of fast, good, best (got "quick")' });
  t.same(problem({ pair: 'maybe' }), { code: 'invalid_request', message: 'pair must be on or off (got "maybe")' });
});

t.test('a number out of range, or not an integer: the range', async (t) => {
  t.same(problem({ count: 11 }), { code: 'invalid_request', message: 'count must be an integer from 1 to 10 (got 11)' });
  t.same(problem({ count: 1.5 }), { code: 'invalid_request', message: 'count must be an integer from 1 to 10 (got 1.5)' });
  t.same(problem({ ratio: -0.1 }), { code: 'invalid_request', message: 'ratio must be a number from 0 to 1 (got -0.1)' });
});

t.test('a wrong type: what the field takes, and what came', async (t) => {
  t.same(problem({ flag: 'yes' }), { code: 'invalid_request', message: 'flag must be true or false (got "yes")' });
  t.same(problem({ count: '3' }), { code: 'invalid_request', message: 'count must be an integer from 1 to 10 (got "3")' });
  t.same(problem({ mode: null }), { code: 'invalid_request', message: 'mode must be one of fast, good, best (got null)' });
});

t.test('a pattern: the words stored on the schema, or the pattern itself when there are none', async (t) => {
  t.same(problem({ size: '10 %' }), { code: 'invalid_request', message: 'size must be an integer of at least 0 or a percentage such as "10%" (got "10 %")' });
  t.same(problem({ code: 'ABCD' }), { code: 'invalid_request', message: 'code must be a string matching ^[a-z]{3}$ (got "ABCD")' });
});

t.test("a field with a code of its own answers with it", async (t) => {
  t.same(problem({ url: 'photo.jpg' }), { code: 'unsupported_url', message: 'url must be an absolute http or https URL (got "photo.jpg")' });
  t.same(problem({ url: `https://example.com/${'a'.repeat(20)}` }), {
    code: 'unsupported_url',
    message: 'url must be an absolute http or https URL of at most 30 characters (got 40 characters)',
  }, 'too long: its length is what to fix');
});

t.test('an unknown field: its name, and the fields there are', async (t) => {
  t.same(problem({ colour: 'red' }), { code: 'invalid_request', message: 'unknown field colour: the fields are url, mode, pair, count, ratio, flag, size, code, box, under' });
  t.same(problem({ under: { url: 'https://example.com/b.png', fit: 'cover' } }), {
    code: 'invalid_request',
    message: 'unknown field under.fit: the fields of under are url',
  });
});

t.test('a missing field: its name and what it takes', async (t) => {
  t.same(findProblem(Schema, { mode: 'fast' }, 'the body'), { code: 'invalid_request', message: 'url is required: an absolute http or https URL' });
  t.same(problem({ under: {} }), { code: 'invalid_request', message: 'under.url is required: a URL' });
});

t.test('an object meant for one branch of a union: what is wrong inside it', async (t) => {
  t.same(problem({ under: { url: 'nope' } }), { code: 'invalid_request', message: 'under.url must be a URL (got "nope")' });
  t.same(problem({ under: 'some' }), { code: 'invalid_request', message: 'under must be none or an object with the field url (got "some")' });
});

t.test('a list: its length, or the item that is wrong', async (t) => {
  t.same(problem({ box: [1, 2, 3] }), { code: 'invalid_request', message: 'box must be a list of 4 items, each an integer of at least 0 (got a list of 3 items)' });
  t.same(problem({ box: [1, 2, -3, 4] }), { code: 'invalid_request', message: 'box[2] must be an integer of at least 0 (got -3)' });
});

t.test('the whole value of the wrong type: named by its subject', async (t) => {
  t.same(findProblem(Schema, [1, 2], 'the body'), {
    code: 'invalid_request',
    message: 'the body must be an object with the fields url, mode, pair, count, ratio, flag, size, code, box, under (got a list of 2 items)',
  });
});

t.test('the option schema: every field says what it takes', async (t) => {
  for (const [name, field] of Object.entries(RemoveBackgroundBody.properties)) {
    const words = describe(field as unknown as Record<string, unknown>);
    t.notMatch(words, /a valid value|a string matching/, `${name}: ${words}`);
  }
  t.equal(describe(RemoveBackgroundBody.properties.format as unknown as Record<string, unknown>), 'one of png, webp, jpeg');
});

t.test('a field added to the option schema gets its message with no code of its own', async (t) => {
  const Extended = Type.Object(
    {
      ...RemoveBackgroundBody.properties,
      future_strength: Type.Number({ minimum: 0, maximum: 1, default: 0.4 }),
      future_side: Type.Union([Type.Literal('center'), Type.Literal('top'), Type.Literal('bottom')], { default: 'center' }),
    },
    { additionalProperties: false },
  );
  // A valid body, every default filled in, so the only problem is the one each case adds.
  const body = Value.Default(Extended, { image_url: 'https://example.com/a.jpg' }) as Record<string, unknown>;
  t.same(findProblem(Extended, { ...body, future_strength: 2, future_side: 'center' }), { code: 'invalid_request', message: 'future_strength must be a number from 0 to 1 (got 2)' });
  t.same(findProblem(Extended, { ...body, future_strength: 0.5, future_side: 'left' }), { code: 'invalid_request', message: 'future_side must be one of center, top, bottom (got "left")' });
});
