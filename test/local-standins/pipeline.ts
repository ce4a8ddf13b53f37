/**
 * Stand-ins for the parts local mode runs that have not landed on main yet: a state machine definition with
 * the same shapes as the synthesized one (Distributed Map over S3, waitForTaskToken labeling, .sync training,
 * quality gate, deployment with a DescribeEndpoint poll loop). It exists only so the local harness can be
 * tested end to end with the real handlers, label import, container and API until the synthesized definition
 * lands.
 */
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
  const direct = (fn: string) => ({ Type: 'Task', Resource: lambdaArn(fn) });
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
              ...direct('preprocess'),
              Parameters: { 'Items.$': '$.Items', 'BatchInput.$': '$.BatchInput' },
              End: true,
            },
          },
        },
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: n.datasetBucket, Prefix: 'reports/map-runs' },
        },
        ToleratedFailurePercentage: 5,
        ResultSelector: { 'ResultWriterDetails.$': '$.ResultWriterDetails' },
        ResultPath: '$.preprocessMap',
        Next: 'Summarize preprocessing',
      },
      'Summarize preprocessing': {
        ...direct('preprocess-report'),
        Parameters: {
          rawBucket: n.rawBucket,
          datasetBucket: n.datasetBucket,
          'executionName.$': '$$.Execution.Name',
          'resultWriterDetails.$': '$.preprocessMap.ResultWriterDetails',
        },
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
          classes: ['logo'],
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
          HyperParameters: { classes: '["logo"]', epochs: '2', batch_size: '8', data_shape: '256', images_s3_prefix: `s3://${n.datasetBucket}/images/` },
          InputDataConfig: [
            {
              ChannelName: 'train',
              DataSource: {
                S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `s3://${n.datasetBucket}/manifests/train/` },
              },
            },
            {
              ChannelName: 'validation',
              DataSource: {
                S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `s3://${n.datasetBucket}/manifests/validation/` },
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
          { Variable: '$.endpoint.status', StringEquals: 'InService', Next: 'Describe live model' },
          { Variable: '$.endpoint.status', StringEquals: 'Failed', Next: 'Deployment failed' },
        ],
        Default: 'Wait for endpoint',
      },
      'Deployment failed': { Type: 'Fail', Error: 'DeploymentFailed' },
      'Describe live model': {
        Type: 'Pass',
        Parameters: {
          'version.$': '$.training.TrainingJobName',
          'map.$': '$.gate.result.map',
          endpointName: n.endpointName,
          'deployedAt.$': '$$.State.EnteredTime',
        },
        ResultPath: '$.live',
        Next: 'Record live model',
      },
      'Record live model': {
        Type: 'Task',
        Resource: 'arn:aws:states:::aws-sdk:ssm:putParameter',
        Parameters: {
          Name: n.liveModelParameter,
          'Value.$': 'States.JsonToString($.live)',
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
