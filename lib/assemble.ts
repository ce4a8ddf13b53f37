import { Duration } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AssembleDatasetEvent, PREFIXES } from '../contracts';
import { handlerEvent } from './handler-event';
import { invoke, pipelineFunction } from './pipeline-tasks';
import { PipelineStage } from './stage';

/** Properties of {@link Assemble}. */
export interface AssembleProps {
  /** Class names, in class-id order. */
  readonly classes: string[];
  /** Raw uploads (only their name is passed on, as every handler event carries both buckets). */
  readonly rawBucket: s3.IBucket;
  /** Images and labels (read), and the manifests `assemble-dataset` writes. */
  readonly datasetBucket: s3.IBucket;
  /**
   * Percentage of images held out for validation.
   * @default 20
   */
  readonly validationPercent?: number;
}

/**
 * The assemble stage: `assemble-dataset` merges every label document into the cumulative manifest and a stable
 * train/validation split (`$.dataset`, {@link AssembleDatasetResult}). A dataset that cannot be used fails the run
 * with `DatasetError` and the handler's message (e.g. no labeled images yet).
 */
export class Assemble extends PipelineStage {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, props: AssembleProps) {
    super(scope, id, 'assemble');
    const { datasetBucket } = props;
    const validationPercent = props.validationPercent ?? 20;
    if (!(validationPercent > 0 && validationPercent < 100)) {
      throw new Error(`Assemble: validationPercent must be between 0 and 100, got ${validationPercent}`);
    }

    const assembleFunction = pipelineFunction(this, 'Function', {
      handler: 'assemble-dataset',
      timeout: Duration.minutes(5),
      memorySize: 1024,
    });
    datasetBucket.grantRead(assembleFunction, `${PREFIXES.labels}*`);
    datasetBucket.grantRead(assembleFunction, `${PREFIXES.images}*`);
    datasetBucket.grantPut(assembleFunction, `${PREFIXES.manifests}*`);
    const assemble = invoke(this, 'Assemble dataset', assembleFunction, {
      payload: handlerEvent<AssembleDatasetEvent>({
        rawBucket: props.rawBucket.bucketName,
        datasetBucket: datasetBucket.bucketName,
        classes: props.classes,
        validationPercent,
      }),
      resultPath: '$.dataset',
    });
    this.explainHandlerError(assemble, 'DatasetError', {
      read: 'Read dataset error',
      explained: 'Dataset not usable',
    });
    this.catchFailures(assemble);
    this.startState = assemble;
    this.endStates = [assemble];
  }
}
