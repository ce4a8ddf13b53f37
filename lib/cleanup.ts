import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { pipelineFunction, runResourceArn, STACK_TAG_KEY } from './pipeline-tasks';

/** Properties of {@link RuntimeResourceCleanup}. */
export interface RuntimeResourceCleanupProps {
  /** The endpoint the pipeline deploys to. */
  readonly endpointName: string;
  /** Lowercase prefix of the models and endpoint configs the pipeline names. */
  readonly namePrefix: string;
}

/**
 * A custom resource that, when the stack is deleted, deletes what the pipeline created at run time and
 * CloudFormation does not know about: the endpoint, and the endpoint configs and models tagged with this stack.
 * Data in the buckets is not touched.
 */
export class RuntimeResourceCleanup extends Construct {
  constructor(scope: Construct, id: string, props: RuntimeResourceCleanupProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const arn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'sagemaker', resource, resourceName });

    const fn = pipelineFunction(this, 'Function', {
      handler: 'cleanup',
      timeout: Duration.minutes(10),
      // The handler deletes the endpoint by name, and the models and endpoint configs tagged
      // `logo-detection:stack=<STACK_NAME>` (STACK_TAG_KEY).
      environment: { ENDPOINT_NAME: props.endpointName, STACK_NAME: stack.stackName },
    });
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['sagemaker:DescribeEndpoint'],
        resources: [arn('endpoint', props.endpointName.toLowerCase())],
      }),
    );
    // Deletes only what is named like this stack's resources and carries its tag (aws:ResourceTag applies to
    // SageMaker endpoints, endpoint configs and models, per the Service Authorization Reference for SageMaker),
    // so another stack's cannot be deleted even if its names matched. A missing endpoint carries no tag, so its
    // delete is refused rather than answered "not found": the handler describes it first.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['sagemaker:DeleteEndpoint', 'sagemaker:DeleteEndpointConfig', 'sagemaker:DeleteModel'],
        resources: [
          arn('endpoint', props.endpointName.toLowerCase()),
          runResourceArn(this, 'endpoint-config', props.namePrefix, 'config'),
          runResourceArn(this, 'model', props.namePrefix, 'model'),
        ],
        conditions: { StringEquals: { [`aws:ResourceTag/${STACK_TAG_KEY}`]: stack.stackName } },
      }),
    );
    // Finding this stack's models and configs means reading the tags of every one in the account.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['sagemaker:ListTags'],
        resources: [arn('endpoint-config', '*'), arn('model', '*')],
      }),
    );
    // SageMaker's List* actions have no resource-level permissions.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['sagemaker:ListEndpointConfigs', 'sagemaker:ListModels'],
        resources: ['*'],
      }),
    );

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention: logs.RetentionDays.ONE_YEAR }),
    });
    new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::PipelineRuntimeCleanup',
      properties: { EndpointName: props.endpointName, NamePrefix: props.namePrefix },
    });
  }
}
