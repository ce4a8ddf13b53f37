import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import { join } from 'path';
import { Figure } from './report';
import { bytes } from './stats';

interface TemplateResource {
  Type: string;
  Metadata?: Record<string, string>;
  Properties?: { Handler?: string };
}

/** Total size of a directory's files. */
function dirSize(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (sum, entry) =>
      sum + (entry.isDirectory() ? dirSize(join(dir, entry.name)) : statSync(join(dir, entry.name)).size),
    0,
  );
}

/** Each Lambda function's asset in a synthesized cloud assembly: its construct path and directory. */
export function lambdaAssets(cdkOut: string): { name: string; dir: string; entry: string }[] {
  const found: { name: string; dir: string; entry: string }[] = [];
  for (const file of readdirSync(cdkOut).filter((f) => f.endsWith('.template.json'))) {
    const template = JSON.parse(readFileSync(join(cdkOut, file), 'utf8')) as {
      Resources: Record<string, TemplateResource>;
    };
    for (const resource of Object.values(template.Resources)) {
      const assetPath = resource.Metadata?.['aws:asset:path'];
      const cdkPath = resource.Metadata?.['aws:cdk:path'];
      if (resource.Type !== 'AWS::Lambda::Function' || !assetPath || !cdkPath) continue;
      // Handler "index.handler" lives in index.js; CDK's provider framework uses "framework.onEvent".
      const file = (resource.Properties?.Handler ?? 'index.handler').replace(/\.[^.]+$/, '');
      const dir = join(cdkOut, assetPath);
      const entry =
        ['.js', '.mjs', '.cjs'].map((ext) => join(dir, file + ext)).find((f) => existsSync(f)) ??
        join(dir, `${file}.js`);
      found.push({ name: cdkPath.replace(/\/Resource$/, ''), dir, entry });
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** Minified size of each function's deployed bundle, from the synthesized assets. */
export function bundleFigures(cdkOut: string): Figure[] {
  return lambdaAssets(cdkOut).map(({ name, dir, entry }) => {
    const code = existsSync(entry) ? statSync(entry).size : 0;
    const total = dirSize(dir);
    return {
      name: `bundle ${name}`,
      value: bytes(code),
      baseline: bytes(total),
      goal: 'minified JS (baseline: whole asset incl. native modules)',
    };
  });
}
