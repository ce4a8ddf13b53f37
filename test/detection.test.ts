import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app';
import { loadConfig } from '../lib/config';
import { modelNameForVersion } from '../contracts';
import { sageMakerNamePrefix } from '../lib/pipeline-tasks';
import { newApp } from './app-context';
import { actions, resources, roleStatements, type Statement } from './policies';
import { AslDefinition, stateMachineResource, synthesizedDefinition } from './state-machine';

// The detect workflow (npm run detect) as synthesized: its Batch Transform job and the permissions around it.

function synth(context: Record<string, unknown> = {}): {
  template: Template;
  definition: AslDefinition;
  prefix: string;
} {
  const { pipeline } = buildApp(
    newApp({ 'aws:cdk:bundling-stacks': [] }),
    loadConfig((key) => context[key]),
  );
  const template = Template.fromStack(pipeline);
  return {
    template,
    definition: synthesizedDefinition(template, undefined, 'DetectStateMachineArn'),
    prefix: sageMakerNamePrefix(pipeline),
  };
}

const roleOf = (arn: unknown) => (arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

/** The statements of the role of the Lambda function running lambda/<handler>. */
function functionStatements(template: Template, handler: string): Statement[] {
  const functions = Object.values(
    template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: `logo-detection-${handler}` } } },
    }),
  );
  expect(functions).toHaveLength(1);
  return roleStatements(template, roleOf((functions[0].Properties as { Role: unknown }).Role));
}

/** The statements of the models' role, which the transform job runs as. */
function modelRoleStatements(template: Template): Statement[] {
  const roles = Object.keys(
    template.findResources('AWS::IAM::Role', {
      Properties: { Description: 'logo-detection models: read model artifacts under models/' },
    }),
  );
  expect(roles).toHaveLength(1);
  return roleStatements(template, roles[0]);
}

const standard = synth();
const transformState = (definition: AslDefinition) => definition.States['Detect in batch'];

describe('the detect workflow', () => {
  test('sends one image per request to the live model in batch mode, with only images the job can take', () => {
    const state = transformState(standard.definition);
    expect(state.Resource).toBe('arn:aws:states:::sagemaker:createTransformJob.sync');
    expect(state.Parameters).toEqual({
      'TransformJobName.$': `States.Format('${standard.prefix}-detect-{}', $.run.id)`,
      'ModelName.$': '$.prepared.modelName',
      BatchStrategy: 'SingleRecord',
      MaxPayloadInMB: 6,
      Environment: { BATCH_MODE: 'true', 'BATCH_MIN_SCORE.$': '$.prepared.minScore' },
      TransformInput: {
        ContentType: 'application/octet-stream',
        SplitType: 'None',
        DataSource: { S3DataSource: { S3DataType: 'ManifestFile', 'S3Uri.$': '$.prepared.manifestUri' } },
      },
      TransformOutput: {
        'S3OutputPath.$': '$.prepared.transformOutputUri',
        Accept: 'application/json',
        AssembleWith: 'None',
        KmsKeyId: expect.stringMatching(/^<GetAtt Key[0-9A-F]+,Arn>$/),
      },
      TransformResources: { InstanceCount: 1, InstanceType: 'ml.m5.xlarge' },
      Tags: [{ Key: 'logo-detection:stack', Value: 'LogoDetectionPipeline' }],
    });
  });

  test('runs on the configured instance type', () => {
    const { definition } = synth({ detectInstanceType: 'ml.c5.2xlarge' });
    expect(transformState(definition).Parameters).toMatchObject({
      TransformResources: { InstanceCount: 1, InstanceType: 'ml.c5.2xlarge' },
    });
  });

  test('skips the transform job when no image is left to send, and always ends in a notification', () => {
    const choice = standard.definition.States['Any image to send?'];
    expect(choice).toMatchObject({
      Choices: [{ Variable: '$.prepared.images', NumericGreaterThan: 0, Next: 'Detect in batch' }],
      Default: 'Write detections',
    });
    expect(transformState(standard.definition).Next).toBe('Write detections');
    expect(standard.definition.States['Write detections'].Next).toBe('Notify detections');
    for (const name of ['Prepare images', 'Detect in batch', 'Write detections']) {
      const catches = standard.definition.States[name].Catch as { Next: string }[];
      expect(catches[catches.length - 1].Next).toBe('Notify detection failed');
    }
  });

  test('is started from the DetectStateMachineArn output', () => {
    standard.template.hasOutput('DetectStateMachineArn', { Value: { Ref: Match.anyValue() } });
    expect(stateMachineResource(standard.template, 'DetectStateMachineArn')).not.toBe(
      stateMachineResource(standard.template, 'StateMachineArn'),
    );
  });
});

