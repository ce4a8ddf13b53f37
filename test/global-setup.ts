/**
 * Jest's global setup: the checks every command of this project runs first (scripts/node-version.ts), here for the
 * test workers, which are started after it and inherit its environment: on Node.js below 22 the AWS SDK's
 * documented switch keeps its Node.js version warning out of every test's output (`npm test`'s own pretest runs in
 * a process of its own, so its setting does not reach jest). test/sdk-node-warning.test.ts removes the switch
 * where it checks the warning.
 */
import '../scripts/node-version';

export default function globalSetup(): void {}
