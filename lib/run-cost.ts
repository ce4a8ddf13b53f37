import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { CostBasis, endpointMonthlyCost, EndpointSize, formatUsd, RunCostEvent } from '../contracts';
import { AppConfig, EndpointConfig } from './config';
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
 * What a run cost, computed once training has finished: the `run-cost` function says what the run cost and what the
 * endpoint costs a month (contracts/cost.ts) and its answer (contracts' `RunCostResult`) goes to `$.run.cost`, which
 * the deployed, rejected and failed notifications send. The cost is a courtesy: when it cannot be computed,
 * `$.run.cost` says so and the run goes on. Until then `$.run.cost` holds {@link NOT_YET_COMPUTED}.
 */
export class RunCost extends sfn.StateMachineFragment {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** The function; pure arithmetic, it calls no AWS API. */
  public readonly function: lambda.IFunction;

  constructor(scope: Construct, id: string, props: RunCostProps) {
    super(scope, id);
    this.function = pipelineFunction(this, 'Function', { handler: 'run-cost', memorySize: 256 });
    const compute = invoke(this, 'Compute run cost', this.function, {
      payload: handlerEvent<RunCostEvent>({
        state: sfn.JsonPath.objectAt('$'),
        endpoint: endpointSize(props.endpoint),
        basis: props.basis,
      }),
      resultPath: '$.run.cost',
    });
    const unknown = new sfn.Pass(this, 'Cost unknown', {
      parameters: {
        summary: sfn.JsonPath.format(
          'The cost of this run could not be computed ({}).',
          sfn.JsonPath.stringAt('$.costError.Error'),
        ),
      },
      resultPath: '$.run.cost',
    });
    compute.addCatch(unknown, { resultPath: '$.costError' });
    this.startState = compute;
    this.endStates = [compute, unknown];
  }
}

/** `$.run.cost` before training has finished: what the notification of a run that ended earlier says. */
export const NOT_YET_COMPUTED = {
  summary:
    'No cost computed: the run ended before a training job finished (a failed job is billed for its seconds).',
} as const;

/**
 * The README's table of what the endpoint costs a month in each mode, at the default size of each and with the
 * given prices (the table in contracts/prices.ts unless overridden).
 */
export function endpointCostTable(config: AppConfig): string {
  const rows = (['realtime', 'serverless'] as const).map((mode) => {
    const size = endpointSize({ ...config.endpoint, mode });
    const { usd, basis } = endpointMonthlyCost(size, config.cost);
    const isDefault = mode === config.endpoint.mode ? ' (default)' : '';
    return `| \`${mode}\`${isDefault} | ${usd === undefined ? 'unknown' : `about ${formatUsd(usd)}`} | ${basis} |`;
  });
  const { region, date } = config.cost.prices;
  return [
    `| endpoint mode | a month (${region}, prices of ${date}) | at what size, assuming what |`,
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
}
