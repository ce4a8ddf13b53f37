import { randomUUID } from 'crypto';
import { IncomingMessage, Server, ServerResponse, createServer } from 'http';
import { AddressInfo } from 'net';
import { LOOPBACK } from './net';

/** An error a waiting task fails with, named as Step Functions names it (the `error` of SendTaskFailure). */
export class TaskFailedError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

interface Waiter {
  resolve(output: unknown): void;
  reject(error: Error): void;
}

/** An execution the shim reports to ListExecutions and DescribeExecution. */
export interface LocalExecution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  readonly startDate: Date;
  stopDate?: Date;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A local stand-in for the Step Functions API, as far as the pipeline's code uses it: the task-token callbacks
 * (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat) that resume a `.waitForTaskToken` task in the local
 * interpreter, and ListExecutions / DescribeExecution over the local executions. It speaks the JSON 1.0 protocol
 * the AWS SDK uses, so code reaches it through `AWS_ENDPOINT_URL_SFN`.
 */
export class LocalStepFunctions {
  readonly executions: LocalExecution[] = [];
  /**
   * Milliseconds a new execution stays unknown to ListExecutions and DescribeExecution, as Step Functions'
   * eventually consistent reads allow; tests set it to check that nothing relies on seeing an execution the moment
   * it starts. 0 (the default): known at once.
   */
  visibilityLagMs = 0;
  private readonly waiters = new Map<string, Waiter>();
  private unclaimedToken: string | undefined;
  private server: Server | undefined;
  /** `http://127.0.0.1:<port>` once started. */
  endpoint = '';

  /** Starts the HTTP endpoint on a free port of 127.0.0.1. */
  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: Error) =>
        this.reply(response, 500, 'InternalError', error.message),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, LOOPBACK, resolve));
    this.endpoint = `http://${LOOPBACK}:${(this.server.address() as AddressInfo).port}`;
  }

  /** Stops the HTTP endpoint and fails every task still waiting. */
  async stop(): Promise<void> {
    for (const [token, waiter] of this.waiters) {
      waiter.reject(
        new TaskFailedError('States.Runtime', `Local mode stopped while task ${token} was waiting`),
      );
    }
    this.waiters.clear();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /**
   * The value of `$$.Task.Token`: a new token the first time a state reads it, the same one until a task claims it.
   */
  currentToken(): string {
    this.unclaimedToken ??= `local-task-token-${randomUUID()}`;
    return this.unclaimedToken;
  }

  /**
   * Claims the token the current state read, and returns a promise that settles when someone calls
   * SendTaskSuccess (with its output, parsed) or SendTaskFailure (rejecting with the error and cause).
   */
  claimToken(): { token: string; result: Promise<unknown> } {
    const token = this.currentToken();
    this.unclaimedToken = undefined;
    const result = new Promise<unknown>((resolve, reject) => this.waiters.set(token, { resolve, reject }));
    // A failure may arrive before the task awaits the result; that is not an unhandled rejection.
    result.catch(() => undefined);
    return { token, result };
  }

  private reply(
    response: ServerResponse,
    status: number,
    errorType: string | undefined,
    body: unknown,
  ): void {
    response.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0' });
    response.end(JSON.stringify(errorType ? { __type: errorType, message: body } : body));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = String(request.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
    const body = JSON.parse((await readBody(request)) || '{}') as Record<string, unknown>;
    const token = String(body.taskToken ?? '');
    if (target === 'SendTaskSuccess' || target === 'SendTaskFailure' || target === 'SendTaskHeartbeat') {
      const waiter = this.waiters.get(token);
      if (!waiter) return this.reply(response, 400, 'TaskDoesNotExist', `Task token ${token} is not waiting`);
      if (target === 'SendTaskSuccess') {
        let output: unknown;
        try {
          output = JSON.parse(String(body.output));
        } catch {
          return this.reply(response, 400, 'InvalidOutput', 'output is not valid JSON');
        }
        this.waiters.delete(token);
        waiter.resolve(output);
      }
      if (target === 'SendTaskFailure') {
        this.waiters.delete(token);
        waiter.reject(
          new TaskFailedError(String(body.error ?? 'States.TaskFailed'), String(body.cause ?? '')),
        );
      }
      return this.reply(response, 200, undefined, {});
    }
    const known = this.executions.filter((e) => Date.now() - e.startDate.getTime() >= this.visibilityLagMs);
    if (target === 'ListExecutions') {
      const executions = known
        .filter((e) => !body.stateMachineArn || e.stateMachineArn === body.stateMachineArn)
        .filter((e) => !body.statusFilter || e.status === body.statusFilter)
        .map((e) => ({
          ...e,
          startDate: e.startDate.getTime() / 1000,
          stopDate: e.stopDate ? e.stopDate.getTime() / 1000 : undefined,
        }));
      return this.reply(response, 200, undefined, { executions });
    }
    if (target === 'DescribeExecution') {
      const execution = known.find((e) => e.executionArn === body.executionArn);
      if (!execution)
        return this.reply(response, 400, 'ExecutionDoesNotExist', `No execution ${body.executionArn}`);
      return this.reply(response, 200, undefined, {
        ...execution,
        startDate: execution.startDate.getTime() / 1000,
        stopDate: execution.stopDate ? execution.stopDate.getTime() / 1000 : undefined,
      });
    }
    return this.reply(response, 400, 'UnknownOperationException', `Local mode does not implement ${target}`);
  }
}
