import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../lib/app';
import { loadConfig } from '../lib/config';
import { newApp } from './app-context';

type Report = ReturnType<AwsSolutionsChecks['validateScope']>;

function findings(report: Report): string[] {
  return report.violations.flatMap((v) =>
    v.violatingResources.map(
      (r) => `${v.ruleName} at ${r.resourceLogicalId}: ${v.description.split('\n')[0]}`,
    ),
  );
}

const configurations: [string, Record<string, unknown>][] = [
  ['the default configuration', {}],
  [
    'Ground Truth labeling, API keys, dev buckets, a schedule, e-mail, full execution logs and a serverless endpoint',
    {
      workteamArn: 'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers',
      apiAuth: 'apiKey',
      dev: true,
      schedule: 'rate(1 day)',
      notificationEmail: 'ops@example.com',
      apiCorsOrigins: ['https://app.example.com'],
      trainingUseSpot: false,
      executionLogLevel: 'ALL',
      endpointMode: 'serverless',
      serverlessProvisionedConcurrency: 1,
    },
  ],
];

describe('cdk-nag AwsSolutions', () => {
  test.each(configurations)('%s has no unacknowledged findings', (_name, context) => {
    const app = newApp();
    buildApp(
      app,
      loadConfig((key) => context[key]),
    );
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(findings(report)).toEqual([]);
  });

  test('an action on every resource that no reason names is still reported', () => {
    const app = newApp();
    const { pipeline } = buildApp(
      app,
      loadConfig(() => undefined),
    );
    const role = new iam.Role(pipeline, 'Extra', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 's3:GetObject'], resources: ['*'] }),
    );
    // Synthesis runs the stack's acknowledgement again, now over the added role too.
    app.synth();
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(findings(report).join('\n')).toMatch(/AwsSolutions-IAM5\[Resource::\*\]/);
  });

  test('the check is live: an unencrypted-transport bucket is reported', () => {
    const app = newApp();
    const stack = new Stack(app, 'Bad');
    new s3.Bucket(stack, 'Open');
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(findings(report).join('\n')).toMatch(/AwsSolutions-S10/);
  });
});
