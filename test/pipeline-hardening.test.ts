import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app';
import { loadConfig } from '../lib/config';
import { sageMakerNamePrefix } from '../lib/pipeline-tasks';
import { newApp } from './app-context';
import { actions, resources, roleStatements } from './policies';
import { AslDefinition, stateMachineResource, synthesizedDefinition } from './state-machine';

// What issue 14 asks of the pipeline stack before its first deploy: a rollback alarm that one error cannot fire,
// SageMaker permissions scoped to this stack, and a training role with only what a training job uses.

function synth(context: Record<string, unknown> = {}): {
  template: Template;
  definition: AslDefinition;
  prefix: string;
} {
  const { pipeline } = buildApp(
    newApp(),
    loadConfig((key) => context[key]),
  );
  const template = Template.fromStack(pipeline);
  return { template, definition: synthesizedDefinition(template), prefix: sageMakerNamePrefix(pipeline) };
}

/** Whether an IAM resource pattern (`*` matching anything) matches an ARN. */
const matches = (pattern: string, arn: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(arn);

/** The logical id of the role in a `{ "Fn::GetAtt": [role, "Arn"] }`. */
const roleOf = (arn: unknown) => (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

const stateMachineStatements = (template: Template) =>
  roleStatements(template, roleOf(stateMachineResource(template).Properties?.RoleArn));

/** The one KMS key of the pipeline stack, as policies name its ARN. */
function keyArn(template: Template): unknown {
  const keys = Object.keys(template.findResources('AWS::KMS::Key'));
  expect(keys).toHaveLength(1);
  return { 'Fn::GetAtt': [keys[0], 'Arn'] };
}

type MetricQuery = {
  Id: string;
  Expression?: string;
  ReturnData?: boolean;
  MetricStat?: {
    Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] };
    Period: number;
    Stat: string;
  };
};
type AlarmProperties = {
  Metrics: MetricQuery[];
  Threshold: number;
  ComparisonOperator: string;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  TreatMissingData: string;
};

const WORKTEAM = 'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers';

let standard: ReturnType<typeof synth>;
beforeAll(() => {
  standard = synth();
});

