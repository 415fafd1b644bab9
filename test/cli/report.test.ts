import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CLI_ERRORS, CliError, errorOf, systemError } from '../../src/cli/report.js';
import { projectRoot } from '../../src/config.js';
import { errorCatalog, ServiceError } from '../../src/errors.js';

t.test('errors as the report gives them', async (t) => {
  t.same(errorOf(new ServiceError('no_foreground', 'none here')), { code: 'no_foreground', message: 'none here' });
  t.same(errorOf(new CliError('write_failed', 'cannot write x')), { code: 'write_failed', message: 'cannot write x' });
  t.same(errorOf(new Error('odd')), { code: 'internal', message: 'odd' }, 'an unexpected error keeps its message: the user owns the machine');
  const missing = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
  t.same(errorOf(systemError('read_failed', 'cannot read a.jpg', missing)), { code: 'read_failed', message: 'cannot read a.jpg: ENOENT' });
});

t.test("the command's own codes are not the service's, and the README lists each", async (t) => {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('## The command line');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const rows = [...section.matchAll(/^\| `(\w+)` \| /gm)].map((m) => m[1]);
  t.same(rows.sort(), Object.keys(CLI_ERRORS).sort());
  for (const code of Object.keys(CLI_ERRORS)) t.notOk(Object.hasOwn(errorCatalog, code), code);
});
