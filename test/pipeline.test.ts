import { Template, Match } from 'aws-cdk-lib/assertions';
import { execFileSync } from 'child_process';
import { existsSync, readdirSync } from 'fs';
import { join } from 'path';
import { METRIC_DEFINITIONS } from '../contracts';
import { buildApp } from '../lib/app';
import { loadConfig } from '../lib/config';
import { newApp } from './app-context';
import { AslDefinition, AslState, synthesizedDefinition } from './state-machine';

const ALTERNATIVE = {
  workteamArn: 'arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers',
  schedule: 'rate(1 day)',
  notificationEmail: 'ops@example.com',
  trainingUseSpot: false,
  executionLogLevel: 'ALL',
  endpointMode: 'serverless',
  serverlessProvisionedConcurrency: 1,
};

function synth(context: Record<string, unknown>): {
  template: Template;
  definition: AslDefinition;
  outdir: string;
} {
  const app = newApp();
  const { pipeline } = buildApp(
    app,
    loadConfig((key) => context[key]),
  );
  const template = Template.fromStack(pipeline);
  return { template, definition: synthesizedDefinition(template), outdir: app.outdir };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
function statements(template: Template): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement,
  );
}
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Every state of a definition, item processors included. */
function allStates(definition: AslDefinition): [string, AslState][] {
  return Object.entries(definition.States).flatMap(([name, state]) => [
    [name, state] as [string, AslState],
    ...(state.ItemProcessor ? allStates(state.ItemProcessor as AslDefinition) : []),
  ]);
}

let standard: ReturnType<typeof synth>;
let alternative: ReturnType<typeof synth>;
beforeAll(() => {
  standard = synth({});
  alternative = synth(ALTERNATIVE);
});

