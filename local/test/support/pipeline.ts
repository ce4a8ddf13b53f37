import { runCost, RunCostEvent, type PublishReportResult } from '../../../contracts';
import { buildApp } from '../../../lib/app';
import { loadConfig } from '../../../lib/config';
import { Definition, stateMachineDefinition } from '../../emulator/asl';
import { localResolver } from '../../emulator/resources';
import { LocalRunner } from '../../emulator/runner';
import { CfnTemplate } from '../../emulator/template';
import { newApp } from '../../../test/app-context';

/** The synthesized app's templates by stack name, and the pipeline's state machine definition. */
export interface SynthesizedPipeline {
  readonly templates: Record<string, CfnTemplate>;
  /** Every reference resolved to its local stand-in ({@link localResolver}). */
  readonly definition: Definition;
}

/**
 * The app synthesized for a configuration given as context values: its templates, and the pipeline's state
 * machine definition with every reference resolved to its local stand-in.
 */
export function synthesizePipeline(context: Record<string, unknown> = {}): SynthesizedPipeline {
  // The handlers are stood in for, so their bundles are not built.
  const app = newApp({ 'aws:cdk:bundling-stacks': [] });
  const { pipeline } = buildApp(
    app,
    loadConfig((key) => context[key]),
  );
  const templates: Record<string, CfnTemplate> = {};
  for (const stack of app.synth().stacks) templates[stack.stackName] = stack.template as CfnTemplate;
  const { definition } = stateMachineDefinition(
    templates,
    pipeline.stackName,
    localResolver(templates),
    'StateMachineArn',
  );
  return { templates, definition };
}

/**
 * The detect workflow's state machine definition (`DetectStateMachineArn`) for a configuration given as context
 * values, every reference resolved to its local stand-in.
 */
export function detectDefinition(context: Record<string, unknown> = {}): Definition {
  const { templates } = synthesizePipeline(context);
  return stateMachineDefinition(
    templates,
    'LogoDetectionPipeline',
    localResolver(templates),
    'DetectStateMachineArn',
  ).definition;
}

/**
 * The pipeline's state machine definition for a configuration given as context values, synthesized with the
 * other stacks (whose exports it imports) and every reference resolved to its local stand-in.
 */
export function pipelineDefinition(context: Record<string, unknown> = {}): Definition {
  return synthesizePipeline(context).definition;
}

/** An error as a service integration reports it: `name` is the Step Functions error, `message` the cause. */
export class ServiceError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A task stand-in: receives the state's effective input, returns the service's answer or throws. */
export type TaskHandler = (input: Record<string, unknown>) => unknown;

/** What one local execution did. */
export interface LocalRun {
  /** Names of the states entered, in order (each once). */
  readonly entered: string[];
  /** Every input each stood-in Task received, by state name. */
  readonly calls: Record<string, Record<string, unknown>[]>;
  /** The execution's output, or the error it failed with. */
  readonly output?: unknown;
  readonly error?: { readonly name: string; readonly cause: string };
}

export const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:Pipeline';

/** The ARN of an execution of {@link STATE_MACHINE_ARN}, as the local runner names it. */
export const executionArn = (name: string) =>
  `arn:aws:states:us-east-1:123456789012:execution:Pipeline:${name}`;

/** What the report stage's stand-in answers: a report published for a model whose int8 variant serves. */
export const PUBLISHED_REPORT: PublishReportResult = {
  report: {
    uri: 's3://artifacts/reports/job/report.html',
    consoleUrl:
      'https://us-east-1.console.aws.amazon.com/s3/object/artifacts?region=us-east-1&prefix=reports%2Fjob%2Freport.html',
    figuresUri: 's3://artifacts/reports/job/evaluation.json',
  },
  apPerClass: { logo: 0.63 },
  threshold: 0.42,
  variant: 'int8',
  mapInt8: 0.6,
  mapFp32: 0.605,
  record: {
    apPerClass: { logo: 0.63 },
    threshold: 0.42,
    variant: 'int8',
    mapInt8: 0.6,
    reportUri: 's3://artifacts/reports/job/report.html',
  },
  summary:
    'The int8 model serves (validation mAP int8 0.600, fp32 0.605). Evaluation report: s3://artifacts/reports/job/report.html.',
};

/**
 * Stand-ins for AWS on the path where the run takes the lock, new images arrive, labels are imported, the
 * endpoint is created and the lock is released; `overrides` replaces or adds some by state name.
 */
