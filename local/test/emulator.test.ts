import { SFNClient, SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { prepareDefinition } from '../emulator/asl';
import { finalMetrics, sageMakerError } from '../emulator/sagemaker';
import { LocalRunner } from '../emulator/runner';
import { LocalStepFunctions } from '../emulator/sfn-shim';
import { mkdtempSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { synthesize } from '../app/synth';
import { TemplateResolver } from '../emulator/template';

describe('training log to FinalMetricDataList', () => {
  test('takes the last value each metric definition captures, as SageMaker does', () => {
    const log = [
      'epoch=0 train_loss=2.5',
      'epoch=0 val_mAP=0.10',
      'epoch=1 train_loss=1.25e-1',
      'epoch=1 val_mAP=0.30',
      'best_val_mAP=0.30',
    ].join('\n');
    expect(finalMetrics(log).map(({ MetricName, Value }) => [MetricName, Value])).toEqual([
      ['train_loss', 0.125],
      ['val_mAP', 0.3],
      ['best_val_mAP', 0.3],
    ]);
  });

  test('a metric the log never printed is absent', () => {
    expect(finalMetrics('epoch=0 train_loss=1.0').map((m) => m.MetricName)).toEqual(['train_loss']);
  });
});

test('SageMaker errors are named as Step Functions names them', () => {
  const validation = Object.assign(new Error("Could not find endpoint 'x'"), { name: 'ValidationException' });
  expect(sageMakerError(validation)).toMatchObject({
    name: 'SageMaker.AmazonSageMakerException',
    message: "Could not find endpoint 'x'",
  });
  expect(sageMakerError(Object.assign(new Error('busy'), { name: 'ResourceInUse' })).name).toBe(
    'SageMaker.ResourceInUse',
  );
});

describe('definition prepared for the interpreter', () => {
  const definition = {
    StartAt: 'Map',
    States: {
      Map: {
        Type: 'Map',
        ItemReader: { Resource: 'arn:aws:states:::s3:listObjectsV2', Parameters: { Bucket: 'b' } },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED' },
          StartAt: 'Inner',
          States: { Inner: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:1:function:f', End: true } },
        },
        ResultSelector: { 'a.$': '$.ResultWriterDetails' },
        ResultPath: '$.map',
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Done' }],
        Next: 'Wait',
      },
      Wait: { Type: 'Wait', Seconds: 60, Next: 'Done' },
      Done: { Type: 'Succeed' },
    },
  };

  test('a Distributed Map becomes a Task of the same name with the same wiring', () => {
    const prepared = prepareDefinition(definition);
    expect(prepared.definition.States.Map).toEqual({
      Type: 'Task',
      Resource: 'arn:aws:states:::local:distributedMap',
      TimeoutSeconds: expect.any(Number),
      ResultSelector: { 'a.$': '$.ResultWriterDetails' },
      ResultPath: '$.map',
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Done' }],
      Next: 'Wait',
    });
    expect(prepared.distributedMaps.Map.ItemReader).toEqual(definition.States.Map.ItemReader);
    expect(prepared.tasks).toEqual({
      Inner: 'arn:aws:lambda:us-east-1:1:function:f',
      Map: 'arn:aws:states:::local:distributedMap',
    });
    expect(prepared.waits).toEqual(['Wait']);
    // The original is left alone.
    expect(definition.States.Map.Type).toBe('Map');
  });

  test('a task without a timeout gets far more than the interpreter default of 60 s', () => {
    const inner = prepareDefinition(definition).distributedMaps.Map.ItemProcessor as {
      States: Record<string, { TimeoutSeconds?: number }>;
    };
    expect(inner.States.Inner.TimeoutSeconds).toBeGreaterThan(3600);
  });

  test('rejects a state name used twice, since overrides go by name', () => {
    const twice = {
      StartAt: 'P',
      States: {
        P: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'T', States: { T: { Type: 'Pass', End: true } } },
            { StartAt: 'T', States: { T: { Type: 'Pass', End: true } } },
          ],
          End: true,
        },
      },
    };
    expect(() => prepareDefinition(twice)).toThrow(/"T" is used twice/);
  });
});