describe('pipeline IAM', () => {
  test('nothing may write or delete raw uploads', () => {
    for (const { template } of [standard, alternative]) {
      const onRaw = statements(template).filter((s) => JSON.stringify(s.Resource).includes('BucketsRaw'));
      expect(onRaw.length).toBeGreaterThan(0);
      for (const statement of onRaw) {
        for (const action of actions(statement)) expect(action).toMatch(/^s3:(Get|List)/);
      }
    }
  });

  test('only Ground Truth may delete from the dataset bucket, and only its own ground-truth/ output', () => {
    for (const { template } of [standard, alternative]) {
      const deletes = statements(template).filter(
        (s) =>
          JSON.stringify(s.Resource).includes('BucketsDataset') &&
          actions(s).some((a) => a.startsWith('s3:DeleteObject')),
      );
      for (const statement of deletes)
        expect(JSON.stringify(statement.Resource)).toMatch(/\/ground-truth\/\*/);
    }
    const trainingModels = statements(standard.template).filter((s) => {
      const resource = JSON.stringify(s.Resource);
      return resource.includes('BucketsArtifacts') && resource.includes('/models/*');
    });
    expect(trainingModels.length).toBeGreaterThan(0);
    for (const statement of trainingModels)
      expect(actions(statement).filter((a) => a.startsWith('s3:Delete'))).toEqual([]);
  });

  test('the preprocessing map’s results are the only dataset objects the state machine may write', () => {
    for (const { template } of [standard, alternative]) {
      const onDataset = statements(template).filter(
        (s) => JSON.stringify(s.Resource).includes('BucketsDataset') && actions(s).includes('s3:PutObject'),
      );
      expect(onDataset.length).toBeGreaterThan(0);
      for (const statement of onDataset) {
        expect(JSON.stringify(statement.Resource)).not.toMatch(/BucketsDataset[^"]*"\]?\}?,?"\/\*"/);
      }
    }
    standard.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['s3:PutObject']),
            Resource: {
              'Fn::Join': [
                '',
                [{ 'Fn::ImportValue': Match.stringLikeRegexp('BucketsDataset') }, '/reports/preprocess/*'],
              ],
            },
          }),
        ]),
      },
    });
  });

  test('the preprocessing function reads raw/ and reads and writes images/ only', () => {
    const functions = standard.template.findResources('AWS::Lambda::Function', {
      Properties: {
        MemorySize: 2048,
        Environment: {
          Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'logo-detection-preprocess' }),
        },
      },
    });
    expect(Object.keys(functions)).toHaveLength(1);
    const role = (Object.values(functions)[0].Properties as { Role: { 'Fn::GetAtt': [string, string] } })
      .Role['Fn::GetAtt'][0];
    const policies = Object.values(
      standard.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
    );
    const s3 = policies
      .flatMap(
        (p) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement,
      )
      .filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    const objectResources = s3
      .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
      .map((r) => JSON.stringify(r))
      .filter((r) => r.includes('/'));
    expect(objectResources.length).toBeGreaterThan(0);
    for (const resource of objectResources)
      expect(resource).toMatch(/BucketsRaw.*\/raw\/\*|BucketsDataset.*\/images\/\*/);
  });

  test('the report function reads only this stack’s model tarballs and writes only under reports/, never deletes', () => {
    const functions = standard.template.findResources('AWS::Lambda::Function', {
      Properties: {
        Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'logo-detection-publish-report' } },
      },
    });
    expect(Object.keys(functions)).toHaveLength(1);
    const role = (Object.values(functions)[0].Properties as { Role: { 'Fn::GetAtt': [string, string] } })
      .Role['Fn::GetAtt'][0];
    const granted = Object.values(
      standard.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
    ).flatMap(
      (p) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement,
    );
    const on = (action: string) =>
      granted
        .filter((s) => actions(s).includes(action))
        .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
        .map((r) => JSON.stringify(r));
    const s3Actions = granted.flatMap(actions).filter((a) => a.startsWith('s3:'));
    expect([...new Set(s3Actions)].sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(on('s3:GetObject')).toEqual([
      expect.stringMatching(
        /BucketsArtifacts.*\/models\/logodet-[0-9a-f]{6}-train-\*\/output\/model\.tar\.gz"/,
      ),
    ]);
    expect(on('s3:PutObject')).toEqual([expect.stringMatching(/BucketsArtifacts.*\/reports\/\*"/)]);
    expect(granted.filter((s) => actions(s).includes('kms:Decrypt'))).toEqual([
      expect.objectContaining({
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
          },
        },
      }),
    ]);
  });

  test('no wildcard admin actions and no managed FullAccess policies', () => {
    for (const { template } of [standard, alternative]) {
      for (const action of statements(template).flatMap(actions)) {
        expect(action).not.toMatch(/^(\*|s3:\*|sagemaker:\*|iam:\*|kms:\*|states:\*)$/);
      }
      expect(JSON.stringify(template.toJSON())).not.toMatch(/FullAccess/);
    }
  });

  test('no S3 action on every resource: each role reads and writes only its own prefixes', () => {
    for (const { template } of [standard, alternative]) {
      const onEverything = statements(template).filter((s) => s.Resource === '*');
      expect(onEverything.length).toBeGreaterThan(0);
      for (const statement of onEverything) {
        for (const action of actions(statement)) expect(action).not.toMatch(/^s3:/);
      }
    }
  });

  test('iam:PassRole is only ever granted to pass roles to SageMaker', () => {
    for (const { template } of [standard, alternative]) {
      const passRole = statements(template).filter((s) => actions(s).includes('iam:PassRole'));
      expect(passRole.length).toBeGreaterThan(0);
      for (const statement of passRole) {
        expect(statement.Condition).toEqual({
          StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' },
        });
      }
    }
  });

  test('the guard may describe only this state machine’s executions, through a policy of its own', () => {
    standard.template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: 'states:DescribeExecution',
            Effect: 'Allow',
            Resource: {
              'Fn::Join': [
                '',
                Match.arrayWith([
                  ':execution:',
                  { 'Fn::GetAtt': [Match.stringLikeRegexp('StateMachine'), 'Name'] },
                  ':*',
                ]),
              ],
            },
          },
        ],
      },
    });
  });

  test('the run lock is an on-demand, encrypted table of the stack; only the state machine may use it, and only its item calls', () => {
    const tables = standard.template.findResources('AWS::DynamoDB::Table');
    expect(Object.keys(tables)).toHaveLength(1);
    const [[tableId, table]] = Object.entries(tables);
    expect(table).toMatchObject({
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true },
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      },
      DeletionPolicy: 'Delete',
    });
    expect(table.Properties).not.toHaveProperty('TableName');
    const onTable = statements(standard.template).filter((s) => JSON.stringify(s).includes(tableId));
    expect(onTable).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
        Resource: {
          'Fn::Join': ['', expect.arrayContaining([':table/', { Ref: tableId }])],
        },
      },
    ]);
    const dynamoActions = statements(standard.template)
      .flatMap(actions)
      .filter((a) => a.startsWith('dynamodb:'));
    expect(dynamoActions.sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem']);
  });

  test('Ground Truth mode: the state machine may run labeling jobs of this stack only', () => {
    const labeling = statements(alternative.template).find((s) =>
      actions(s).includes('sagemaker:CreateLabelingJob'),
    );
    expect(JSON.stringify(labeling?.Resource)).toMatch(/labeling-job\/logodet-[0-9a-f]{6}-labels-\*/);
    expect(
      statements(standard.template).some((s) => actions(s).includes('sagemaker:CreateLabelingJob')),
    ).toBe(false);
    expect(JSON.stringify(statements(alternative.template))).toContain(
      'StepFunctionsGetEventsForSageMakerLabelingJobsRule',
    );
  });

  test('teardown may delete only this stack’s endpoint, models and endpoint configs', () => {
    const deletes = statements(standard.template).filter((s) =>
      actions(s).some((a) => a.startsWith('sagemaker:Delete')),
    );
    const resources = JSON.stringify(deletes.map((s) => s.Resource));
    expect(resources).toContain('endpoint/logodetectionpipeline-detector');
    expect(resources).toMatch(/model\/logodet-[0-9a-f]{6}-model-\*/);
    expect(resources).toMatch(/endpoint-config\/logodet-[0-9a-f]{6}-config-\*/);
    expect(resources).not.toMatch(/"(\*|[^"]*:(model|endpoint|endpoint-config)\/\*)"/);
  });
});

