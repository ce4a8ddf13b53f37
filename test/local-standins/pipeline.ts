/**
 * Stand-ins for the parts local mode runs that have not landed on main yet: a state machine definition with
 * the same shapes as the synthesized one (Distributed Map over S3, waitForTaskToken labeling, .sync training,
 * quality gate, deployment with a DescribeEndpoint poll loop), minimal handlers built on the contracts, and a
 * label import. They exist only so the local harness can be tested end to end; each is replaced by the real
 * part as it lands.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import sharp from 'sharp';
import {
  FindUnlabeledEvent,
  PENDING_LABEL_REQUEST_KEY,
  PendingLabelRequest,
  PreprocessEvent,
  QualityGateEvent,
  RequestLabelsEvent,
  imageKeyFor,
  labelKeyFor,
} from '../../lambda/shared/contracts';
import type { CocoFile } from '../../scripts/local/dataset';
import type { Handler } from '../../scripts/local/runner';

const lambdaArn = (dir: string) => `arn:aws:lambda:us-east-1:123456789012:function:${dir}`;

/** Names the stand-in definition needs. */
export interface StandInNames {
  readonly rawBucket: string;
  readonly datasetBucket: string;
  readonly artifactsBucket: string;
  readonly endpointName: string;
  readonly liveModelParameter: string;
}