describe('the alarm that rolls a blue/green update back', () => {
  const alarm = () => {
    const alarms = standard.template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms)).toHaveLength(1);
    const [[logicalId, resource]] = Object.entries(alarms);
    return { logicalId, properties: resource.Properties as AlarmProperties };
  };

  /** The alarm's metric math evaluated for one period, with the per-minute sums given. */
  const errorRate = (sums: Record<string, number>): number => {
    const expression = alarm().properties.Metrics.find((m) => m.ReturnData !== false)?.Expression ?? '';
    // Only the operators, numbers, IF and the two metric ids the alarm declares may appear.
    expect(expression).toMatch(/^(IF|errors|invocations|[\d.\s()+\-*/,<>=])+$/);
    const evaluate = new Function('IF', 'errors', 'invocations', `return ${expression};`) as (
      ...args: unknown[]
    ) => number;
    const IF = (condition: boolean, whenTrue: number, whenFalse: number) =>
      condition ? whenTrue : whenFalse;
    return evaluate(IF, sums.errors, sums.invocations);
  };

  test('is the 5XX error rate of the endpoint’s variant, from one-minute sums', () => {
    const { properties } = alarm();
    const stats = properties.Metrics.filter((m) => m.MetricStat).map((m) => ({
      id: m.Id,
      metric: m.MetricStat!.Metric.MetricName,
      namespace: m.MetricStat!.Metric.Namespace,
      dimensions: m.MetricStat!.Metric.Dimensions,
      period: m.MetricStat!.Period,
      stat: m.MetricStat!.Stat,
    }));
    const dimensions = [
      { Name: 'EndpointName', Value: 'LogoDetectionPipeline-detector' },
      { Name: 'VariantName', Value: 'AllTraffic' },
    ];
    expect(stats).toEqual(
      expect.arrayContaining([
        {
          id: 'errors',
          metric: 'Invocation5XXErrors',
          namespace: 'AWS/SageMaker',
          dimensions,
          period: 60,
          stat: 'Sum',
        },
        {
          id: 'invocations',
          metric: 'Invocations',
          namespace: 'AWS/SageMaker',
          dimensions,
          period: 60,
          stat: 'Sum',
        },
      ]),
    );
    expect(stats).toHaveLength(2);
  });

  test('one 5xx from a caller does not breach: a minute needs at least 10 invocations and 5 % of them failing', () => {
    const { properties } = alarm();
    const breaches = (errors: number, invocations: number) =>
      errorRate({ errors, invocations }) >= properties.Threshold;
    expect(properties.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    expect(breaches(1, 1)).toBe(false);
    expect(breaches(9, 9)).toBe(false);
    expect(breaches(1, 100)).toBe(false);
    expect(breaches(5, 100)).toBe(true);
    expect(breaches(10, 10)).toBe(true);
  });

  test('fires on two breaching minutes out of three, and never on missing data', () => {
    const { properties } = alarm();
    expect(properties).toMatchObject({
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
  });

  test('is the alarm UpdateEndpoint rolls back on', () => {
    const { logicalId } = alarm();
    const parameters = standard.definition.States['Update endpoint'].Parameters as {
      DeploymentConfig: { AutoRollbackConfiguration: { Alarms: { AlarmName: string }[] } };
    };
    const alarms = parameters.DeploymentConfig.AutoRollbackConfiguration.Alarms;
    expect(alarms).toHaveLength(1);
    expect(alarms[0].AlarmName).toContain(logicalId);
  });
});

describe('the state machine’s SageMaker permissions', () => {
  const ARN = 'arn:aws:sagemaker:us-east-1:123456789012:';

  test('name only this stack’s training jobs, models, endpoint configs and endpoint', () => {
    for (const { template, prefix } of [standard, synth({ workteamArn: WORKTEAM })]) {
      const sagemaker = stateMachineStatements(template).filter((s) =>
        actions(s).some((a) => a.startsWith('sagemaker:')),
      );
      expect(sagemaker.length).toBeGreaterThan(0);
      const own = new RegExp(
        `^${ARN}((training-job|model|endpoint-config|labeling-job)/${prefix}-(train|model|config|labels)-\\*` +
          '|endpoint/logodetectionpipeline-detector)$',
      );
      for (const statement of sagemaker) {
        for (const resource of resources(statement))
          expect({ resource, own: own.test(resource) }).toEqual({ resource, own: true });
      }
    }
  });

  test('match none of the names of a stack whose name shares their beginning', () => {
    const staging = sageMakerNamePrefix(
      new Stack(new App(), 'Staging', { stackName: 'LogoDetectionPipeline-Staging' }),
    );
    const theirs = [
      `training-job/${staging}-train-`,
      `model/${staging}-model-`,
      `endpoint-config/${staging}-config-`,
    ].map((name) => `${ARN}${name}${'0'.repeat(40)}`);
    const patterns = stateMachineStatements(standard.template)
      .filter((s) => actions(s).some((a) => a.startsWith('sagemaker:')))
      .flatMap(resources);
    for (const pattern of patterns) {
      for (const arn of theirs)
        expect({ pattern, arn, matches: matches(pattern, arn) }).toEqual({ pattern, arn, matches: false });
    }
  });

  test('CreateTrainingJob only with network isolation, the stack’s key for volume and output, and the configured instance type', () => {
    const cases = [
      { instanceType: loadConfig(() => undefined).training.instanceType, ...standard },
      { instanceType: 'ml.g5.2xlarge', ...synth({ trainingInstanceType: 'ml.g5.2xlarge' }) },
    ];
    for (const { instanceType, template, definition } of cases) {
      const creates = stateMachineStatements(template).filter((s) =>
        actions(s).some((a) => ['sagemaker:createtrainingjob', 'sagemaker:*'].includes(a.toLowerCase())),
      );
      expect(creates).toHaveLength(1);
      expect(actions(creates[0])).toEqual(['sagemaker:CreateTrainingJob']);
      expect(creates[0].Condition).toEqual({
        Bool: { 'sagemaker:NetworkIsolation': 'true' },
        ArnEquals: {
          'sagemaker:VolumeKmsKeyArn': keyArn(template),
          'sagemaker:OutputKmsKeyArn': keyArn(template),
        },
        'ForAllValues:StringEquals': { 'sagemaker:InstanceTypes': [instanceType] },
        Null: { 'sagemaker:InstanceTypes': 'false' },
      });
      // What the training states send meets those conditions.
      const key = (keyArn(template) as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      for (const state of ['Train', 'Train from pretrained weights']) {
        const job = definition.States[state].Parameters as Record<string, Record<string, unknown> | boolean>;
        expect(job.EnableNetworkIsolation).toBe(true);
        expect(job.ResourceConfig).toMatchObject({
          InstanceType: instanceType,
          VolumeKmsKeyId: expect.stringContaining(key),
        });
        expect(job.OutputDataConfig).toMatchObject({ KmsKeyId: expect.stringContaining(key) });
      }
    }
  });

  test('teardown deletes only the endpoint, models and endpoint configs tagged with this stack', () => {
    const cleanup = Object.values(standard.template.findResources('AWS::Lambda::Function')).find(
      (f) =>
        (f.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables
          ?.ENDPOINT_NAME,
    );
    const deletes = roleStatements(standard.template, roleOf(cleanup?.Properties?.Role)).filter((s) =>
      actions(s).some((a) => /^sagemaker:(delete|\*)/i.test(a)),
    );
    expect(deletes.flatMap(actions).sort()).toEqual([
      'sagemaker:DeleteEndpoint',
      'sagemaker:DeleteEndpointConfig',
      'sagemaker:DeleteModel',
    ]);
    for (const statement of deletes) {
      expect(statement.Condition).toEqual({
        StringEquals: { 'aws:ResourceTag/logo-detection:stack': 'LogoDetectionPipeline' },
      });
    }
  });
});

describe('the state machine’s KMS permissions', () => {
  test('create grants on the stack’s key only for AWS resources (the training volume, the endpoint’s storage)', () => {
    const grants = stateMachineStatements(standard.template).filter((s) =>
      actions(s).includes('kms:CreateGrant'),
    );
    expect(grants).toHaveLength(1);
    expect(actions(grants[0])).toEqual(['kms:CreateGrant']);
    expect(grants[0].Resource).toEqual(keyArn(standard.template));
    expect(grants[0].Condition).toEqual({ Bool: { 'kms:GrantIsForAWSResource': 'true' } });
  });
});

describe('the training role', () => {
  const trainingRole = () => {
    const roleArn = standard.definition.States.Train.Parameters as { RoleArn: string };
    const role = /^<GetAtt ([A-Za-z0-9]+),Arn>$/.exec(roleArn.RoleArn)?.[1];
    expect(role).toBeDefined();
    return roleStatements(standard.template, role!);
  };
  const bucketOf = (resource: string) => /Buckets(Dataset|Artifacts|Raw)/.exec(resource)?.[1];

  test('lists the buckets only under the prefixes training reads', () => {
    const lists = trainingRole().filter((s) => actions(s).some((a) => /^s3:(List|\*)/.test(a)));
    const listed: Record<string, string[]> = {};
    for (const statement of lists) {
      expect(actions(statement)).toEqual(['s3:ListBucket']);
      const prefixes = (statement.Condition as { StringLike: { 's3:prefix': string[] } }).StringLike[
        's3:prefix'
      ];
      for (const resource of resources(statement)) listed[bucketOf(resource)!] = [...prefixes].sort();
    }
    expect(listed).toEqual({
      Dataset: ['images/*', 'manifests/train/*', 'manifests/validation/*'],
      Artifacts: ['checkpoints/*', 'pretrained/*'],
    });
  });

  test('names every S3 action it may take, deletes only under checkpoints/ and never an object version', () => {
    const s3 = trainingRole().filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    for (const action of s3.flatMap(actions)) expect(action).not.toContain('*');
    const deletes = s3.filter((s) => actions(s).some((a) => a.startsWith('s3:Delete')));
    expect(deletes.flatMap(actions)).toEqual(['s3:DeleteObject']);
    for (const resource of deletes.flatMap(resources))
      expect(resource).toMatch(/BucketsArtifacts.*\/checkpoints\/\*$/);
  });

  test('creates KMS grants only for AWS resources, and may decrypt to complete the model’s multipart upload', () => {
    const kms = trainingRole().filter((s) => actions(s).some((a) => a.startsWith('kms:')));
    for (const action of kms.flatMap(actions)) expect(action).not.toContain('*');
    const grants = kms.filter((s) => actions(s).includes('kms:CreateGrant'));
    expect(grants).toHaveLength(1);
    expect(grants[0].Condition).toEqual({ Bool: { 'kms:GrantIsForAWSResource': 'true' } });
    // SSE-KMS multipart uploads need GenerateDataKey to start and Decrypt to complete.
    const data = kms.find((s) => actions(s).includes('kms:Decrypt'));
    expect(actions(data!).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(data!.Resource).toEqual(keyArn(standard.template));
    expect(data!.Condition).toBeUndefined();
  });

  test('pulls images from the asset repository only', () => {
    const pulls = trainingRole().filter((s) => actions(s).includes('ecr:BatchGetImage'));
    expect(pulls).toHaveLength(1);
    for (const resource of resources(pulls[0])) expect(resource).toMatch(/:repository\/[^*]+$/);
  });
});