describe('preprocess and detect-results bundles', () => {
  test('ship sharp with its linux-x64 binary next to the bundle, built without Docker', () => {
    const assets = readdirSync(standard.outdir).filter((d) => d.startsWith('asset.'));
    const withSharp = assets.filter((d) => existsSync(join(standard.outdir, d, 'node_modules', 'sharp')));
    // The preprocess function, and detect-results (annotated copies).
    expect(withSharp).toHaveLength(2);
    for (const asset of withSharp) {
      const img = join(standard.outdir, asset, 'node_modules', '@img');
      expect(readdirSync(img)).toEqual(
        expect.arrayContaining(['sharp-linux-x64', 'sharp-libvips-linux-x64']),
      );
    }
  });
});

describe('training job', () => {
  const train = (d: AslDefinition) => d.States.Train.Parameters as Record<string, Record<string, unknown>>;

  test('waits for the job (.sync) and may only manage this stack’s training jobs', () => {
    for (const state of ['Train', 'Train from pretrained weights']) {
      expect(standard.definition.States[state].Resource).toBe(
        'arn:aws:states:::sagemaker:createTrainingJob.sync',
      );
    }
    expect(JSON.stringify(statements(standard.template))).toContain(
      'StepFunctionsGetEventsForSageMakerTrainingJobsRule',
    );
  });

  test('the container accepts every hyperparameter the task sends, with the configured values', () => {
    // The container's own parser (training-container/src/logo_detector/hyperparameters.py), in the project venv
    // (npm run py:env): a key it does not know fails every training job, and only in AWS.
    const root = join(__dirname, '..');
    const parse = (hyperparameters: unknown) =>
      JSON.parse(
        execFileSync(
          join(root, '.venv', 'bin', 'python'),
          [
            '-c',
            'import dataclasses, json, sys\n' +
              'from logo_detector.hyperparameters import parse_hyperparameters\n' +
              'print(json.dumps(dataclasses.asdict(parse_hyperparameters(json.loads(sys.argv[1])))))',
            JSON.stringify(hyperparameters),
          ],
          { env: { ...process.env, PYTHONPATH: join(root, 'training-container', 'src') }, encoding: 'utf8' },
        ),
      ) as Record<string, unknown>;
    for (const { definition } of [standard, alternative]) {
      const sent = train(definition).HyperParameters;
      expect(Object.values(sent).every((v) => typeof v === 'string')).toBe(true);
      expect(parse(sent)).toMatchObject({
        classes: ['logo'],
        epochs: Number(sent.epochs),
        batch_size: Number(sent.batch_size),
        learning_rate: Number(sent.learning_rate),
        data_shape: Number(sent.data_shape),
        int8_tolerance: 0.01,
        images_s3_prefix: expect.stringMatching(/^s3:\/\/.+\/images\/$/),
      });
    }
  });

  test('managed spot training with per-run checkpoints and a max wait, by default', () => {
    const parameters = train(standard.definition);
    expect(parameters.EnableManagedSpotTraining).toBe(true);
    expect(parameters.CheckpointConfig).toMatchObject({ LocalPath: '/opt/ml/checkpoints' });
    expect(parameters.CheckpointConfig['S3Uri.$']).toMatch(
      /^States\.Format\('s3:\/\/.+\/checkpoints\/\{\}\/', \$\$\.Execution\.Name\)$/,
    );
    expect(parameters.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 14400, MaxWaitTimeInSeconds: 28800 });
  });

  test('without spot: no spot fields', () => {
    const parameters = train(alternative.definition);
    expect(parameters.EnableManagedSpotTraining).toBeUndefined();
    expect(parameters.CheckpointConfig).toBeUndefined();
    expect(parameters.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 14400 });
  });

  test('metric definitions, network isolation, KMS on volume and output, string hyperparameters', () => {
    const parameters = train(standard.definition);
    expect(parameters.AlgorithmSpecification.MetricDefinitions).toEqual(METRIC_DEFINITIONS);
    expect(parameters.AlgorithmSpecification.TrainingInputMode).toBe('File');
    expect(parameters.EnableNetworkIsolation).toBe(true);
    expect(parameters.ResourceConfig.VolumeKmsKeyId).toEqual(expect.any(String));
    expect(parameters.OutputDataConfig).toMatchObject({ KmsKeyId: expect.any(String) });
    expect(parameters.OutputDataConfig.S3OutputPath).toMatch(/\/models\/$/);
    expect(Object.values(parameters.HyperParameters).every((v) => typeof v === 'string')).toBe(true);
    expect(parameters.HyperParameters).toMatchObject({
      classes: '["logo"]',
      epochs: '40',
      data_shape: '512',
    });
  });

  test('channels: train, validation and images; pretrained only when weights were uploaded', () => {
    const names = (d: AslDefinition, state: string) =>
      (d.States[state].Parameters as { InputDataConfig: { ChannelName: string }[] }).InputDataConfig.map(
        (c) => c.ChannelName,
      );
    expect(names(standard.definition, 'Train')).toEqual(['train', 'validation', 'images']);
    expect(names(standard.definition, 'Train from pretrained weights')).toEqual([
      'train',
      'validation',
      'images',
      'pretrained',
    ]);
  });
});

