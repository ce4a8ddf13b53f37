import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import { engines, scripts } from '../package.json';
import { nodeVersionProblem } from '../scripts/node-version';

const root = join(__dirname, '..');

describe('the supported Node.js version', () => {
  test('is accepted from the minimum package.json states upwards', () => {
    expect(nodeVersionProblem('20.19.0', '>=20.19')).toBeUndefined();
    expect(nodeVersionProblem('20.20.2', '>=20.19')).toBeUndefined();
    expect(nodeVersionProblem('v22.1.0', '>=20.19')).toBeUndefined();
    expect(nodeVersionProblem('24.0.0', '>=20.19.1')).toBeUndefined();
  });

  test('is refused below it, with the version found, the one needed and how to install it', () => {
    const problem = nodeVersionProblem('18.20.4', '>=20.19');
    expect(problem).toContain('Node.js 18.20.4 is not supported');
    expect(problem).toContain('needs Node.js >=20.19');
    expect(problem).toContain('nvm install');
    expect(nodeVersionProblem('20.18.3', '>=20.19')).toContain('Node.js 20.18.3 is not supported');
    expect(nodeVersionProblem('20.19.0', '>=20.19.1')).toContain('is not supported');
  });

  test('a version string it cannot read is refused, naming it', () => {
    expect(nodeVersionProblem('unknown', '>=20.19')).toContain('"unknown"');
  });

  test("reads package.json's engines.node, in the one form it understands", () => {
    expect(() => nodeVersionProblem('20.19.0', '^20 || ^22')).toThrow('"^20 || ^22"');
    expect(() => nodeVersionProblem(process.versions.node, engines.node)).not.toThrow();
    expect(nodeVersionProblem(process.versions.node)).toBeUndefined();
  });

  test('.nvmrc names a major version package.json allows', () => {
    const major = readFileSync(join(root, '.nvmrc'), 'utf8').trim();
    expect(major).toMatch(/^\d+$/);
    expect(nodeVersionProblem(`${major}.99.0`)).toBeUndefined();
  });

  test('is checked before npm test and first thing in every command', () => {
    expect(scripts.pretest).toBe('tsx scripts/node-version.ts');
    // The first import statement of a file (it may span lines).
    const firstImport = (path: string) =>
      /^import\s(?:[^;]*?\sfrom\s)?'([^']+)';/m.exec(readFileSync(join(root, path), 'utf8'))?.[1];
    // The operator commands, `npm start` (through local mode's polyfills, which import it first) and the benchmarks.
    expect(firstImport('scripts/start-run.ts')).toBe('./node-version');
    expect(firstImport('scripts/import-labels.ts')).toBe('./node-version');
    expect(firstImport('scripts/fetch-pretrained.ts')).toBe('./node-version');
    expect(firstImport('scripts/migrate-keys.ts')).toBe('./node-version');
    // Every npm script that runs a TypeScript file runs one of the files above.
    const entries = Object.values(scripts).flatMap(
      (command) => /\btsx (\S+\.ts)/.exec(command)?.slice(1) ?? [],
    );
    for (const entry of entries.filter((e) => e !== 'scripts/node-version.ts')) {
      expect({ entry, first: firstImport(entry) }).toEqual({
        entry,
        first: expect.stringMatching(/node-version$|emulator\/polyfills$/),
      });
    }
    expect(firstImport('scripts/bench/index.ts')).toBe('../node-version');
    expect(firstImport('local/app/start.ts')).toBe('../emulator/polyfills');
    expect(firstImport('local/emulator/polyfills.ts')).toBe('../../scripts/node-version');
  });

  test('an unsupported Node.js stops the command at once, exit status 1, with the message', () => {
    const run = spawnSync(
      join(root, 'node_modules', '.bin', 'tsx'),
      [
        '-e',
        "Object.defineProperty(process.versions, 'node', { value: '18.20.4' }); require('./scripts/node-version'); console.log('ran on')",
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Node.js 18.20.4 is not supported');
    expect(run.stdout).not.toContain('ran on');
  });
});
