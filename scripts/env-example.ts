// npm run env-example: writes .env.example from the config schema, so the two cannot drift apart
// (test/config.test.ts fails when the committed file is not what this would write).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeSettings, projectRoot } from '../src/config.js';

export function envExample(): string {
  const lines = [
    '# bg-removal-service settings. Every line shows the default; uncomment and change what you need.',
    '# Generated from src/config.ts by `npm run env-example`.',
  ];
  for (const setting of describeSettings()) {
    lines.push('', `# ${setting.description}`, `# ${setting.name}=${String(setting.default)}`);
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(path.join(projectRoot, '.env.example'), envExample());
}
