import './polyfills';
import { S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'crypto';
import { RunOptions, StateMachine } from 'aws-local-stepfunctions';
import {
  DISTRIBUTED_MAP_RESOURCE,
  Definition,
  Json,
  PreparedDefinition,
  cloneJson,
  prepareDefinition,
} from './asl';
import { runDistributedMap } from './distributed-map';
import { LocalFunction, LOCAL_ACCOUNT, LOCAL_REGION } from './resources';
import { LocalSageMaker, asTaskOutput } from './sagemaker';
import { LocalStepFunctions } from './sfn-shim';

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
      return (input, context, enter) =>
        runDistributedMap({
          stateName: state,
          state: this.prepared.distributedMaps[state],
          input,
          context,
          overrides: this.overrides(context, enter),
          enter,
          stateMachine: this.stateMachine,
          s3: this.s3,
          log: this.services.log,
        });
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
