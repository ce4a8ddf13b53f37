import './polyfills';
import { S3Client } from '@aws-sdk/client-s3';
import { RunOptions, StateMachine } from 'aws-local-stepfunctions';
import { DISTRIBUTED_MAP_RESOURCE, Definition, Json, PreparedDefinition, prepareDefinition } from './asl';
import { runDistributedMap } from './distributed-map';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './resources';
import { LocalStepFunctions } from './sfn-shim';

/**
 * What one Task state runs locally: it receives the state's effective input and the context object (`$$`), and
 * returns the service's answer or throws an error named as Step Functions names it (`name` is the error,
 * `message` the cause).
 */
export type TaskImplementation = (input: Json, context: Record<string, unknown>) => Promise<Json> | Json;

/**
 * Chooses the local implementation of a Task state by its name and resource ARN; undefined when there is none.
 * A Distributed Map state without one is run by the runner itself ({@link runDistributedMap}).
 */
export type TaskImplementations = (state: string, resource: string) => TaskImplementation | undefined;

/** Options of {@link LocalRunner}. */
export interface RunnerOptions {
  /** The state machine the executions belong to (`$$.StateMachine`). */
  readonly stateMachine: { readonly arn: string; readonly name: string };
  /** The local implementation of every Task state (service integrations, or stand-ins in tests). */
  readonly tasks: TaskImplementations;
  /**
   * The Step Functions API the executions are listed on and `$$.Task.Token` comes from: the local endpoint
   * ({@link LocalStepFunctions}), or a stand-in with the same two members.
   */
  readonly sfn: Pick<LocalStepFunctions, 'executions' | 'currentToken'>;
  /** Milliseconds every Wait state waits, whatever the definition says. @default 500 */
  readonly waitMs?: number;
  /** Milliseconds every retry pauses before the next attempt. @default 200 */
  readonly retryMs?: number;
  /** The clock `$$.Execution.StartTime` and `$$.State.EnteredTime` read. @default the current time */
  readonly clock?: () => Date;
  /** The client Distributed Maps list their items and write their results with. @default an S3Client from the environment */
  readonly s3?: S3Client;
  /** Where progress goes: each state entered once, retries, caught errors. @default nowhere */
  readonly log?: (message: string) => void;
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

/**
 * Runs executions of one definition in aws-local-stepfunctions, with a local implementation of every task.
 * The definition is prepared once ({@link prepareDefinition}): Distributed Maps are run by
 * {@link runDistributedMap} with the same task implementations for their item processors, Wait states and
 * retry pauses are shortened, and tasks get Step Functions' timeouts.
 */
export class LocalRunner {
  private readonly prepared: PreparedDefinition;
  private readonly s3: S3Client;
  private readonly clock: () => Date;
  private readonly log: (message: string) => void;

  /** @throws naming the state, when a Task state has no local implementation. */
  constructor(
    definition: Definition,
    private readonly options: RunnerOptions,
  ) {
    this.prepared = prepareDefinition(definition);
    this.s3 = options.s3 ?? new S3Client({});
    this.clock = options.clock ?? (() => new Date());
    this.log = options.log ?? (() => undefined);
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
    const { stateMachine, sfn } = this.options;
    const clock = this.clock;
    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${stateMachine.name}:${name}`;
    const record = {
      executionArn,
      stateMachineArn: stateMachine.arn,
      name,
      status: 'RUNNING' as 'RUNNING' | 'SUCCEEDED' | 'FAILED',
      startDate: clock(),
      stopDate: undefined as Date | undefined,
    };
    sfn.executions.push(record);
    const context: Record<string, unknown> = {
      Execution: {
        Id: executionArn,
        Name: name,
        RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/local`,
        StartTime: record.startDate.toISOString(),
      },
      StateMachine: { Id: stateMachine.arn, Name: stateMachine.name },
      Task: {
        get Token() {
          return sfn.currentToken();
        },
      },
      // The interpreter does not track the current state; a read happens as the state is entered.
      State: {
        get EnteredTime() {
          return clock().toISOString();
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
      // A caught error is a branch of the definition (a missing endpoint is created), not a failure of the run:
      // it is shown as the state it leads to, with the error that took it there.
      const errors = new Map<string, string>();
      for await (const event of execution.eventLogs) {
        if (event.type === 'StateEntered') {
          if (!statesEntered.includes(event.state.name)) this.log(`▶ ${event.state.name}`);
          enter(event.state.name);
        }
        if (event.type === 'StateFailed') errors.set(event.state.name, event.Error);
        if (event.type === 'StateRetried') this.log(`↻ ${event.state.name}: retrying`);
        if (event.type === 'StateCaught') {
          const error = errors.get(event.state.name);
          this.log(`⤷ ${event.state.name} → ${event.catch.catcher.Next}${error ? ` (on ${error})` : ''}`);
        }
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
      record.stopDate = clock();
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
    const { waitMs = 500, retryMs = 200 } = this.options;
    return {
      taskResourceLocalHandlers,
      waitTimeOverrides: Object.fromEntries(this.prepared.waits.map((state) => [state, waitMs])),
      retryIntervalOverrides: Object.fromEntries(this.prepared.retrying.map((state) => [state, retryMs])),
    };
  }

  /** The local implementation of one task: the one `tasks` gives, else the runner's own for a Distributed Map. */
  private implementationOf(
    state: string,
    resource: string,
  ): (input: Json, context: Record<string, unknown>, enter: (state: string) => void) => Promise<Json> {
    const given = this.options.tasks(state, resource);
    if (given) return async (input, context) => given(input, context);
    if (resource === DISTRIBUTED_MAP_RESOURCE) {
      return (input, context, enter) =>
        runDistributedMap({
          stateName: state,
          state: this.prepared.distributedMaps[state],
          input,
          context,
          overrides: this.overrides(context, enter),
          enter,
          stateMachine: this.options.stateMachine,
          s3: this.s3,
          log: this.log,
        });
    }
    throw new Error(
      `State "${state}" uses ${resource}, which local mode cannot run; add it to local/emulator/integrations.ts`,
    );
  }
}
