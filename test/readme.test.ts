import { readFileSync } from 'fs';
import { join } from 'path';
import { CONFIG_KEYS, loadConfig } from '../lib/config';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

describe('README', () => {
  test.each(CONFIG_KEYS.map((k) => [k.key, k.defaultText]))(
    'documents configuration key %s with its default',
    (key, def) => {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
      expect(row).toBeDefined();
      expect(row).toContain(def);
    },
  );

  test('the context in cdk.json is a valid configuration', () => {
    expect(() => loadConfig((key) => cdkJson.context[key])).not.toThrow();
  });

  test('gives the two quick-start lines', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toMatch(/^npm test$/m);
  });
});