export function serviceStandIns(overrides: Record<string, TaskHandler> = {}): Record<string, TaskHandler> {
  let endpointConfigName = '';
  const notified = () => ({ MessageId: 'm-1' });
  const released = () => ({});
  return {
    'Take run lock': () => ({}),
    'Preprocess raw images': () => ({
      ResultWriterDetails: { Bucket: 'dataset', Key: 'reports/preprocess/run/manifest.json' },
    }),
    'Summarize preprocessing': () => ({
      processed: 3,
      skipped: 1,
      failed: 0,
      reportKey: 'reports/run.json',
      lambdaGbSeconds: 3000,
      lambdaInvocations: 40,
    }),
    'Find unlabeled images': () => ({
      count: 3,
      manifestKey: 'manifests/labeling/run.manifest',
      sample: ['images/a.jpg'],
    }),
    'Wait for imported labels': () => ({ imported: 3, empty: 0, format: 'coco' }),
    'Assemble dataset': () => ({
      images: 10,
      boxes: 14,
      train: 8,
      validation: 2,
      trainManifestPrefix: 's3://dataset/manifests/train/',
      validationManifestPrefix: 's3://dataset/manifests/validation/',
    }),
    'Look for pretrained weights': () => ({ KeyCount: 0 }),
    Train: (job) => ({
      TrainingJobName: job.TrainingJobName,
      TrainingJobStatus: 'Completed',
      TrainingTimeInSeconds: 2400,
      BillableTimeInSeconds: 900,
      ResourceConfig: job.ResourceConfig,
      FinalMetricDataList: [{ MetricName: 'best_val_mAP', Value: 0.61 }],
      ModelArtifacts: { S3ModelArtifacts: 's3://artifacts/models/job/output/model.tar.gz' },
    }),
    // The real arithmetic: it calls no AWS API.
    'Compute run cost': (input) => runCost(input as unknown as RunCostEvent),
    'Publish evaluation report': () => PUBLISHED_REPORT,
    'Check model quality': () => ({ accept: true, map: 0.61, liveMap: null, reason: 'No live model yet.' }),
    'Create model': () => ({ ModelArn: 'arn:model' }),
    'Create endpoint config': (input) => {
      endpointConfigName = input.EndpointConfigName as string;
      return { EndpointConfigArn: 'arn:config' };
    },
    'Find endpoint': (input) => {
      throw new ServiceError(
        'SageMaker.AmazonSageMakerException',
        `Could not find endpoint "${String(input.EndpointName)}".`,
      );
    },
    'Create endpoint': () => ({ EndpointArn: 'arn:endpoint' }),
    'Update endpoint': () => ({ EndpointArn: 'arn:endpoint' }),
    'Check endpoint': () => ({ EndpointStatus: 'InService', EndpointConfigName: endpointConfigName }),
    'Record live model': () => ({ Version: 2 }),
    'Release run lock (deployed)': released,
    'Release run lock (rejected)': released,
    'Release run lock (nothing new)': released,
    'Release run lock (failed)': released,
    'Notify deployed': notified,
    'Notify model rejected': notified,
    'Notify nothing new': notified,
    'Notify already running': notified,
    'Notify failure': notified,
    ...overrides,
  };
}

/**
 * Runs the definition in the local runner with the given task stand-ins, by state name (a Distributed Map's
 * stand-in replaces its whole map run); Waits and retry pauses take no time. A task without a stand-in fails
 * with an error naming it. The execution is `run-2026-11-26`, every state is entered at 2026-11-26T06:00:00Z
 * and `$$.Task.Token` is `task-token-1`.
 */
export async function runLocally(
  definition: Definition,
  handlers: Record<string, TaskHandler>,
  input: Record<string, unknown> = {},
): Promise<LocalRun> {
  const calls: Record<string, Record<string, unknown>[]> = {};
  const runner = new LocalRunner(definition, {
    stateMachine: { arn: STATE_MACHINE_ARN, name: 'Pipeline' },
    tasks: (state) => (event) => {
      const handler = handlers[state];
      if (!handler) throw new Error(`The test gives no stand-in for state "${state}"`);
      (calls[state] ??= []).push(event as Record<string, unknown>);
      return handler(event as Record<string, unknown>);
    },
    sfn: { executions: [], currentToken: () => 'task-token-1' },
    clock: () => new Date('2026-11-26T06:00:00.000Z'),
    waitMs: 0,
    retryMs: 0,
  });
  const report = await runner.execute('run-2026-11-26', input);
  return { entered: report.statesEntered, calls, output: report.output, error: report.error };
}
