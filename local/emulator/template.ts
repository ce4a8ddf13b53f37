import { App } from 'aws-cdk-lib';
import { existsSync, readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import { AppConfig } from '../../lib/config';
import { buildApp } from '../../lib/app';

/** The parts of a CloudFormation template local mode reads. */
export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
  readonly Outputs?: Record<
    string,
    { readonly Value: unknown; readonly Export?: { readonly Name: unknown } }
  >;
  readonly Parameters?: Record<string, { readonly Default?: unknown }>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
}

/** One resource of a template. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

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

/** Where a template reference (`Ref` or `Fn::GetAtt`) points locally. */
export type PhysicalValues = (
  stack: string,
  logicalId: string,
  resource: CfnResource,
  attribute?: string,
) => unknown;

/**
 * Resolves CloudFormation intrinsic functions in `value` the way CloudFormation would at deploy time, with
 * local physical values: `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split` and
 * `Fn::ImportValue` (looked up in the other stacks' exports). Anything else is an error naming it.
 */
export class TemplateResolver {
  constructor(
    private readonly templates: Record<string, CfnTemplate>,
    private readonly pseudo: Record<string, string>,
    private readonly physical: PhysicalValues,
  ) {}

  /** The resolved value of `value`, as seen from stack `stack`. */
  resolve(value: unknown, stack: string): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, stack));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [key, arg] = entries[0];
      if (key === 'Ref') return this.ref(arg as string, stack);
      if (key === 'Fn::GetAtt') {
        const [id, ...attr] = typeof arg === 'string' ? arg.split('.') : (arg as string[]);
        return this.getAtt(id, attr.join('.'), stack);
      }
      if (key === 'Fn::Join') {
        const [separator, list] = arg as [string, unknown[]];
        return (this.resolve(list, stack) as unknown[]).join(separator);
      }
      if (key === 'Fn::Sub') return this.sub(arg as string | [string, Record<string, unknown>], stack);
      if (key === 'Fn::Select') {
        const [index, list] = arg as [unknown, unknown];
        return (this.resolve(list, stack) as unknown[])[Number(this.resolve(index, stack))];
      }
      if (key === 'Fn::Split') {
        const [separator, source] = arg as [string, unknown];
        return String(this.resolve(source, stack)).split(separator);
      }
      if (key === 'Fn::ImportValue') return this.importValue(String(this.resolve(arg, stack)));
      if (key === 'Fn::FindInMap') {
        const [map, top, second] = (this.resolve(arg, stack) as string[]).map(String);
        const value = this.templates[stack]?.Mappings?.[map]?.[top]?.[second];
        if (value === undefined) throw new Error(`Stack ${stack} has no mapping ${map}.${top}.${second}`);
        return value;
      }
      if (key.startsWith('Fn::') || key === 'Condition') {
        throw new Error(
          `Local mode cannot resolve ${key} in stack ${stack}; add it to scripts/local/template.ts`,
        );
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v, stack)]));
  }

  private resource(stack: string, logicalId: string): CfnResource {
    const resource = this.templates[stack]?.Resources?.[logicalId];
    if (!resource) throw new Error(`Stack ${stack} has no resource ${logicalId}`);
    return resource;
  }

  private ref(name: string, stack: string): unknown {
    if (name.startsWith('AWS::')) {
      if (name === 'AWS::StackName') return stack;
      if (!(name in this.pseudo)) throw new Error(`Local mode has no value for pseudo parameter ${name}`);
      return this.pseudo[name];
    }
    const parameter = this.templates[stack]?.Parameters?.[name];
    if (parameter) return parameter.Default;
    return this.physical(stack, name, this.resource(stack, name));
  }

  private getAtt(logicalId: string, attribute: string, stack: string): unknown {
    return this.physical(stack, logicalId, this.resource(stack, logicalId), attribute);
  }

  private sub(arg: string | [string, Record<string, unknown>], stack: string): string {
    const [text, variables] = typeof arg === 'string' ? [arg, {}] : arg;
    return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      if (name in variables) return String(this.resolve(variables[name], stack));
      const [id, ...attr] = name.split('.');
      return String(attr.length ? this.getAtt(id, attr.join('.'), stack) : this.ref(id, stack));
    });
  }

  private importValue(exportName: string): unknown {
    for (const [stack, template] of Object.entries(this.templates)) {
      for (const output of Object.values(template.Outputs ?? {})) {
        if (output.Export && this.resolve(output.Export.Name, stack) === exportName) {
          return this.resolve(output.Value, stack);
        }
      }
    }
    throw new Error(`No stack exports ${exportName}`);
  }
}

/** Every resource of `type` in a template, by logical id. */
export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources ?? {}).filter(([, resource]) => resource.Type === type);
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
 * e.g. "Detection API proxy" runs lambda/detect).
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
