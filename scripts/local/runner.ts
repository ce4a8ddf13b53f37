import '../polyfills';
import { PutObjectCommand, S3Client, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { randomUUID } from 'crypto';
import { RunOptions, StateMachine } from 'aws-local-stepfunctions';
import { LocalFunction, LOCAL_ACCOUNT, LOCAL_REGION } from './resources';
import { LocalSageMaker, asTaskOutput } from './sagemaker';
import { LocalStepFunctions } from './sfn-shim';

type Json = unknown;
type State = Record<string, unknown>;
type Definition = { StartAt: string; States: Record<string, State>; [key: string]: unknown };

/** A Lambda handler as local mode calls it. */
export type Handler = (event: Json, context: Record<string, unknown>) => Promise<Json>;

/** Everything a task state may need to run on this machine. */
export interface RunnerServices {
  /** The app's Lambda functions (ARN → handler folder, environment). */
  readonly functions: LocalFunction[];
  /** Loaded handlers by lambda/<folder>. */
  readonly handlers: Record<string, Handler>;
  readonly sagemaker: LocalSageMaker;
  readonly sfn: LocalStepFunctions;
  /**
   * Called once a `.waitForTaskToken` task's handler has returned: the operator's part (e.g. importing labels),
   * which ends with someone calling SendTaskSuccess or SendTaskFailure on the token.
   */
  readonly onWaitForTaskToken: (stateName: string, payload: Json) => Promise<void>;
  readonly log: (message: string) => void;
}

/** What one local execution did. */
export interface ExecutionReport {
  readonly name: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: Json;
  readonly error?: { readonly name: string; readonly cause: string };
  /** Every state entered, in order (states inside maps included, once each). */
  readonly statesEntered: string[];
  readonly durationMs: number;
}

/** A deep copy made in this realm (structuredClone's copies fail the interpreter's plain-object checks under jest). */
function cloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Marks a Task state that stands for a Distributed Map (the interpreter runs only inline maps). */
const DISTRIBUTED_MAP_RESOURCE = 'arn:aws:states:::local:distributedMap';
/** Step Functions lets a task run for a year; the interpreter's default is 60 s, too short for training. */
const TASK_TIMEOUT_SECONDS = 6 * 3600;

/** The local form of a definition: what the interpreter can run, and what local mode runs in its place. */
export interface PreparedDefinition {
  readonly definition: Definition;
  /** Resource of every Task state, by state name (nested states included). */
  readonly tasks: Record<string, string>;
  /** The original Distributed Map states, by name. */
  readonly distributedMaps: Record<string, State>;
  readonly waits: string[];
  readonly retrying: string[];
}

/**
 * Rewrites a definition for aws-local-stepfunctions without changing its wiring: each Distributed Map becomes a
 * Task state of the same name, input/output processing, Retry, Catch and transitions, run by
 * {@link runDistributedMap}; Task states without a timeout get Step Functions' (effectively none) instead of the
 * interpreter's 60 s. Collects the Task, Wait and retrying states for the overrides.
 */
export function prepareDefinition(original: Definition): PreparedDefinition {
  const prepared: PreparedDefinition = {
    definition: cloneJson(original),
    tasks: {},
    distributedMaps: {},
    waits: [],
    retrying: [],
  };
  const seen = new Set<string>();
  const walk = (machine: Definition) => {
    for (const [name, state] of Object.entries(machine.States)) {
      if (seen.has(name))
        throw new Error(`State name "${name}" is used twice; local mode overrides states by name`);
      seen.add(name);
      if (state.Retry) prepared.retrying.push(name);
      if (state.Type === 'Wait') prepared.waits.push(name);
      if (state.Type === 'Parallel') (state.Branches as Definition[]).forEach(walk);
      if (state.Type === 'Map') {
        const processor = (state.ItemProcessor ?? state.Iterator) as Definition & {
          ProcessorConfig?: { Mode?: string };
        };
        walk(processor);
        if (processor.ProcessorConfig?.Mode === 'DISTRIBUTED') {
          prepared.distributedMaps[name] = cloneJson(state);
          const keep = [
            'Comment',
            'InputPath',
            'OutputPath',
            'ResultPath',
            'ResultSelector',
            'Retry',
            'Catch',
            'Next',
            'End',
          ];
          const task: State = {
            Type: 'Task',
            Resource: DISTRIBUTED_MAP_RESOURCE,
            TimeoutSeconds: TASK_TIMEOUT_SECONDS,
          };
          for (const key of keep) if (key in state) task[key] = state[key];
          machine.States[name] = task;
          prepared.tasks[name] = DISTRIBUTED_MAP_RESOURCE;
        }
      }
      if (state.Type === 'Task') {
        prepared.tasks[name] = String(state.Resource);
        if (state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
          state.TimeoutSeconds = TASK_TIMEOUT_SECONDS;
        }
      }
    }
  };
  walk(prepared.definition);
  return prepared;
}

/** Evaluates a JSONPath payload template (`"key.$": "$.path"`, intrinsic functions) the way the interpreter does. */
export async function evaluateTemplate(
  template: Json,
  input: Json,
  context: Record<string, unknown>,
): Promise<Json> {
  if (template === undefined) return input;
  const machine = new StateMachine(
    {
      StartAt: 'Evaluate',
      States: { Evaluate: { Type: 'Pass', Parameters: template as never, End: true } },
    },
    { validationOptions: { noValidate: true } },
  );
  return machine.run(input as never, { context: context as never }).result;
}

function lambdaError(error: Error): Error {
  const named = new Error(
    JSON.stringify({
      errorMessage: error.message,
      errorType: error.name,
      trace: (error.stack ?? '').split('\n'),
    }),
  );
  named.name = error.name || 'Error';
  return named;
}

/** Runs pipeline executions of one prepared definition with local implementations of every task. */
export class LocalRunner {
  private readonly s3 = new S3Client({});
  private readonly prepared: PreparedDefinition;

  constructor(
    definition: Definition,
    private readonly stateMachine: { arn: string; name: string },
    private readonly services: RunnerServices,
  ) {
    this.prepared = prepareDefinition(definition);
    for (const [state, resource] of Object.entries(this.prepared.tasks)) {
      // Fail before running anything if a task has no local implementation.
      this.implementationOf(state, resource);
    }
  }

  /** States that wait for a task token (labeling, in this pipeline). */
  waitingStates(): string[] {
    return Object.entries(this.prepared.tasks)
      .filter(([, resource]) => resource.endsWith('.waitForTaskToken'))
      .map(([state]) => state);
  }

  /** Runs one execution to its end and reports it. */
  async execute(name: string, input: Json = {}): Promise<ExecutionReport> {
    const started = Date.now();
    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${this.stateMachine.name}:${name}`;
    const record = {
      executionArn,
      stateMachineArn: this.stateMachine.arn,
      name,
      status: 'RUNNING' as 'RUNNING' | 'SUCCEEDED' | 'FAILED',
      startDate: new Date(),
      stopDate: undefined as Date | undefined,
    };
    this.services.sfn.executions.push(record);
    const sfn = this.services.sfn;
    const context: Record<string, unknown> = {
      Execution: {
        Id: executionArn,
        Name: name,
        RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/local`,
        StartTime: record.startDate.toISOString(),
      },
      StateMachine: { Id: this.stateMachine.arn, Name: this.stateMachine.name },
      Task: {
        get Token() {
          return sfn.currentToken();
        },
      },
      // The interpreter does not track the current state; a read happens as the state is entered.
      State: {
        get EnteredTime() {
          return new Date().toISOString();
        },
      },
    };
    const statesEntered: string[] = [];
    const enter = (state: string) => {
      if (!statesEntered.includes(state)) statesEntered.push(state);
    };
    const overrides = this.overrides(context, enter);
    const machine = new StateMachine(this.prepared.definition as never, {
      validationOptions: { checkArn: false, checkPaths: false },
    });
    const execution = machine.run(input as never, { overrides, context: context as never });
    const logging = (async () => {
      for await (const event of execution.eventLogs) {
        if (event.type === 'StateEntered') {
          if (!statesEntered.includes(event.state.name)) this.services.log(`▶ ${event.state.name}`);
          enter(event.state.name);
        }
        if (event.type === 'StateRetried') this.services.log(`↻ ${event.state.name}: retrying`);
        if (event.type === 'StateCaught') this.services.log(`⤷ ${event.state.name}: error caught`);
      }
    })();
    try {
      const output = await execution.result;
      await logging;
      record.status = 'SUCCEEDED';
      return { name, status: 'SUCCEEDED', output, statesEntered, durationMs: Date.now() - started };
    } catch (error) {
      await logging.catch(() => undefined);
      record.status = 'FAILED';
      const cause = ((error as Error & { cause?: Error }).cause ?? error) as Error;
      return {
        name,
        status: 'FAILED',
        error: { name: cause.name, cause: cause.message },
        statesEntered,
        durationMs: Date.now() - started,
      };
    } finally {
      record.stopDate = new Date();
    }
  }

  private overrides(
    context: Record<string, unknown>,
    enter: (state: string) => void,
  ): RunOptions['overrides'] {
    const taskResourceLocalHandlers: NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers'] = {};
    for (const [state, resource] of Object.entries(this.prepared.tasks)) {
      const implementation = this.implementationOf(state, resource);
      taskResourceLocalHandlers[state] = (input) => implementation(input, context, enter) as Promise<never>;
    }
    return {
      taskResourceLocalHandlers,
      waitTimeOverrides: Object.fromEntries(this.prepared.waits.map((state) => [state, 500])),
      retryIntervalOverrides: Object.fromEntries(this.prepared.retrying.map((state) => [state, 200])),
    };
  }

  private functionFor(nameOrArn: string): LocalFunction {
    const unqualified = nameOrArn.replace(/^(arn:aws:lambda:[^:]+:[^:]+:function:[^:]+):.*$/, '$1');
    const fn = this.services.functions.find(
      (f) => f.arn === unqualified || f.arn.endsWith(`:function:${unqualified}`),
    );
    if (!fn) throw new Error(`No Lambda function of the app is called ${nameOrArn}`);
    return fn;
  }

  private async invokeLambda(nameOrArn: string, payload: Json): Promise<Json> {
    const fn = this.functionFor(nameOrArn);
    const handler = this.services.handlers[fn.handlerDir];
    if (!handler) throw new Error(`No handler loaded for lambda/${fn.handlerDir}`);
    Object.assign(process.env, fn.environment);
    const requestId = randomUUID();
    const lambdaContext = {
      awsRequestId: requestId,
      functionName: fn.arn.split(':').pop(),
      functionVersion: '$LATEST',
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: '1024',
      logGroupName: `/aws/lambda/${fn.arn.split(':').pop()}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => 900000,
    };
    try {
      return (await handler(cloneJson(payload), lambdaContext)) ?? null;
    } catch (error) {
      throw lambdaError(error as Error);
    }
  }

  /** The local implementation of one task, chosen by its resource ARN. */
  private implementationOf(
    state: string,
    resource: string,
  ): (input: Json, context: Record<string, unknown>, enter: (state: string) => void) => Promise<Json> {
    const services = this.services;
    if (resource === DISTRIBUTED_MAP_RESOURCE) {
      return (input, context, enter) => this.runDistributedMap(state, input, context, enter);
    }
    if (resource.startsWith('arn:aws:lambda:')) return (input) => this.invokeLambda(resource, input);
    if (resource === 'arn:aws:states:::lambda:invoke') {
      return async (input) => {
        const { FunctionName, Payload } = input as { FunctionName: string; Payload: Json };
        const result = await this.invokeLambda(FunctionName, Payload);
        return { ExecutedVersion: '$LATEST', Payload: result, StatusCode: 200 };
      };
    }
    if (resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
      return async (input) => {
        const { FunctionName, Payload } = input as { FunctionName: string; Payload: Json };
        const { token, result } = services.sfn.claimToken();
        if (!JSON.stringify(Payload).includes(token)) {
          throw new Error(
            `${state}: the payload does not carry $$.Task.Token, so nothing could ever resume it`,
          );
        }
        await this.invokeLambda(FunctionName, Payload);
        services.log(`⏸ ${state}: waiting for the task token to be sent back`);
        await services.onWaitForTaskToken(state, Payload);
        return result;
      };
    }
    if (resource === 'arn:aws:states:::sagemaker:createTrainingJob.sync') {
      return (input) => services.sagemaker.trainingJob(input as Record<string, unknown>);
    }
    const sagemaker = /^arn:aws:states:::(?:aws-sdk:)?sagemaker:([A-Za-z]+)$/.exec(resource);
    if (sagemaker) return (input) => services.sagemaker.call(sagemaker[1], input as Record<string, unknown>);
    const sdk = /^arn:aws:states:::(?:aws-sdk:)?(s3|ssm|sns|sfn):([A-Za-z0-9]+)$/.exec(resource);
    if (sdk) return (input) => callAwsSdk(sdk[1], sdk[2], input as Record<string, unknown>);
    throw new Error(
      `State "${state}" uses ${resource}, which local mode cannot run; add it to scripts/local/runner.ts`,
    );
  }

  /**
   * A Distributed Map run the way Step Functions runs one: items from the ItemReader (an S3 listing on moto),
   * ItemSelector per item, ItemBatcher batches, the ItemProcessor as child executions (MaxConcurrency at a
   * time), the tolerated failure threshold, and the ResultWriter's manifest and result files in S3.
   */
  private async runDistributedMap(
    stateName: string,
    input: Json,
    context: Record<string, unknown>,
    enter: (state: string) => void,
  ): Promise<Json> {
    const state = this.prepared.distributedMaps[stateName];
    const reader = state.ItemReader as { Resource: string; Parameters?: Json; Arguments?: Json } | undefined;
    let items: Json[];
    if (reader) {
      if (!/:s3:listObjectsV2$/.test(reader.Resource)) {
        throw new Error(
          `${stateName}: local mode reads items only with s3:listObjectsV2, not ${reader.Resource}`,
        );
      }
      const params = (await evaluateTemplate(reader.Parameters ?? reader.Arguments, input, context)) as {
        Bucket: string;
        Prefix?: string;
      };
      items = [];
      let token: string | undefined;
      do {
        const page = await this.s3.send(
          new ListObjectsV2Command({
            Bucket: params.Bucket,
            Prefix: params.Prefix,
            ContinuationToken: token,
          }),
        );
        for (const o of page.Contents ?? []) {
          items.push({
            Etag: o.ETag,
            Key: o.Key,
            LastModified: Math.floor((o.LastModified?.getTime() ?? 0) / 1000),
            Size: o.Size,
            StorageClass: o.StorageClass ?? 'STANDARD',
          });
        }
        token = page.NextContinuationToken;
      } while (token);
    } else {
      items = (state.ItemsPath
        ? await evaluateTemplate({ 'items.$': state.ItemsPath }, input, context)
        : { items: input }) as unknown as Json[];
      items = (items as unknown as { items: Json[] }).items;
    }
    const selector = state.ItemSelector ?? state.Parameters;
    const selected: Json[] = [];
    for (const [index, value] of items.entries()) {
      selected.push(
        selector
          ? await evaluateTemplate(selector, input, {
              ...context,
              Map: { Item: { Index: index, Value: value } },
            })
          : value,
      );
    }
    const batcher = state.ItemBatcher as { MaxItemsPerBatch?: number; BatchInput?: Json } | undefined;
    let childInputs: Json[] = selected;
    if (batcher) {
      const size = batcher.MaxItemsPerBatch ?? 100;
      const batchInput =
        batcher.BatchInput === undefined
          ? undefined
          : await evaluateTemplate(batcher.BatchInput, input, context);
      childInputs = [];
      for (let i = 0; i < selected.length; i += size) {
        childInputs.push({
          Items: selected.slice(i, i + size),
          ...(batchInput === undefined ? {} : { BatchInput: batchInput }),
        });
      }
    }
    const processor = (state.ItemProcessor ?? state.Iterator) as Definition;
    const childDefinition = { ...processor } as Definition & { ProcessorConfig?: unknown };
    delete childDefinition.ProcessorConfig;
    const prepared = prepareDefinition(childDefinition as Definition);
    const machine = new StateMachine(prepared.definition as never, {
      validationOptions: { noValidate: true },
    });
    const overrides = this.overrides(context, enter);
    const mapRunId = randomUUID();
    const mapRunArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:mapRun:${this.stateMachine.name}/${stateName}:${mapRunId}`;
    this.services.log(`  ${stateName}: ${items.length} items in ${childInputs.length} child executions`);

    type Child = { index: number; input: Json; output?: Json; error?: Error; start: Date; stop?: Date };
    const children: Child[] = childInputs.map((childInput, index) => ({
      index,
      input: childInput,
      start: new Date(),
    }));
    const concurrency = Math.max(1, Math.min(Number(state.MaxConcurrency) || 1000, 4));
    let next = 0;
    const worker = async () => {
      while (next < children.length) {
        const child = children[next++];
        child.start = new Date();
        const execution = machine.run(child.input as never, { overrides, context: context as never });
        const events = (async () => {
          for await (const event of execution.eventLogs)
            if (event.type === 'StateEntered') enter(event.state.name);
        })();
        try {
          child.output = await execution.result;
        } catch (error) {
          child.error = ((error as Error & { cause?: Error }).cause ?? error) as Error;
        }
        await events.catch(() => undefined);
        child.stop = new Date();
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, children.length) }, worker));

    const failed = children.filter((child) => child.error);
    const percentage = Number(
      state.ToleratedFailurePercentage ?? (state.ToleratedFailureCount === undefined ? 0 : 100),
    );
    const count = Number(state.ToleratedFailureCount ?? Number.MAX_SAFE_INTEGER);
    if (
      failed.length > 0 &&
      (failed.length > count || (failed.length * 100) / children.length > percentage)
    ) {
      const error = new Error(
        `${failed.length} of ${children.length} child executions failed, first: ${failed[0].error!.name}: ${failed[0].error!.message}`,
      );
      error.name = 'States.ExceedToleratedFailureThreshold';
      throw error;
    }
    const writer = state.ResultWriter as { Parameters?: Json; Arguments?: Json } | undefined;
    if (!writer) return children.filter((child) => !child.error).map((child) => child.output ?? null);

    const target = (await evaluateTemplate(writer.Parameters ?? writer.Arguments, input, context)) as {
      Bucket: string;
      Prefix?: string;
    };
    const prefix = target.Prefix ? `${target.Prefix.replace(/\/$/, '')}/${mapRunId}` : mapRunId;
    const entry = (child: Child) => ({
      ExecutionArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${this.stateMachine.name}/${stateName}:${randomUUID()}`,
      Input: JSON.stringify(child.input),
      InputDetails: { Included: true },
      Name: `${mapRunId.slice(0, 8)}-${child.index}`,
      ...(child.error
        ? { Error: child.error.name, Cause: child.error.message }
        : { Output: JSON.stringify(child.output), OutputDetails: { Included: true } }),
      RedriveCount: 0,
      RedriveStatus: 'NOT_REDRIVABLE',
      StartDate: child.start.toISOString(),
      StateMachineArn: `${this.stateMachine.arn}/${stateName}`,
      Status: child.error ? 'FAILED' : 'SUCCEEDED',
      StopDate: (child.stop ?? new Date()).toISOString(),
    });
    const files: Record<'SUCCEEDED' | 'FAILED' | 'PENDING', { Key: string; Size: number }[]> = {
      SUCCEEDED: [],
      FAILED: [],
      PENDING: [],
    };
    for (const status of ['SUCCEEDED', 'FAILED'] as const) {
      const group = children.filter((child) => (status === 'FAILED') === Boolean(child.error));
      if (group.length === 0) continue;
      const body = JSON.stringify(group.map(entry));
      const key = `${prefix}/${status}_0.json`;
      await this.s3.send(new PutObjectCommand({ Bucket: target.Bucket, Key: key, Body: body }));
      files[status].push({ Key: key, Size: Buffer.byteLength(body) });
    }
    const manifestKey = `${prefix}/manifest.json`;
    await this.s3.send(
      new PutObjectCommand({
        Bucket: target.Bucket,
        Key: manifestKey,
        Body: JSON.stringify({ DestinationBucket: target.Bucket, MapRunArn: mapRunArn, ResultFiles: files }),
      }),
    );
    return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: target.Bucket, Key: manifestKey } };
  }
}

const SDK_CLIENTS: Record<string, [string, string]> = {
  s3: ['@aws-sdk/client-s3', 'S3Client'],
  ssm: ['@aws-sdk/client-ssm', 'SSMClient'],
  sns: ['@aws-sdk/client-sns', 'SNSClient'],
  sfn: ['@aws-sdk/client-sfn', 'SFNClient'],
};
const SERVICE_ERROR_PREFIX: Record<string, string> = { s3: 'S3', ssm: 'Ssm', sns: 'Sns', sfn: 'Sfn' };

function recase(value: Json, first: (c: string) => string): Json {
  if (Array.isArray(value)) return value.map((v) => recase(v, first));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, Json>).map(([k, v]) => [
      first(k[0]) + k.slice(1),
      recase(v, first),
    ]),
  );
}

/**
 * An optimized (`arn:aws:states:::sns:publish`) or AWS SDK (`arn:aws:states:::aws-sdk:ssm:putParameter`) task,
 * called through the AWS SDK against moto (or the local Step Functions shim). Step Functions takes and returns
 * PascalCase fields for every service, so camelCase APIs (Step Functions itself) are re-cased both ways.
 */
export async function callAwsSdk(
  service: string,
  action: string,
  params: Record<string, unknown>,
): Promise<Json> {
  const [moduleName, clientName] = SDK_CLIENTS[service];
  const sdk = (await import(moduleName)) as Record<
    string,
    new (input: unknown) => { send(command: unknown): Promise<object> }
  >;
  const Command = sdk[`${action[0].toUpperCase()}${action.slice(1)}Command`];
  if (!Command) throw new Error(`${service} has no action ${action}`);
  const camel = service === 'sfn';
  const input = camel ? recase(params, (c) => c.toLowerCase()) : params;
  try {
    const response = await new sdk[clientName]({}).send(new Command(input));
    const output = asTaskOutput(response);
    return camel ? recase(output, (c) => c.toUpperCase()) : output;
  } catch (error) {
    const named = new Error((error as Error).message);
    const name = (error as Error).name;
    named.name = `${SERVICE_ERROR_PREFIX[service]}.${name.endsWith('Exception') ? name : `${name}Exception`}`;
    throw named;
  }
}
