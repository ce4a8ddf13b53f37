import { readFileSync } from 'fs';
import { join } from 'path';
import { configurationTable, loadConfig } from '../lib/config';
import { endpointCostTable } from '../lib/run-cost';
import { trainingGpuTable } from '../lib/training-gpus';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
// The long reference tables (configuration, training GPUs) live in docs/reference.md, linked from the README.
const reference = readFileSync(join(__dirname, '..', 'docs', 'reference.md'), 'utf8');
const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

/** The Markdown table in docs/reference.md that starts with `header`, up to the first line that is not a table row. */
function tableStartingWith(header: string): string {
  const lines = reference.split('\n');
  const start = lines.indexOf(header);
  if (start < 0) throw new Error(`docs/reference.md has no table starting with ${header}`);
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

describe('README', () => {
  test('the configuration table is the one lib/config.ts declares, key for key', () => {
    // On a failure, paste configurationTable()'s output (the "Expected" side) into docs/reference.md.
    const expected = configurationTable();
    expect(tableStartingWith(expected.split('\n')[0])).toBe(expected);
  });

  test('the training GPU table is the one lib/training-gpus.ts gives, family for family', () => {
    // On a failure, paste trainingGpuTable()'s output (the "Expected" side) into docs/reference.md.
    const expected = trainingGpuTable();
    expect(tableStartingWith(expected.split('\n')[0])).toBe(expected);
  });

  test("the monthly endpoint costs are the price table's, for the default configuration in each mode", () => {
    // On a failure, paste endpointCostTable()'s output (the "Expected" side) into the README's Costs section.
    const expected = endpointCostTable(loadConfig(() => undefined));
    const lines = readme.split('\n');
    const start = lines.indexOf(expected.split('\n')[0]);
    const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
    expect(start).toBeGreaterThanOrEqual(0);
    expect(lines.slice(start, end).join('\n')).toBe(expected);
  });

  test('the context in cdk.json is a valid configuration', () => {
    expect(() => loadConfig((key) => cdkJson.context[key])).not.toThrow();
  });

  test('gives the two quick-start lines', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toMatch(/^npm test$/m);
  });
});
