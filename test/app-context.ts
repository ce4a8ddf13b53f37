import { App } from 'aws-cdk-lib';
import { readFileSync } from 'fs';
import { join } from 'path';

/** The context in cdk.json (feature flags and configuration), as `cdk synth` sees it. */
export const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;

/** An App with cdk.json's feature flags, so tests synthesize what `cdk synth` would. */
export function newApp(context: Record<string, unknown> = {}): App {
  const flags = Object.fromEntries(Object.entries(CDK_JSON_CONTEXT).filter(([key]) => key.includes(':')));
  return new App({ context: { ...flags, ...context } });
}
