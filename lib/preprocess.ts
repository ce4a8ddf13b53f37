import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PREFIXES, PREPROCESS_RESULTS_PREFIX, PreprocessEvent, PreprocessReportEvent } from '../contracts';
import { PreprocessConfig } from './config';
import { handlerEvent } from './handler-event';
import { invoke, pipelineFunction } from './pipeline-tasks';
import { PipelineStage } from './stage';

/**
 * A ResultWriterV2 whose permissions cover only the objects under its prefix: CDK's lets the state machine put
 * and get every object in the bucket, here the dataset bucket's labels and manifests too. Step Functions writes
 * the results at `<prefix>/<map run id>/`.
 */
class PrefixResultWriter extends sfn.ResultWriterV2 {
  public override providePolicyStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        resources: [this.bucket!.arnForObjects(`${this.prefix}/*`)],
      }),
    ];
  }
}

/** Properties of {@link Preprocess}. */
export interface PreprocessProps {
  readonly config: PreprocessConfig;
  /** Raw uploads; read, never written. */
  readonly rawBucket: s3.IBucket;
  /** Receives the images under `images/` and the map's results under `reports/`. */
  readonly datasetBucket: s3.IBucket;
}

/**
 * The preprocess stage: a Distributed Map lists `raw/` and hands batches of keys to the `preprocess` Lambda
 * (grayscale, EXIF orientation, resize), then `preprocess-report` collects the batches' results into one report
 * and fails the run (`PreprocessError`) when more than `toleratedFailurePercentage` % of the files failed with an
 * error. Result at `$.preprocess` ({@link PreprocessReportResult}).
 */
export class Preprocess extends PipelineStage {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, props: PreprocessProps) {
    super(scope, id, 'preprocess');
    const { config, rawBucket, datasetBucket } = props;
    const buckets = { rawBucket: rawBucket.bucketName, datasetBucket: datasetBucket.bucketName };

    const preprocess = pipelineFunction(this, 'Function', {
      handler: 'preprocess',
      memorySize: 2048,
      timeout: Duration.minutes(5),
      bundling: {
        // sharp is native: install it next to the bundle instead of bundling it, and make npm fetch its
        // linux-x64 glibc build (Lambda's) whatever machine synthesizes, without Docker.
        nodeModules: ['sharp'],
        forceDockerBundling: false,
        environment: { npm_config_os: 'linux', npm_config_cpu: 'x64', npm_config_libc: 'glibc' },
      },
    });
    // Read-only on raw: the pipeline never modifies an upload. Read and put (never delete) on images/.
    rawBucket.grantRead(preprocess, `${PREFIXES.raw}*`);
    datasetBucket.grantRead(preprocess, `${PREFIXES.images}*`);
    datasetBucket.grantPut(preprocess, `${PREFIXES.images}*`);

    const reportFunction = pipelineFunction(this, 'ReportFunction', { handler: 'preprocess-report' });
    datasetBucket.grantRead(reportFunction, `${PREFIXES.reports}*`);
    datasetBucket.grantPut(reportFunction, `${PREFIXES.reports}*`);

    const batchInput: PreprocessEvent['BatchInput'] = { ...buckets, maxSide: config.maxSide };
    const map = new sfn.DistributedMap(this, 'Preprocess raw images', {
      itemReader: new sfn.S3ObjectsItemReader({ bucket: rawBucket, prefix: PREFIXES.raw }),
      itemBatcher: new sfn.ItemBatcher({ maxItemsPerBatch: config.batchSize, batchInput }),
      maxConcurrency: config.maxConcurrency,
      // The Lambda reports every file's failure itself and never fails a batch for one file; a batch that fails
      // as a whole (a timeout) still has its files counted one by one, by the report, which applies
      // preprocessToleratedFailurePercentage to files. The map itself must then never stop the run.
      toleratedFailurePercentage: 100,
      resultWriterV2: new PrefixResultWriter({
        bucket: datasetBucket,
        prefix: PREPROCESS_RESULTS_PREFIX,
      }),
      resultSelector: { 'ResultWriterDetails.$': '$.ResultWriterDetails' },
      resultPath: '$.preprocessMap',
    });
    map.itemProcessor(
      invoke(this, 'Preprocess a batch', preprocess, {
        payload: handlerEvent<PreprocessEvent>({
          Items: sfn.JsonPath.objectAt('$.Items'),
          BatchInput: sfn.JsonPath.objectAt('$.BatchInput'),
        }),
      }),
    );

    const report = invoke(this, 'Summarize preprocessing', reportFunction, {
      payload: handlerEvent<PreprocessReportEvent>({
        ...buckets,
        executionName: sfn.JsonPath.executionName,
        resultWriterDetails: sfn.JsonPath.objectAt('$.preprocessMap.ResultWriterDetails'),
        toleratedFailurePercentage: config.toleratedFailurePercentage,
      }),
      resultPath: '$.preprocess',
    });
    this.explainHandlerError(report, 'PreprocessError', {
      read: 'Read preprocess error',
      explained: 'Too many preprocessing errors',
    });
    this.catchFailures(map, report);
    this.startState = map;
    this.endStates = map.next(report).endStates;
  }
}
