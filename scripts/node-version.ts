import { engines } from '../package.json';

/**
 * Imported first by every command of this project that runs on the developer's Node.js (the operator commands,
 * `npm start`, the benchmarks; `npm test` runs it on its own first); the Lambda runtime (Node 24) needs none of it.
 *
 * 1. It stops the command at once, with a message saying what to install, on a Node.js that package.json's
 *    `engines.node` (the one statement of the supported versions) does not allow: better than a syntax error
 *    deep in a dependency.
 * 2. AWS SDK v3 warns on every process that builds a client under Node 22 (its releases after January 2027 will
 *    require Node 22). On an older Node these commands turn that warning off with the SDK's own switch,
 *    `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED`, before any client exists; processes they start inherit
 *    it. A value set by the user is kept.
 */

/**
 * Why Node.js `version` cannot run this project, or undefined when it can.
 * @param version - `process.versions.node`, e.g. `20.19.2` (a leading `v` is allowed)
 * @param required - a range of the form `>=MAJOR.MINOR[.PATCH]`; by default package.json's `engines.node`
 * @throws Error when `required` has another form (this check reads only that one)
 */
export function nodeVersionProblem(version: string, required: string = engines.node): string | undefined {
  const range = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(required.trim());
  if (!range)
    throw new Error(`engines.node in package.json must read ">=MAJOR.MINOR[.PATCH]", got "${required}"`);
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!have)
    return `Cannot tell which Node.js this is ("${version}"); this project needs Node.js ${required}.`;
  const need = [range[1], range[2], range[3] ?? '0'].map(Number);
  const got = have.slice(1, 4).map(Number);
  const index = need.findIndex((part, i) => got[i] !== part);
  if (index < 0 || got[index] > need[index]) return undefined;
  return (
    `Node.js ${version} is not supported: this project needs Node.js ${required} (package.json "engines"; ` +
    `.nvmrc names 20, the version the tests run on). Install it (with nvm: nvm install, in this folder), ` +
    `then run the command again.`
  );
}

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  console.error(problem);
  process.exit(1);
}

if (Number(process.versions.node.split('.')[0]) < 22) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
