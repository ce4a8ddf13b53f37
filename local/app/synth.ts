import { App } from 'aws-cdk-lib';
import { existsSync, readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import { AppConfig } from '../../lib/config';
import { buildApp } from '../../lib/app';
import { CfnResource, CfnTemplate } from '../emulator/template';

/** The synthesized app, as local mode needs it. */
export interface SynthesizedApp {
  readonly config: AppConfig;
  /** Template per stack name. */
  readonly templates: Record<string, CfnTemplate>;
  /** The cloud assembly directory (bundled Lambda assets live there). */
  readonly assemblyDir: string;
  readonly dataStack: string;
  readonly pipelineStack: string;
  readonly apiStack: string;
}

/**
 * Synthesizes the app in-process with cdk.json's context plus `context` (the local overrides), exactly as
 * `cdk synth -c key=value` would, into `outdir`. A `workteamArn` in cdk.json is left out: there is no Ground
 * Truth workforce locally, so local mode always imports labels.
 */
export function synthesize(
  repoRoot: string,
  outdir: string,
  context: Record<string, unknown>,
): SynthesizedApp {
  const cdkJson = JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const configured = { ...cdkJson.context };
  delete configured.workteamArn;
  // Local mode runs the handlers from source, so the Lambda bundles (esbuild, npm installs) are not built.
  const app = new App({
    outdir,
    context: {
      ...configured,
      'aws:cdk:bundling-stacks': [],
      // As the CDK CLI does: construct paths in each resource's metadata, which name the handler of a function.
      'aws:cdk:enable-path-metadata': true,
      ...context,
    },
  });
  const built = buildApp(app);
  const assembly = app.synth();
  const templates: Record<string, CfnTemplate> = {};
  for (const stack of assembly.stacks) templates[stack.stackName] = stack.template as CfnTemplate;
  return {
    config: built.config,
    templates,
    assemblyDir: assembly.directory,
    dataStack: built.data.stackName,
    pipelineStack: built.pipeline.stackName,
    apiStack: built.api.stackName,
  };
}

/** The handler folders under lambda/ (each with an index.ts exporting `handler`). */
export function handlerDirs(repoRoot: string): string[] {
  const root = join(repoRoot, 'lambda');
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, 'index.ts')))
    .map((entry) => entry.name);
}

/**
 * Which lambda/<folder> a synthesized function runs: the pipeline's functions name it in their Powertools
 * service name (`logo-detection-<folder>`). Otherwise the bundle esbuild wrote to the assembly names its entry
 * file in a comment (`// lambda/<folder>/index.ts`, unless minified); as a last resort the construct path
 * below the stack and the function's description are matched against the folder names (the longest match wins,
 * e.g. "Detection API proxy" runs lambda/detect). Undefined for the functions CDK adds for itself (custom
 * resource providers, log retention), which run no code of ours.
 */
export function handlerDirOf(
  resource: CfnResource,
  assemblyDir: string,
  dirs: string[],
  logicalId: string,
): string | undefined {
  const environment = (
    resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined
  )?.Variables;
  const service = environment?.POWERTOOLS_SERVICE_NAME;
  if (typeof service === 'string') {
    const dir = dirs.find((d) => service === `logo-detection-${d}`);
    if (dir) return dir;
  }
  const assetPath = resource.Metadata?.['aws:asset:path'];
  if (typeof assetPath === 'string') {
    const bundle = join(assemblyDir, assetPath, 'index.js');
    if (existsSync(bundle)) {
      const mentioned = new Set(
        [...readFileSync(bundle, 'utf8').matchAll(/\/\/ lambda\/([A-Za-z0-9_-]+)\/index\.ts/g)].map(
          (m) => m[1],
        ),
      );
      const entries = dirs.filter((dir) => mentioned.has(dir));
      if (entries.length === 1) return entries[0];
    }
  }
  // The stack's own name (logo-detection-...) would match every folder name it contains, so it is left out.
  const cdkPath = resource.Metadata?.['aws:cdk:path'];
  const path = typeof cdkPath === 'string' ? cdkPath.split('/').slice(1).join('/') : logicalId;
  const words = `${path} ${String(resource.Properties?.Description ?? '')}`
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  const matches = dirs.filter((dir) => words.includes(dir.toLowerCase().replace(/[^a-z0-9]/g, '')));
  return matches.sort((a, b) => b.length - a.length)[0];
}
