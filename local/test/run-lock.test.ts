import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Definition, State } from '../emulator/asl';
import { callDynamoDb } from '../emulator/dynamodb';
import { awsServiceTask } from '../emulator/integrations';
import { MotoServer, startMoto } from '../emulator/moto';
import { createLocalResources } from '../emulator/resources';
import { LocalRunner } from '../emulator/runner';
import { LocalStepFunctions } from '../emulator/sfn-shim';
import {
  executionArn,
  serviceStandIns,
  ServiceError,
  STATE_MACHINE_ARN,
  synthesizePipeline,
  TaskHandler,
} from './support/pipeline';

// The run lock for real: its DynamoDB calls go to moto and its DescribeExecution to the local Step Functions
// endpoint, which knows the executions the runner starts; every other task has a stand-in. moto_server comes from
// the project's venv.
jest.setTimeout(180000);

const savedEnv = { ...process.env };
let moto: MotoServer;
let sfn: LocalStepFunctions;
let definition: Definition;
let table: string;
let lockKey: Record<string, unknown>;

beforeAll(async () => {
  const pipeline = synthesizePipeline();
  definition = pipeline.definition;
  const take = definition.States['Take run lock'].Parameters as { TableName: string; Item: { id: unknown } };
  table = take.TableName;
  lockKey = { id: take.Item.id };
  moto = await startMoto(join(__dirname, '..', '..'), join(mkdtempSync(join(tmpdir(), 'moto-')), 'moto.log'));
  sfn = new LocalStepFunctions();
  await sfn.start();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ENDPOINT_URL_SFN: sfn.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  });
  delete process.env.AWS_PROFILE;
  await createLocalResources(pipeline.templates, () => undefined);
});

afterAll(async () => {
  await sfn?.stop();
  await moto?.stop();
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

beforeEach(async () => {
  sfn.executions.length = 0;
  sfn.visibilityLagMs = 0;
  await callDynamoDb('DeleteItem', { TableName: table, Key: lockKey });
});

/** The lock item as DynamoDB holds it, if any. */
async function lockItem(): Promise<Record<string, { S: string }> | undefined> {
  const { Item } = await callDynamoDb('GetItem', { TableName: table, Key: lockKey, ConsistentRead: true });
  return Item as Record<string, { S: string }> | undefined;
}

/** Every input each stood-in state received, by state name, across executions. */
type Calls = Record<string, State[]>;

/**
 * A runner of the synthesized definition: the lock's states run for real, the others on `standIns`. Retries
 * pause `retryMs` (every one, whatever the definition says).
 */
function localRunner(standIns: Record<string, TaskHandler>, calls: Calls = {}, retryMs = 0): LocalRunner {
  return new LocalRunner(definition, {
    stateMachine: { arn: STATE_MACHINE_ARN, name: 'Pipeline' },
    tasks: (state, resource) =>
      (/:dynamodb:|:sfn:describeExecution$/.test(resource) ? awsServiceTask(resource) : undefined) ??
      ((input) => {
        const handler = standIns[state];
        if (!handler) throw new Error(`The test gives no stand-in for state "${state}"`);
        (calls[state] ??= []).push(input as State);
        return handler(input as Record<string, unknown>);
      }),
    sfn,
    waitMs: 0,
    retryMs,
  });
}

const last = (states: string[]) => states[states.length - 1];

test('two runs started together: exactly one takes the lock and proceeds, the other ends "Already running"', async () => {
  // As in AWS, neither run is visible to Step Functions' reads at first: the guard must not depend on them. Its
  // retries of DescribeExecution (10 s, 30 s, 90 s in AWS; 1 s each here) outlast the lag.
  sfn.visibilityLagMs = 2000;
  let openGate = () => {};
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  const calls: Calls = {};
  const runner = localRunner(
    serviceStandIns({
      // The run that got the lock waits here until the other one has ended.
      'Preprocess raw images': async () => {
        await gate;
        return { ResultWriterDetails: { Bucket: 'dataset', Key: 'reports/preprocess/run/manifest.json' } };
      },
    }),
    calls,
    1000,
  );

  const runs = [runner.execute('run-a'), runner.execute('run-b')];
  // Should both get through the guard, both wait at the gate: open it after a while to see them.
  let timer: NodeJS.Timeout | undefined;
  const first = await Promise.race([
    ...runs,
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 20000))),
  ]);
  clearTimeout(timer);
  const holderWhileRunning = await lockItem();
  openGate();
  const reports = await Promise.all(runs);

  const proceeded = reports.filter((r) => r.statesEntered.includes('Preprocess raw images'));
  expect(proceeded.map((r) => r.name)).toHaveLength(1);
  const [winner] = proceeded;
  const loser = reports.find((r) => r !== winner)!;
  expect(first).toBe(loser);
  expect(loser.status).toBe('SUCCEEDED');
  expect(loser.statesEntered).toEqual([
    'Start run',
    'Take run lock',
    'Read run lock',
    'Run lock still held?',
    'Check lock holder',
    'Lock holder running?',
    'Notify already running',
    'Already running',
  ]);
  expect(calls['Notify already running'][0].Message).toMatchObject({
    execution: loser.name,
    runningExecution: winner.name,
  });
  expect(holderWhileRunning).toMatchObject({ holder: { S: executionArn(winner.name) } });
  expect(last(winner.statesEntered)).toBe('Deployed');
  expect(await lockItem()).toBeUndefined();
});