describe('state machine', () => {
  test('every Task retries transient errors with full jitter and catches into a notification', () => {
    const tasks = allStates(standard.definition).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(20);
    for (const [name, state] of tasks) {
      const retry = state.Retry as { JitterStrategy: string; ErrorEquals: string[] }[];
      expect({ name, jitter: retry?.[0]?.JitterStrategy }).toEqual({ name, jitter: 'FULL' });
      if (name === 'Preprocess a batch') continue; // inside the map: the map's own Catch handles it
      expect({ name, caught: Array.isArray(state.Catch) }).toEqual({ name, caught: true });
    }
  });

  test('the report is published between training (then its cost) and the quality gate, and merged into the live-model record', () => {
    const states = standard.definition.States;
    const choice = states['Metrics reported?'] as unknown as { Choices: { Next: string }[] };
    expect(choice.Choices.map((c) => c.Next)).toEqual(['Compute run cost']);
    expect(states['Compute run cost']).toMatchObject({ Next: 'Publish evaluation report' });
    const publish = states['Publish evaluation report'];
    expect(publish).toMatchObject({
      Next: 'Check model quality',
      ResultPath: '$.evaluation',
      Parameters: {
        'trainingJobName.$': '$.training.TrainingJobName',
        'modelArtifacts.$': '$.training.ModelArtifacts.S3ModelArtifacts',
        'finalMetrics.$': '$.training.FinalMetricDataList',
        reportBucket: expect.stringContaining('BucketsArtifacts'),
      },
    });
    expect(states['Record live model']).toMatchObject({
      Parameters: { 'Value.$': 'States.JsonToString(States.JsonMerge($.live, $.evaluation.record, false))' },
    });
  });

  test('the preprocessing map lists raw/, batches with the handler’s BatchInput and writes results to reports/', () => {
    const map = standard.definition.States['Preprocess raw images'];
    expect(map).toMatchObject({
      ItemReader: { Parameters: { Prefix: 'raw/' } },
      ItemBatcher: { MaxItemsPerBatch: 25, BatchInput: { maxSide: 1024 } },
      MaxConcurrency: 20,
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED' } },
    });
    expect(JSON.stringify(map.ResultWriter)).toContain('reports/');
  });

  test('failed preprocessing is tolerated by files, in the report step, not by batches in the map', () => {
    const map = standard.definition.States['Preprocess raw images'];
    const report = standard.definition.States['Summarize preprocessing'];
    // The map never stops the run: a batch that fails as a whole has its files counted one by one by the report.
    expect(map.ToleratedFailurePercentage).toBe(100);
    expect(report.Parameters).toMatchObject({ toleratedFailurePercentage: 5 });
    expect(report.Catch).toEqual(
      expect.arrayContaining([expect.objectContaining({ ErrorEquals: ['PreprocessError'] })]),
    );
  });

  test('a run times out only after the longest labeling wait and the longest training job, plus a day', () => {
    const day = 86400;
    expect(standard.definition.TimeoutSeconds).toBe(7 * day + 28800 + day);
    expect(alternative.definition.TimeoutSeconds).toBe(10 * day + 14400 + day);
  });

  test('logs errors only, without state data (task tokens), unless executionLogLevel=ALL; traces with X-Ray', () => {
    standard.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: false },
      TracingConfiguration: { Enabled: true },
    });
    alternative.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
    });
  });

  test('the deployed model, its endpoint config and the endpoint carry the stack tag', () => {
    for (const state of ['Create model', 'Create endpoint config', 'Create endpoint']) {
      expect(standard.definition.States[state].Parameters).toMatchObject({
        Tags: [{ Key: 'logo-detection:stack', Value: 'LogoDetectionPipeline' }],
      });
    }
  });

  test('a blue/green update rolls back on the endpoint’s 5XX alarm', () => {
    standard.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([
        Match.objectLike({
          MetricStat: Match.objectLike({
            Metric: {
              MetricName: 'Invocation5XXErrors',
              Namespace: 'AWS/SageMaker',
              Dimensions: Match.arrayWith([
                { Name: 'EndpointName', Value: 'LogoDetectionPipeline-detector' },
              ]),
            },
          }),
        }),
      ]),
    });
  });
});