describe('local Step Functions endpoint', () => {
  const sfn = new LocalStepFunctions();
  let client: SFNClient;
  beforeAll(async () => {
    await sfn.start();
    client = new SFNClient({
      endpoint: sfn.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });
  afterAll(() => sfn.stop());

  test('SendTaskSuccess through the AWS SDK resumes the task that claimed the token, with its output', async () => {
    const token = sfn.currentToken();
    expect(sfn.currentToken()).toBe(token);
    const claimed = sfn.claimToken();
    expect(claimed.token).toBe(token);
    expect(sfn.currentToken()).not.toBe(token);
    await client.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"imported":3}' }));
    await expect(claimed.result).resolves.toEqual({ imported: 3 });
  });

  test('SendTaskFailure fails the task with the error and cause sent', async () => {
    const claimed = sfn.claimToken();
    await client.send(
      new SendTaskFailureCommand({ taskToken: claimed.token, error: 'Bad.Labels', cause: 'no boxes' }),
    );
    const error = await claimed.result.then(
      () => undefined,
      (e: Error) => e,
    );
    expect([error?.name, error?.message]).toEqual(['Bad.Labels', 'no boxes']);
  });

  test('a token nobody waits for is answered TaskDoesNotExist', async () => {
    await expect(
      client.send(new SendTaskSuccessCommand({ taskToken: 'nope', output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskDoesNotExist' });
  });
});

describe('template references resolved locally', () => {
  const templates = {
    Data: {
      Resources: { Bucket: { Type: 'AWS::S3::Bucket' } },
      Outputs: { Name: { Value: { Ref: 'Bucket' }, Export: { Name: 'Data:Bucket' } } },
    },
    Pipeline: {
      Resources: { Fn: { Type: 'AWS::Lambda::Function' } },
      Mappings: { M: { 'us-east-1': { v: 'mapped' } } },
    },
  };
  const resolver = new TemplateResolver(
    templates,
    { 'AWS::Region': 'us-east-1', 'AWS::Partition': 'aws' },
    (stack, id, _resource, attribute) => `${stack}/${id}${attribute ? `.${attribute}` : ''}`,
  );

  test('Join, Sub, GetAtt, ImportValue and FindInMap', () => {
    expect(
      resolver.resolve(
        {
          'Fn::Join': [
            '',
            [
              '{"a":"',
              { 'Fn::GetAtt': ['Fn', 'Arn'] },
              '","b":"',
              { 'Fn::ImportValue': 'Data:Bucket' },
              '","c":"',
              { 'Fn::Sub': 'arn:${AWS::Partition}:x:${AWS::Region}:${Fn.Arn}' },
              '","d":"',
              { 'Fn::FindInMap': ['M', { Ref: 'AWS::Region' }, 'v'] },
              '"}',
            ],
          ],
        },
        'Pipeline',
      ),
    ).toBe(
      '{"a":"Pipeline/Fn.Arn","b":"Data/Bucket","c":"arn:aws:x:us-east-1:Pipeline/Fn.Arn","d":"mapped"}',
    );
  });

  test('an intrinsic local mode does not know is an error naming it', () => {
    expect(() => resolver.resolve({ 'Fn::If': ['c', 1, 2] }, 'Pipeline')).toThrow(/cannot resolve Fn::If/);
  });
});

test('the local synth imports labels even when cdk.json configures a Ground Truth workteam', () => {
  const root = mkdtempSync(join(tmpdir(), 'local-synth-'));
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  cdkJson.context.workteamArn = 'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/team';
  writeFileSync(join(root, 'cdk.json'), JSON.stringify(cdkJson));
  const app = synthesize(root, join(root, 'cdk.out'), { minMap: 0 });
  expect(app.config.labeling.mode).toBe('import');
  expect(app.config.qualityGate.minMap).toBe(0);
});

test('a Catch the definition takes is shown as the state it leads to, with the error, not as an error caught', async () => {
  const lines: string[] = [];
  const runner = new LocalRunner(
    {
      StartAt: 'Find endpoint',
      States: {
        'Find endpoint': {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:sagemaker:describeEndpoint',
          Catch: [{ ErrorEquals: ['SageMaker.AmazonSageMakerException'], Next: 'Create endpoint' }],
          End: true,
        },
        'Create endpoint': { Type: 'Pass', End: true },
      },
    },
    {
      stateMachine: { arn: 'arn:aws:states:us-east-1:123456789012:stateMachine:m', name: 'm' },
      tasks: () => () => {
        throw Object.assign(new Error('Could not find endpoint "e"'), {
          name: 'SageMaker.AmazonSageMakerException',
        });
      },
      sfn: { executions: [], currentToken: () => 'token' },
      log: (line) => lines.push(line),
    },
  );

  const report = await runner.execute('run-1');

  expect(report.status).toBe('SUCCEEDED');
  expect(lines).toEqual([
    '▶ Find endpoint',
    '⤷ Find endpoint → Create endpoint (on SageMaker.AmazonSageMakerException)',
    '▶ Create endpoint',
  ]);
});