describe("the live model's SageMaker model", () => {
  test("is found by the same names the pipeline gives a run's training job and model", () => {
    const pipeline = synthesizedDefinition(standard.template);
    const runId = 'c'.repeat(40);
    const named = (format: unknown) => {
      const match = /^States\.Format\('([^']+)\{\}', \$\.run\.id\)$/.exec(String(format));
      if (!match) throw new Error(`Not a run resource name: ${String(format)}`);
      return `${match[1]}${runId}`;
    };
    const trainingJob = named(
      (pipeline.States.Train.Parameters as Record<string, unknown>)['TrainingJobName.$'],
    );
    const model = named(
      (pipeline.States['Name deployment'].Parameters as Record<string, unknown>)['modelName.$'],
    );
    expect(modelNameForVersion(trainingJob)).toBe(model);
  });
});

describe('detect workflow IAM', () => {
  test("the state machine's SageMaker actions name only this stack's transform jobs; PassRole only the model role", () => {
    const role = roleOf(stateMachineResource(standard.template, 'DetectStateMachineArn').Properties?.RoleArn);
    const statements = roleStatements(standard.template, role);
    const sagemaker = statements.filter((s) => actions(s).some((a) => a.startsWith('sagemaker:')));
    expect(sagemaker.flatMap(actions).sort()).toEqual([
      'sagemaker:AddTags',
      'sagemaker:CreateTransformJob',
      'sagemaker:DescribeTransformJob',
      'sagemaker:ListTags',
      'sagemaker:StopTransformJob',
    ]);
    expect(sagemaker.flatMap(resources)).toEqual([
      `arn:aws:sagemaker:us-east-1:123456789012:transform-job/${standard.prefix}-detect-*`,
    ]);
    const passRole = statements.filter((s) => actions(s).includes('iam:PassRole'));
    expect(passRole).toHaveLength(1);
    expect(passRole[0].Condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
    });
    expect(resources(passRole[0])).toEqual([
      expect.stringMatching(/^<GetAtt DeploymentModelRole[0-9A-F]+\.Arn>$/),
    ]);
    // Only X-Ray and log delivery setup, which have no resource-level permissions, are on every resource.
    const everywhere = statements.filter((s) => resources(s).includes('*'));
    expect(everywhere.flatMap(actions).filter((a) => !/^(xray|logs):/.test(a))).toEqual([]);
  });

  test('by default the job and its steps read images from the raw bucket only, never writing there', () => {
    const reads = (statements: Statement[]) =>
      statements.filter((s) => resources(s).some((r) => r.includes('BucketsRaw'))).flatMap(resources);
    const model = modelRoleStatements(standard.template);
    expect(reads(model)).toEqual(expect.arrayContaining([expect.stringMatching(/BucketsRaw.*\/\*$/)]));
    for (const statements of [model, functionStatements(standard.template, 'detect-results')]) {
      const onRaw = statements.filter((s) => resources(s).some((r) => r.includes('BucketsRaw')));
      expect(onRaw.flatMap(actions).filter((a) => /Put|Delete/.test(a))).toEqual([]);
    }
    // The prepare step only lists the input buckets.
    const prepare = functionStatements(standard.template, 'detect-prepare');
    const onRaw = prepare.filter((s) => resources(s).some((r) => r.includes('BucketsRaw')));
    expect(onRaw.flatMap(actions)).toEqual(['s3:ListBucket']);
  });

  test('with detectInputBuckets, the named buckets are read instead of the raw bucket', () => {
    const { template } = synth({ detectInputBuckets: 'shop-photos,archive-photos' });
    const model = modelRoleStatements(template).flatMap(resources);
    expect(model).toEqual(
      expect.arrayContaining([
        'arn:aws:s3:::shop-photos/*',
        'arn:aws:s3:::archive-photos/*',
        'arn:aws:s3:::shop-photos',
      ]),
    );
    expect(model.filter((r) => r.includes('BucketsRaw'))).toEqual([]);
    const prepare = functionStatements(template, 'detect-prepare');
    const listed = prepare.filter((s) => actions(s).includes('s3:ListBucket')).flatMap(resources);
    expect(listed.sort()).toEqual(['arn:aws:s3:::archive-photos', 'arn:aws:s3:::shop-photos']);
  });

  test('writes only under detections/ in the artifacts bucket', () => {
    for (const statements of [
      modelRoleStatements(standard.template),
      functionStatements(standard.template, 'detect-prepare'),
      functionStatements(standard.template, 'detect-results'),
    ]) {
      const writes = statements.filter((s) => actions(s).some((a) => /^s3:(Put|Delete|Abort)/.test(a)));
      expect(writes.flatMap(resources)).toEqual(
        writes.flatMap(resources).map(() => expect.stringMatching(/BucketsArtifacts.*\/detections\/\*$/)),
      );
      expect(writes.length).toBeGreaterThan(0);
    }
  });
});