describe('endpoint modes', () => {
  test('realtime (the default): an instance-based variant, and a network-isolated model', () => {
    expect(standard.definition.States['Create endpoint config'].Parameters).toMatchObject({
      ProductionVariants: [
        {
          VariantName: 'AllTraffic',
          InstanceType: 'ml.m5.xlarge',
          InitialInstanceCount: 1,
          InitialVariantWeight: 1,
        },
      ],
    });
    expect(standard.definition.States['Create model'].Parameters).toMatchObject({
      EnableNetworkIsolation: true,
    });
  });

  test('serverless: one variant with memory and concurrency and no instances, a model without network isolation', () => {
    const parameters = alternative.definition.States['Create endpoint config'].Parameters as Record<
      string,
      unknown
    >;
    expect(parameters.ProductionVariants).toEqual([
      {
        VariantName: 'AllTraffic',
        'ModelName.$': '$.deploy.modelName',
        ServerlessConfig: { MemorySizeInMB: 4096, MaxConcurrency: 5, ProvisionedConcurrency: 1 },
      },
    ]);
    expect(parameters.KmsKeyId).toBeDefined();
    expect(alternative.definition.States['Create model'].Parameters).toMatchObject({
      EnableNetworkIsolation: false,
    });
  });

  test('both modes update blue/green with the rollback alarm, and refuse an endpoint of the other mode', () => {
    for (const { definition } of [standard, alternative]) {
      expect(definition.States['Update endpoint'].Parameters).toMatchObject({
        DeploymentConfig: { AutoRollbackConfiguration: { Alarms: [{ AlarmName: expect.any(String) }] } },
      });
      expect(JSON.stringify(definition.States['Endpoint usable?'])).toContain(
        '$.endpoint.ProductionVariants[0].CurrentServerlessConfig',
      );
    }
  });
});

