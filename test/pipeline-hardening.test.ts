import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app';
import { loadConfig } from '../lib/config';
import { newApp } from './app-context';
import { AslDefinition, synthesizedDefinition } from './state-machine';

// What issue 14 asks of the pipeline stack before its first deploy: a rollback alarm that one error cannot fire,
// SageMaker permissions scoped to this stack, and a training role with only what a training job uses.

function synth(context: Record<string, unknown> = {}): { template: Template; definition: AslDefinition } {
  const { pipeline } = buildApp(
    newApp(),
    loadConfig((key) => context[key]),
  );
  const template = Template.fromStack(pipeline);
  return { template, definition: synthesizedDefinition(template) };
}

type MetricQuery = {
  Id: string;
  Expression?: string;
  ReturnData?: boolean;
  MetricStat?: {
    Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] };
    Period: number;
    Stat: string;
  };
};
type AlarmProperties = {
  Metrics: MetricQuery[];
  Threshold: number;
  ComparisonOperator: string;
  EvaluationPeriods: number;
  DatapointsToAlarm?: number;
  TreatMissingData: string;
};

let standard: ReturnType<typeof synth>;
beforeAll(() => {
  standard = synth();
});

describe('the alarm that rolls a blue/green update back', () => {
  const alarm = () => {
    const alarms = standard.template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms)).toHaveLength(1);
    const [[logicalId, resource]] = Object.entries(alarms);
    return { logicalId, properties: resource.Properties as AlarmProperties };
  };

  /** The alarm's metric math evaluated for one period, with the per-minute sums given. */
  const errorRate = (sums: Record<string, number>): number => {
    const expression = alarm().properties.Metrics.find((m) => m.ReturnData !== false)?.Expression ?? '';
    // Only the operators, numbers, IF and the two metric ids the alarm declares may appear.
    expect(expression).toMatch(/^(IF|errors|invocations|[\d.\s()+\-*/,<>=])+$/);
    const evaluate = new Function('IF', 'errors', 'invocations', `return ${expression};`) as (
      ...args: unknown[]
    ) => number;
    const IF = (condition: boolean, whenTrue: number, whenFalse: number) =>
      condition ? whenTrue : whenFalse;
    return evaluate(IF, sums.errors, sums.invocations);
  };

  test('is the 5XX error rate of the endpoint’s variant, from one-minute sums', () => {
    const { properties } = alarm();
    const stats = properties.Metrics.filter((m) => m.MetricStat).map((m) => ({
      id: m.Id,
      metric: m.MetricStat!.Metric.MetricName,
      namespace: m.MetricStat!.Metric.Namespace,
      dimensions: m.MetricStat!.Metric.Dimensions,
      period: m.MetricStat!.Period,
      stat: m.MetricStat!.Stat,
    }));
    const dimensions = [
      { Name: 'EndpointName', Value: 'LogoDetectionPipeline-detector' },
      { Name: 'VariantName', Value: 'AllTraffic' },
    ];
    expect(stats).toEqual(
      expect.arrayContaining([
        {
          id: 'errors',
          metric: 'Invocation5XXErrors',
          namespace: 'AWS/SageMaker',
          dimensions,
          period: 60,
          stat: 'Sum',
        },
        {
          id: 'invocations',
          metric: 'Invocations',
          namespace: 'AWS/SageMaker',
          dimensions,
          period: 60,
          stat: 'Sum',
        },
      ]),
    );
    expect(stats).toHaveLength(2);
  });

  test('one 5xx from a caller does not breach: a minute needs at least 10 invocations and 5 % of them failing', () => {
    const { properties } = alarm();
    const breaches = (errors: number, invocations: number) =>
      errorRate({ errors, invocations }) >= properties.Threshold;
    expect(properties.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    expect(breaches(1, 1)).toBe(false);
    expect(breaches(9, 9)).toBe(false);
    expect(breaches(1, 100)).toBe(false);
    expect(breaches(5, 100)).toBe(true);
    expect(breaches(10, 10)).toBe(true);
  });

  test('fires on two breaching minutes out of three, and never on missing data', () => {
    const { properties } = alarm();
    expect(properties).toMatchObject({
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
  });

  test('is the alarm UpdateEndpoint rolls back on', () => {
    const { logicalId } = alarm();
    const parameters = standard.definition.States['Update endpoint'].Parameters as {
      DeploymentConfig: { AutoRollbackConfiguration: { Alarms: { AlarmName: string }[] } };
    };
    const alarms = parameters.DeploymentConfig.AutoRollbackConfiguration.Alarms;
    expect(alarms).toHaveLength(1);
    expect(alarms[0].AlarmName).toContain(logicalId);
  });
});
