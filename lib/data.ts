import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ACCESS_LOG_PREFIXES } from '../contracts';

/**
 * Where each kind of object lives (contracts/s3-layout.ts), re-exported for the stage constructs that grant
 * access by prefix. Every stage reads and writes only its own prefixes.
 */

/** Properties of {@link DataBuckets}. */
export interface DataBucketsProps {
  /**
   * Delete the buckets and every object in them when the stack is deleted.
   * @default false - buckets are retained on `cdk destroy`
   */
  readonly destroyOnRemoval?: boolean;
  /**
   * Let the Ground Truth worker UI read dataset images from the browser (CORS GET from any origin).
   * @default false - no CORS rule
   */
  readonly labelingCors?: boolean;
  /**
   * Days a replaced or deleted object version is kept before it expires.
   * @default 90
   */
  readonly noncurrentVersionDays?: number;
}

/**
 * The project's stateful storage: raw uploads, the dataset, training artifacts and the access logs of all three.
 *
 * Every bucket blocks public access, requires TLS, is encrypted, versioned (an overwrite never loses data),
 * enforces bucket-owner object ownership, and expires old versions. Raw uploads get a bucket of their own so
 * the pipeline can be granted read-only access to them.
 */
export class DataBuckets extends Construct {
  /** Server access logs of the other three buckets. */
  public readonly logs: s3.Bucket;
  /** Raw uploads under `raw/`. */
  public readonly raw: s3.Bucket;
  /** Preprocessed images, labels, manifests and reports. */
  public readonly dataset: s3.Bucket;
  /** Pretrained weights, checkpoints and model artifacts. */
  public readonly artifacts: s3.Bucket;

  constructor(scope: Construct, id: string, props: DataBucketsProps = {}) {
    super(scope, id);
    const destroy = props.destroyOnRemoval ?? false;
    const noncurrentDays = props.noncurrentVersionDays ?? 90;
    if (!Number.isInteger(noncurrentDays) || noncurrentDays < 1) {
      throw new Error(`DataBuckets: noncurrentVersionDays must be a positive integer, got ${noncurrentDays}`);
    }
    const common: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: destroy,
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(noncurrentDays) },
        { abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    };

    // Access logs cannot be delivered to KMS-encrypted buckets, and a log bucket logging to itself loops.
    this.logs = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [...common.lifecycleRules!, { expiration: Duration.days(365) }],
    });

    this.raw = new s3.Bucket(this, 'Raw', {
      ...common,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: ACCESS_LOG_PREFIXES.raw,
    });

    this.dataset = new s3.Bucket(this, 'Dataset', {
      ...common,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: ACCESS_LOG_PREFIXES.dataset,
      cors: props.labelingCors
        ? [
            {
              allowedMethods: [s3.HttpMethods.GET],
              allowedOrigins: ['*'],
              exposedHeaders: ['Access-Control-Allow-Origin'],
            },
          ]
        : undefined,
    });

    this.artifacts = new s3.Bucket(this, 'Artifacts', {
      ...common,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: ACCESS_LOG_PREFIXES.artifacts,
    });
  }
}
