import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PREFIXES, PublishReportEvent } from '../contracts';
import { handlerEvent } from './handler-event';
import { invoke, pipelineFunction } from './pipeline-tasks';
import { PipelineStage } from './stage';

/** Properties of {@link EvaluationReport}. */
export interface EvaluationReportProps {
  /** Holds the model tarballs under `models/` and receives the reports under `reports/`. */
  readonly artifactsBucket: s3.IBucket;
  /** The key the training job encrypts `model.tar.gz` with. */
  readonly key: kms.IKey;
  /** Lowercase prefix of the run's SageMaker resource names: the training jobs' names start with it. */
  readonly namePrefix: string;
}

/**
 * The report stage, between training and the quality gate: `publish-report` copies the evaluation report the
 * training container wrote into `model.tar.gz` (`report.html`, `evaluation.json`) to the artifacts bucket's
 * `reports/<training job name>/`, and puts at `$.evaluation` ({@link PublishReportResult}) where it is, AP per
 * class, the calibrated threshold and which variant serves, for the live-model record and the notifications. A model
 * without a report goes on all the same.
 */
export class EvaluationReport extends PipelineStage {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];

  constructor(scope: Construct, id: string, props: EvaluationReportProps) {
    super(scope, id, 'report');
    const { artifactsBucket, key, namePrefix } = props;
    const fn = pipelineFunction(this, 'Function', {
      handler: 'publish-report',
      // Streams the tarball: memory holds the two report files, not the model.
      memorySize: 512,
      timeout: Duration.minutes(5),
    });
    // Reads only this stack's training jobs' model tarballs, and writes only under reports/ (no delete: a report
    // is written once, and the bucket is versioned).
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [
          artifactsBucket.arnForObjects(`${PREFIXES.models}${namePrefix}-train-*/output/model.tar.gz`),
        ],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [artifactsBucket.arnForObjects(`${PREFIXES.evaluationReports}*`)],
      }),
    );
    // The tarball is encrypted with the pipeline's key; decrypting is allowed only through S3.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );

    const publish = invoke(this, 'Publish evaluation report', fn, {
      payload: handlerEvent<PublishReportEvent>({
        trainingJobName: sfn.JsonPath.stringAt('$.training.TrainingJobName'),
        modelArtifacts: sfn.JsonPath.stringAt('$.training.ModelArtifacts.S3ModelArtifacts'),
        finalMetrics: sfn.JsonPath.objectAt('$.training.FinalMetricDataList'),
        reportBucket: artifactsBucket.bucketName,
      }),
      resultPath: '$.evaluation',
    });
    this.catchFailures(publish);
    this.startState = publish;
    this.endStates = [publish];
  }
}
