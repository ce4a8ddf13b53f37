import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AppConfig } from './config';
import { DataBuckets } from './data';

/** Properties of {@link DataStack}. */
export interface DataStackProps extends StackProps {
  readonly config: AppConfig;
}

/** The stateful half of the app: the buckets. Replacing the pipeline or the API never touches it. */
export class DataStack extends Stack {
  public readonly buckets: DataBuckets;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    this.buckets = new DataBuckets(this, 'Buckets', {
      destroyOnRemoval: props.config.dev,
      labelingCors: props.config.labeling.mode === 'groundtruth',
    });

    new CfnOutput(this, 'RawBucketName', {
      value: this.buckets.raw.bucketName,
      description: 'Upload photos under raw/ in this bucket.',
    });
    new CfnOutput(this, 'DatasetBucketName', {
      value: this.buckets.dataset.bucketName,
      description:
        'Preprocessed images, labels, manifests and reports; upload label files under label-imports/.',
    });
    new CfnOutput(this, 'ArtifactsBucketName', {
      value: this.buckets.artifacts.bucketName,
      description: 'Pretrained weights (pretrained/), checkpoints and trained models.',
    });
  }
}
