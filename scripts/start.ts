/**
 * `npm start`: synthesizes the app and summarizes what it would deploy.
 * (Local mode, which runs the whole pipeline and the API on this machine, replaces this.)
 */
import { App } from 'aws-cdk-lib';
import { addNagChecks, buildApp } from '../lib/app';

const app = new App({ outdir: 'cdk.out' });
const { config } = buildApp(app);
addNagChecks(app);
const assembly = app.synth();

console.log(`Synthesized ${assembly.stacks.length} stacks to ${assembly.directory}`);
for (const stack of assembly.stacks) {
  const resources = Object.values(stack.template.Resources ?? {}) as { Type: string }[];
  const types = new Map<string, number>();
  for (const r of resources) types.set(r.Type, (types.get(r.Type) ?? 0) + 1);
  console.log(`\n${stack.stackName}: ${resources.length} resources`);
  for (const [type, count] of [...types].sort()) console.log(`  ${String(count).padStart(3)}  ${type}`);
}
console.log(
  `\nClasses: ${config.classes.join(', ')}; labeling: ${config.labeling.mode}; API auth: ${config.api.auth}`,
);
