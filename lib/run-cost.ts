import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CostBasis, EndpointSize, RunCostEvent } from '../contracts';
import { EndpointConfig } from './config';
import { handlerEvent } from './handler-event';
import { invoke, pipelineFunction } from './pipeline-tasks';

/** Properties of {@link RunCost}. */
export interface RunCostProps {
  /** The endpoint as configured: its monthly cost is computed at this size. */
  readonly endpoint: EndpointConfig;
  /** The price table (overridden by the `prices` configuration key) and the serverless traffic assumed. */
  readonly basis: CostBasis;
}

/** The endpoint's size as the cost arithmetic takes it, from the endpoint settings of the configured mode. */
export function endpointSize(config: EndpointConfig): EndpointSize {
  return config.mode === 'serverless'
    ? {
        mode: 'serverless',
        memorySizeInMB: config.serverlessMemorySizeInMB,
        maxConcurrency: config.serverlessMaxConcurrency,
        provisionedConcurrency: config.serverlessProvisionedConcurrency,
      }
    : { mode: 'realtime', instanceType: config.instanceType, instanceCount: config.instanceCount };
}

/**
 * The `run-cost` function, which says what a run cost and what the endpoint costs a month (contracts/cost.ts), and
 * the states that put its answer (contracts' `RunCostResult`) at `$.cost` before a notification.
 */
export class RunCost extends Construct {
  /** The function; pure arithmetic, it calls no AWS API. */
  public readonly function: lambda.IFunction;
  private readonly payload: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: RunCostProps) {
    super(scope, id);
    this.function = pipelineFunction(this, 'Function', { handler: 'run-cost', memorySize: 256 });
    this.payload = handlerEvent<RunCostEvent>({
      run: sfn.JsonPath.objectAt('$'),
      endpoint: endpointSize(props.endpoint),
      basis: props.basis,
    });
  }

  /**
   * `Compute run cost (<outcome>)`, putting the cost at `$.cost`, then `next`. The cost is a courtesy: when it
   * cannot be computed, `$.cost` says so and the run goes on to `next` all the same.
   */
  public compute(scope: Construct, outcome: string, next: sfn.IChainable): sfn.Chain {
    const task = invoke(scope, `Compute run cost (${outcome})`, this.function, {
      payload: this.payload,
      resultPath: '$.cost',
    });
    task.addCatch(
      new sfn.Pass(scope, `Cost unknown (${outcome})`, {
        parameters: {
          summary: sfn.JsonPath.format(
            'The cost of this run could not be computed ({}).',
            sfn.JsonPath.stringAt('$.costError.Error'),
          ),
        },
        resultPath: '$.cost',
      }).next(next),
      { resultPath: '$.costError' },
    );
    return sfn.Chain.start(task).next(next);
  }
}
