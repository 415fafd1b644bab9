import { createHash } from 'node:crypto';
import path from 'node:path';
import t from 'tap';
import { isAcceptedDigest, readManifest, sha256File } from '../../src/model/manifest.js';

t.test('the manifest names the model, its I/O and the digests it accepts', async (t) => {
  const manifest = readManifest();
  t.equal(manifest.file, 'u2netp.onnx');
  t.same(manifest.input, { name: 'input.1', shape: [1, 3, 320, 320] });
  t.equal(manifest.output.name, '1959');
  t.ok(isAcceptedDigest(manifest, manifest.upstream.sha256));
  t.ok(isAcceptedDigest(manifest, manifest.upstream.sha256.toUpperCase()), 'case does not matter');
  t.notOk(isAcceptedDigest(manifest, '0'.repeat(64)));
});

t.test('sha256File hashes a file', async (t) => {
  const dir = t.testdir({ 'a.bin': 'hello' });
  t.equal(await sha256File(path.join(dir, 'a.bin')), createHash('sha256').update('hello').digest('hex'));
});
