import { spawnSync } from 'child_process';
import { join } from 'path';

const root = join(__dirname, '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const oldNode = Number(process.versions.node.split('.')[0]) < 22;

/** A shell's environment: fake credentials, an S3 endpoint nothing listens on, and no switch set beforehand. */
function shellEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_MAX_ATTEMPTS: '1',
  };
  // This test process may have imported scripts/node-version, which set the switch; a user's shell has not.
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  return env;
}

describe("the AWS SDK's Node.js version warning", () => {
  (oldNode ? test : test.skip)(
    'is printed by a script that builds an SDK client without the project setup (the test would see it)',
    () => {
      const run = spawnSync(
        tsx,
        ['-e', "new (require('@aws-sdk/client-s3').S3Client)({ region: 'us-east-1' })"],
        { cwd: root, env: shellEnv(), encoding: 'utf8' },
      );
      expect(run.stderr).toContain('NodeVersionSupportWarning');
    },
  );

  test('is not printed by a local command that builds and calls SDK clients', () => {
    const run = spawnSync(tsx, ['scripts/start-run.ts'], { cwd: root, env: shellEnv(), encoding: 'utf8' });
    // It reached AWS (here, nothing) through its CloudFormation client, and failed as it should.
    expect(run.stderr).toContain('Cannot read stack LogoDetectionPipeline');
    expect(run.status).toBe(1);
    expect(run.stderr).not.toContain('NodeVersionSupportWarning');
  });
});
