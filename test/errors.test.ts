import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { projectRoot } from '../src/config.js';
import { errorBody, errorCatalog, ServiceError, type ErrorCode } from '../src/errors.js';

t.test('a ServiceError takes its status from its code', async (t) => {
  const error = new ServiceError('too_large', 'big', { headers: { 'retry-after': '1' } });
  t.equal(error.statusCode, 413);
  t.same(error.headers, { 'retry-after': '1' });
  t.same(errorBody('no_foreground', 'none'), { error: { code: 'no_foreground', message: 'none' } });
});

t.test('the README lists every error code with its status, and nothing else', async (t) => {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Errors'), readme.indexOf('\n## ', readme.indexOf('## Errors') + 1));
  const rows = new Map([...section.matchAll(/^\| `(\w+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
  for (const [code, { status }] of Object.entries(errorCatalog)) t.equal(rows.get(code), status, code);
  t.same([...rows.keys()].sort(), Object.keys(errorCatalog).sort() as ErrorCode[]);
});