describe('the cost of a run', () => {
  test('computed once training has finished, with the configured endpoint and the dated price table', () => {
    const compute = standard.definition.States['Compute run cost'];
    expect(compute.Parameters).toMatchObject({
      'state.$': '$',
      endpoint: { mode: 'realtime', instanceType: 'ml.m5.xlarge', instanceCount: 1 },
      basis: {
        prices: {
          region: 'us-east-1',
          date: '2026-12-01',
          inferenceInstanceHour: { 'ml.m5.xlarge': 0.23 },
        },
        serverlessUsage: { requestsPerMonth: 9000 },
      },
    });
    expect(compute.ResultPath).toBe('$.run.cost');
    expect(standard.definition.States['Metrics reported?']).toMatchObject({
      Choices: [expect.objectContaining({ Next: 'Compute run cost' })],
    });
    expect(alternative.definition.States['Compute run cost'].Parameters).toMatchObject({
      endpoint: { mode: 'serverless', memorySizeInMB: 4096, maxConcurrency: 5, provisionedConcurrency: 1 },
    });
  });

  test('the deployed, rejected and failed notifications send it', () => {
    for (const state of ['Notify deployed', 'Notify model rejected', 'Notify failure']) {
      const message = JSON.stringify(standard.definition.States[state].Parameters);
      expect({ state, sends: message.includes('$.run.cost') }).toEqual({ state, sends: true });
    }
  });

  test('the cost function may call nothing: its role has X-Ray and logs only', () => {
    const functions = standard.template.findResources('AWS::Lambda::Function', {
      Properties: { Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'logo-detection-run-cost' } } },
    });
    expect(Object.keys(functions)).toHaveLength(1);
    const [fn] = Object.values(functions);
    const role = (fn.Properties as { Role: { 'Fn::GetAtt': string[] } }).Role['Fn::GetAtt'][0];
    const policies = Object.values(standard.template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify((p.Properties as { Roles: unknown }).Roles).includes(role),
    );
    const granted = policies.flatMap((p) =>
      (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement.flatMap(
        actions,
      ),
    );
    expect(granted.every((action) => action.startsWith('xray:'))).toBe(true);
  });
});

describe('notifications, schedule and teardown', () => {
  test('the topic is KMS-encrypted (rotating key) and refuses non-TLS publishers', () => {
    standard.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    standard.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    standard.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('an e-mail subscription only when configured', () => {
    standard.template.resourceCountIs('AWS::SNS::Subscription', 0);
    alternative.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  test('timed-out and aborted executions are published by EventBridge', () => {
    standard.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: Match.anyValue() }] },
      },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('Topic') } })],
    });
  });

  test('a schedule rule only when a schedule is configured', () => {
    expect(
      standard.template.findResources('AWS::Events::Rule', {
        Properties: { ScheduleExpression: Match.anyValue() },
      }),
    ).toEqual({});
    alternative.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 day)',
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('StateMachine') } })],
    });
  });

  test('a custom resource cleans up the run-time SageMaker resources on teardown', () => {
    standard.template.resourceCountIs('Custom::PipelineRuntimeCleanup', 1);
    standard.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ENDPOINT_NAME: 'LogoDetectionPipeline-detector',
          STACK_NAME: 'LogoDetectionPipeline',
        }),
      },
    });
  });

  test('outputs the state machine and the topic', () => {
    standard.template.hasOutput('StateMachineArn', {});
    standard.template.hasOutput('NotificationTopicArn', {});
    standard.template.hasOutput('EndpointName', { Value: 'LogoDetectionPipeline-detector' });
  });
});