/** A definition shaped like the synthesized pipeline's. */
export function standInDefinition(n: StandInNames): Record<string, unknown> {
  const payload = (fn: string, Payload: unknown) => ({ FunctionName: lambdaArn(fn), Payload });
  return {
    StartAt: 'Create topic',
    States: {
      'Create topic': {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:sns:createTopic',
        Parameters: { Name: 'standin' },
        ResultPath: null,
        Next: 'Preprocess images',
      },
      'Preprocess images': {
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:listObjectsV2',
          Parameters: { Bucket: n.rawBucket, Prefix: 'raw/' },
        },
        ItemBatcher: {
          MaxItemsPerBatch: 10,
          BatchInput: { rawBucket: n.rawBucket, datasetBucket: n.datasetBucket, maxSide: 1024 },
        },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' },
          StartAt: 'Preprocess batch',
          States: {
            'Preprocess batch': {
              Type: 'Task',
              Resource: 'arn:aws:states:::lambda:invoke',
              Parameters: payload('preprocess', { 'Items.$': '$.Items', 'BatchInput.$': '$.BatchInput' }),
              ResultSelector: { 'result.$': '$.Payload' },
              OutputPath: '$.result',
              End: true,
            },
          },
        },
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: n.datasetBucket, Prefix: 'reports/map-runs' },
        },
        ToleratedFailurePercentage: 5,
        ResultPath: '$.preprocess',
        Next: 'Find unlabeled images',
      },
      'Find unlabeled images': {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: payload('find-unlabeled', {
          rawBucket: n.rawBucket,
          datasetBucket: n.datasetBucket,
          'executionName.$': '$$.Execution.Name',
        }),
        ResultSelector: { 'result.$': '$.Payload' },
        ResultPath: '$.unlabeled',
        OutputPath: '$',
        Next: 'Any unlabeled?',
      },
      'Any unlabeled?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.unlabeled.result.count', NumericGreaterThan: 0, Next: 'Request labels' }],
        Default: 'Assemble dataset',
      },
      'Request labels': {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters: payload('request-labels', {
          'taskToken.$': '$$.Task.Token',
          'executionName.$': '$$.Execution.Name',
          'unlabeled.$': '$.unlabeled.result',
          rawBucket: n.rawBucket,
          datasetBucket: n.datasetBucket,
          topicArn: 'arn:aws:sns:us-east-1:123456789012:standin',
        }),
        ResultPath: '$.labels',
        Next: 'Assemble dataset',
      },
      'Assemble dataset': {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: payload('assemble-dataset', {
          datasetBucket: n.datasetBucket,
          rawBucket: n.rawBucket,
          classes: ['logo'],
          validationPercent: 20,
        }),
        ResultSelector: { 'result.$': '$.Payload' },
        ResultPath: '$.dataset',
        Next: 'Train',
      },
      Train: {
        Type: 'Task',
        Resource: 'arn:aws:states:::sagemaker:createTrainingJob.sync',
        Parameters: {
          'TrainingJobName.$': "States.Format('train-{}', $$.Execution.Name)",
          AlgorithmSpecification: { TrainingImage: 'local', TrainingInputMode: 'File' },
          HyperParameters: { classes: '["logo"]', epochs: '2' },
          InputDataConfig: [
            {
              ChannelName: 'train',
              DataSource: {
                S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `s3://${n.datasetBucket}/manifests/train/` },
              },
            },
            {
              ChannelName: 'images',
              DataSource: {
                S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `s3://${n.datasetBucket}/images/` },
              },
            },
          ],
          OutputDataConfig: { S3OutputPath: `s3://${n.artifactsBucket}/models/` },
          ResourceConfig: { InstanceCount: 1, InstanceType: 'ml.p3.2xlarge', VolumeSizeInGB: 30 },
          RoleArn: 'arn:aws:iam::123456789012:role/training',
          StoppingCondition: { MaxRuntimeInSeconds: 3600 },
        },
        ResultPath: '$.training',
        Next: 'Quality gate',
      },
      'Quality gate': {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: payload('quality-gate', {
          'finalMetrics.$': '$.training.FinalMetricDataList',
          minMap: 0,
          tolerance: 0.02,
        }),
        ResultSelector: { 'result.$': '$.Payload' },
        ResultPath: '$.gate',
        Next: 'Accept?',
      },
      'Accept?': {
        Type: 'Choice',
        Choices: [{ Variable: '$.gate.result.accept', BooleanEquals: true, Next: 'Create model' }],
        Default: 'Notify',
      },
      'Create model': {
        Type: 'Task',
        Resource: 'arn:aws:states:::sagemaker:createModel',
        Parameters: {
          'ModelName.$': '$.training.TrainingJobName',
          ExecutionRoleArn: 'arn:aws:iam::123456789012:role/model',
          PrimaryContainer: {
            Image: 'local',
            'ModelDataUrl.$': '$.training.ModelArtifacts.S3ModelArtifacts',
            Environment: { 'MODEL_VERSION.$': '$.training.TrainingJobName' },
          },
        },
        ResultPath: null,
        Next: 'Create endpoint config',
      },
      'Create endpoint config': {
        Type: 'Task',
        Resource: 'arn:aws:states:::sagemaker:createEndpointConfig',
        Parameters: {
          'EndpointConfigName.$': '$.training.TrainingJobName',
          ProductionVariants: [
            {
              VariantName: 'AllTraffic',
              'ModelName.$': '$.training.TrainingJobName',
              InitialInstanceCount: 1,
              InstanceType: 'ml.m5.xlarge',
            },
          ],
        },
        ResultPath: null,
        Next: 'Endpoint exists?',
      },
      'Endpoint exists?': {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:sagemaker:describeEndpoint',
        Parameters: { EndpointName: n.endpointName },
        ResultPath: null,
        Catch: [
          { ErrorEquals: ['SageMaker.AmazonSageMakerException'], ResultPath: null, Next: 'Create endpoint' },
        ],
        Next: 'Update endpoint',
      },
      'Create endpoint': {
        Type: 'Task',
        Resource: 'arn:aws:states:::sagemaker:createEndpoint',
        Parameters: { EndpointName: n.endpointName, 'EndpointConfigName.$': '$.training.TrainingJobName' },
        ResultPath: null,
        Next: 'Wait for endpoint',
      },
      'Update endpoint': {
        Type: 'Task',
        Resource: 'arn:aws:states:::sagemaker:updateEndpoint',
        Parameters: { EndpointName: n.endpointName, 'EndpointConfigName.$': '$.training.TrainingJobName' },
        ResultPath: null,
        Next: 'Wait for endpoint',
      },
      'Wait for endpoint': { Type: 'Wait', Seconds: 30, Next: 'Describe endpoint' },
      'Describe endpoint': {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:sagemaker:describeEndpoint',
        Parameters: { EndpointName: n.endpointName },
        ResultSelector: { 'status.$': '$.EndpointStatus' },
        ResultPath: '$.endpoint',
        Next: 'In service?',
      },
      'In service?': {
        Type: 'Choice',
        Choices: [
          { Variable: '$.endpoint.status', StringEquals: 'InService', Next: 'Record live model' },
          { Variable: '$.endpoint.status', StringEquals: 'Failed', Next: 'Deployment failed' },
        ],
        Default: 'Wait for endpoint',
      },
      'Deployment failed': { Type: 'Fail', Error: 'DeploymentFailed' },
      'Record live model': {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:ssm:putParameter',
        Parameters: {
          Name: n.liveModelParameter,
          'Value.$': 'States.JsonToString($.gate.result)',
          Type: 'String',
          Overwrite: true,
        },
        ResultPath: null,
        Next: 'Notify',
      },
      Notify: {
        Type: 'Task',
        Resource: 'arn:aws:states:::sns:publish',
        Parameters: {
          TopicArn: 'arn:aws:sns:us-east-1:123456789012:standin',
          'Message.$': "States.Format('gate: {}', $.gate.result.reason)",
        },
        ResultPath: null,
        End: true,
      },
    },
  };
}

const s3 = () => new S3Client({});

async function json<T>(bucket: string, key: string): Promise<T> {
  const object = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await object.Body!.transformToString()) as T;
}

async function keys(bucket: string, prefix: string): Promise<string[]> {
  const page = await s3().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key!);
}

