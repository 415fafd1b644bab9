import t from 'tap';
import { optionalDefaults } from '../../src/plugins/openapi.js';

t.test('optionalDefaults drops from required lists the properties with a default, at any depth', async (t) => {
  const document = {
    schema: {
      type: 'object',
      required: ['a', 'b'],
      properties: { a: { type: 'string' }, b: { type: 'integer', default: 0 } },
    },
    nested: [{ required: ['c'], properties: { c: { default: 'x' } } }],
    parameter: { name: 'x', required: true },
  };
  optionalDefaults(document);
  t.same(document.schema.required, ['a']);
  t.notOk('required' in document.nested[0]!, 'an emptied list goes away');
  t.equal(document.parameter.required, true, 'a boolean required is not a list and stays');
});
