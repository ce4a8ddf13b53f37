import { execFileSync } from 'child_process';
import { join } from 'path';

// `npm run lint` runs `prettier --check .`: .prettierignore limits it to the project's own top-level folders and
// files, so a folder of someone's photos and labels next to the code (the README's `--images ./photos`) is not
// checked, while nothing of the project drops out of the check unnoticed.
const ROOT = join(__dirname, '..');

// Prettier's API is ESM only, which jest cannot load here: ask a node process, as `prettier --check` decides.
const FILE_INFO = `
import { getFileInfo } from 'prettier';
const ignorePath = ['.gitignore', '.prettierignore'];
const infos = await Promise.all(process.argv.slice(1).map((path) => getFileInfo(path, { ignorePath })));
console.log(JSON.stringify(infos.map((info) => !info.ignored && info.inferredParser !== null)));
`;

/** Whether `prettier --check .` checks each path (relative to the repository; the file need not exist). */
function checked(paths: string[]): Record<string, boolean> {
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', FILE_INFO, ...paths], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  const answers = JSON.parse(output) as boolean[];
  return Object.fromEntries(paths.map((path, i) => [path, answers[i]]));
}

describe('what prettier checks', () => {
  test('every tracked TypeScript and JSON file of the project', () => {
    const tracked = execFileSync('git', ['ls-files', '--', '*.ts', '*.json'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((path) => path !== '' && path !== 'package-lock.json');
    // A path here is in a top-level folder or file .prettierignore does not list yet: add it there.
    expect(Object.entries(checked(tracked)).filter(([, yes]) => !yes)).toEqual([]);
    expect(tracked.length).toBeGreaterThan(100);
  });

  test('not the files of your own next to the code', () => {
    const own = [
      'photos/coco.json',
      'photos/shop/labels.json',
      'my labels.json',
      'data/annotations/page.html',
    ];
    expect(checked(own)).toEqual(Object.fromEntries(own.map((path) => [path, false])));
  });
});