/** Minimal handlers on the contracts (clients made per call, so the environment local mode sets applies). */
export const standInHandlers: Record<string, Handler> = {
  async preprocess(event) {
    const { Items, BatchInput } = event as PreprocessEvent;
    let processed = 0;
    let skipped = 0;
    for (const item of Items) {
      const key = imageKeyFor(item.Key);
      const existing = await keys(BatchInput.datasetBucket, key);
      if (existing.includes(key)) {
        skipped++;
        continue;
      }
      const raw = await s3().send(new GetObjectCommand({ Bucket: BatchInput.rawBucket, Key: item.Key }));
      const image = sharp(Buffer.from(await raw.Body!.transformToByteArray())).grayscale();
      const { width, height } = await image.metadata();
      await s3().send(
        new PutObjectCommand({
          Bucket: BatchInput.datasetBucket,
          Key: key,
          Body: await image.jpeg().toBuffer(),
          Metadata: {
            width: String(width),
            height: String(height),
            'source-key': item.Key,
            'source-etag': String(item.Etag),
          },
        }),
      );
      processed++;
    }
    return { processed, skipped, failed: [] };
  },
  async 'find-unlabeled'(event) {
    const { datasetBucket, executionName } = event as FindUnlabeledEvent;
    const labels = new Set(await keys(datasetBucket, 'labels/'));
    const unlabeled = (await keys(datasetBucket, 'images/')).filter((key) => !labels.has(labelKeyFor(key)));
    if (unlabeled.length === 0) return { count: 0, sample: [] };
    const manifestKey = `manifests/labeling/${executionName}.manifest`;
    const body = unlabeled
      .map((key) => JSON.stringify({ 'source-ref': `s3://${datasetBucket}/${key}` }))
      .join('\n');
    await s3().send(new PutObjectCommand({ Bucket: datasetBucket, Key: manifestKey, Body: body }));
    return { count: unlabeled.length, manifestKey, sample: unlabeled.slice(0, 20) };
  },
  async 'request-labels'(event) {
    const e = event as RequestLabelsEvent;
    const pending: PendingLabelRequest = {
      taskToken: e.taskToken,
      executionName: e.executionName,
      manifestKey: e.unlabeled.manifestKey!,
      count: e.unlabeled.count,
      requestedAt: new Date().toISOString(),
    };
    await s3().send(
      new PutObjectCommand({
        Bucket: e.datasetBucket,
        Key: PENDING_LABEL_REQUEST_KEY,
        Body: JSON.stringify(pending),
      }),
    );
    await new SNSClient({})
      .send(new PublishCommand({ TopicArn: e.topicArn, Message: `${e.unlabeled.count} images need labels` }))
      .catch(() => undefined);
    return null;
  },
  async 'assemble-dataset'(event) {
    const { datasetBucket } = event as { datasetBucket: string };
    const labelKeys = await keys(datasetBucket, 'labels/');
    const lines = await Promise.all(
      labelKeys.map(async (key) => JSON.stringify(await json(datasetBucket, key))),
    );
    await s3().send(
      new PutObjectCommand({
        Bucket: datasetBucket,
        Key: 'manifests/train/train.manifest',
        Body: lines.join('\n'),
      }),
    );
    return {
      images: lines.length,
      boxes: 0,
      train: lines.length,
      validation: 0,
      trainManifestPrefix: '',
      validationManifestPrefix: '',
    };
  },
  async 'quality-gate'(event) {
    const e = event as QualityGateEvent;
    const map = e.finalMetrics.find((m) => m.MetricName === 'best_val_mAP')?.Value ?? 0;
    return { accept: map >= e.minMap, map, liveMap: null, reason: `mAP ${map}` };
  },
  async detect(event) {
    const e = event as APIGatewayProxyEvent;
    await new SSMClient({}).send(new GetParameterCommand({ Name: process.env.LIVE_MODEL_PARAMETER! }));
    const answer = await new SageMakerRuntimeClient({}).send(
      new InvokeEndpointCommand({
        EndpointName: process.env.ENDPOINT_NAME!,
        Body: Buffer.from(e.body ?? '', e.isBase64Encoded ? 'base64' : 'utf8'),
        ContentType: e.headers['content-type'],
      }),
    );
    return {
      statusCode: 200,
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from(answer.Body!).toString('utf8'),
    };
  },
};

/** A label import on the contracts: reads the pending request, writes a label document per image, sends success. */
export function standInImport(datasetBucket: string) {
  return async (labelFile: string): Promise<void> => {
    const { readFileSync } = await import('fs');
    const coco = JSON.parse(readFileSync(labelFile, 'utf8')) as CocoFile;
    const pending = await json<PendingLabelRequest>(datasetBucket, PENDING_LABEL_REQUEST_KEY);
    for (const image of coco.images) {
      const imageKey = imageKeyFor(`raw/${image.file_name}`);
      const boxes = coco.annotations.filter((a) => a.image_id === image.id);
      await s3().send(
        new PutObjectCommand({
          Bucket: datasetBucket,
          Key: labelKeyFor(imageKey),
          Body: JSON.stringify({
            'source-ref': `s3://${datasetBucket}/${imageKey}`,
            annotations: boxes.map((b) => ({
              class_id: 0,
              left: b.bbox[0],
              top: b.bbox[1],
              width: b.bbox[2],
              height: b.bbox[3],
            })),
          }),
        }),
      );
    }
    await new SFNClient({}).send(
      new SendTaskSuccessCommand({
        taskToken: pending.taskToken,
        output: JSON.stringify({ imported: coco.images.length, empty: 0, format: 'coco' }),
      }),
    );
  };
}