test('a run that fails releases the lock, and the next run takes it', async () => {
  const failing = localRunner(
    serviceStandIns({
      Train: () => {
        throw new ServiceError('States.TaskFailed', 'AlgorithmError: CUDA out of memory');
      },
    }),
  );
  const failed = await failing.execute('run-c');
  expect(failed.status).toBe('FAILED');
  expect(failed.statesEntered.slice(-4)).toEqual([
    'Failed in train',
    'Release run lock (failed)',
    'Notify failure',
    'Run failed',
  ]);
  expect(await lockItem()).toBeUndefined();

  const next = await localRunner(serviceStandIns()).execute('run-d');
  expect(next.statesEntered.slice(0, 3)).toEqual(['Start run', 'Take run lock', 'Preprocess raw images']);
  expect(last(next.statesEntered)).toBe('Deployed');
});

test.each([
  ['stopped by hand', 'ABORTED' as const],
  ['timed out', 'TIMED_OUT' as const],
])('a lock left by a run that was %s is taken over by the next run', async (_how, status) => {
  sfn.executions.push({
    executionArn: executionArn('run-stopped'),
    stateMachineArn: STATE_MACHINE_ARN,
    name: 'run-stopped',
    status,
    startDate: new Date(),
  });
  await callDynamoDb('PutItem', {
    TableName: table,
    Item: { ...lockKey, holder: { S: executionArn('run-stopped') }, execution: { S: 'run-stopped' } },
  });

  const report = await localRunner(serviceStandIns()).execute('run-e');
  expect(report.statesEntered.slice(0, 8)).toEqual([
    'Start run',
    'Take run lock',
    'Read run lock',
    'Run lock still held?',
    'Check lock holder',
    'Lock holder running?',
    'Take over run lock',
    'Preprocess raw images',
  ]);
  expect(last(report.statesEntered)).toBe('Deployed');
  expect(await lockItem()).toBeUndefined();
});

test('a lock whose holder Step Functions no longer knows is taken over once the retries agree', async () => {
  await callDynamoDb('PutItem', {
    TableName: table,
    Item: { ...lockKey, holder: { S: executionArn('run-long-gone') }, execution: { S: 'run-long-gone' } },
  });

  const report = await localRunner(serviceStandIns()).execute('run-f');
  expect(report.statesEntered).toContain('Take over run lock');
  expect(report.statesEntered).not.toContain('Lock holder running?');
  expect(last(report.statesEntered)).toBe('Deployed');
});
