import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { callDynamoDb } from './dynamodb';
import { CfnResource, CfnTemplate, TemplateResolver, resourcesOfType } from './template';

/** Account and region local mode pretends to be in (moto's default account). */
export const LOCAL_ACCOUNT = '123456789012';
/** Region local mode uses. */
export const LOCAL_REGION = 'us-east-1';

/** A Lambda function of the synthesized app, as local mode runs it. */
export interface LocalFunction {
  readonly stack: string;
  readonly logicalId: string;
  /** The ARN the state machine calls it by. */
  readonly arn: string;
  /** The code it runs: the name {@link createLocalResources}'s `handlerOf` gave it (a lambda/<folder> here). */
  readonly handlerDir: string;
  /** Its environment variables, resolved. */
  readonly environment: Record<string, string>;
  /** Its configured memory, in MB (Lambda's default, 128, when the template sets none). */
  readonly memorySize: number;
}

/** What local mode made of the synthesized templates. */
export interface LocalResources {
  readonly resolver: TemplateResolver;
  readonly functions: LocalFunction[];
  /** Bucket names by logical id. */
  readonly buckets: Record<string, string>;
}

function bucketName(stack: string, logicalId: string): string {
  return `${stack}-${logicalId}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63)
    .replace(/-+$/, '');
}

function parameterName(stack: string, logicalId: string, resource: CfnResource): string {
  const name = resource.Properties?.Name;
  return typeof name === 'string' ? name : `/${stack}/${logicalId}`;
}

/** Local stand-ins for the physical names and ARNs CloudFormation would assign. */
function physicalValue(stack: string, logicalId: string, resource: CfnResource, attribute?: string): unknown {
  const region = LOCAL_REGION;
  const account = LOCAL_ACCOUNT;
  switch (resource.Type) {
    case 'AWS::S3::Bucket': {
      const name = bucketName(stack, logicalId);
      if (!attribute) return name;
      if (attribute === 'Arn') return `arn:aws:s3:::${name}`;
      if (attribute === 'RegionalDomainName') return `${name}.s3.${region}.amazonaws.com`;
      return `${name}.s3.amazonaws.com`;
    }
    case 'AWS::DynamoDB::Table': {
      const name = `${stack}-${logicalId}`.slice(0, 255);
      if (attribute === 'Arn') return `arn:aws:dynamodb:${region}:${account}:table/${name}`;
      return name;
    }
    case 'AWS::SNS::Topic': {
      const arn = `arn:aws:sns:${region}:${account}:${logicalId}`;
      return attribute === 'TopicName' ? logicalId : arn;
    }
    case 'AWS::SSM::Parameter': {
      const name = parameterName(stack, logicalId, resource);
      if (attribute === 'Value') return resource.Properties?.Value;
      return name;
    }
    case 'AWS::Lambda::Function': {
      const name = `${stack}-${logicalId}`.slice(0, 64);
      return attribute === 'Arn' ? `arn:aws:lambda:${region}:${account}:function:${name}` : name;
    }
    case 'AWS::IAM::Role': {
      const name = `${stack}-${logicalId}`.slice(0, 64);
      return attribute === 'Arn' ? `arn:aws:iam::${account}:role/${name}` : name;
    }
    case 'AWS::StepFunctions::StateMachine': {
      const arn = `arn:aws:states:${region}:${account}:stateMachine:${stack}-${logicalId}`;
      return attribute === 'Name' ? `${stack}-${logicalId}` : arn;
    }
    case 'AWS::KMS::Key': {
      const id = `00000000-0000-4000-8000-${logicalId
        .replace(/[^0-9a-f]/gi, '')
        .toLowerCase()
        .padEnd(12, '0')
        .slice(0, 12)}`;
      return attribute === 'Arn' ? `arn:aws:kms:${region}:${account}:key/${id}` : id;
    }
    default:
      return attribute ? `arn:aws:local:${region}:${account}:${logicalId}/${attribute}` : logicalId;
  }
}

/**
 * Resolves template references to the local stand-ins of the physical names and ARNs CloudFormation would assign
 * (the names {@link createLocalResources} creates), in {@link LOCAL_REGION} and {@link LOCAL_ACCOUNT}.
 */
export function localResolver(templates: Record<string, CfnTemplate>): TemplateResolver {
  return new TemplateResolver(
    templates,
    {
      'AWS::Region': LOCAL_REGION,
      'AWS::AccountId': LOCAL_ACCOUNT,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::NoValue': '',
    },
    physicalValue,
  );
}

/**
 * Creates on moto what the templates declare and the pipeline needs at run time: every bucket (versioned when
 * the template says so), every DynamoDB table (its keys, on demand), every SNS topic and every SSM parameter with
 * its initial value. Returns a resolver
 * that maps template references to those local resources, and the Lambda functions with their resolved
 * environments and the code each runs: `handlerOf` names it, or returns undefined for a function that runs none
 * of the app's code (CDK's own custom resource providers), which is left out.
 */
export async function createLocalResources(
  templates: Record<string, CfnTemplate>,
  handlerOf: (resource: CfnResource, logicalId: string) => string | undefined,
): Promise<LocalResources> {
  const resolver = localResolver(templates);
  const s3 = new S3Client({});
  const sns = new SNSClient({});
  const ssm = new SSMClient({});
  const buckets: Record<string, string> = {};
  const functions: LocalFunction[] = [];
  for (const [stack, template] of Object.entries(templates)) {
    for (const [logicalId, resource] of resourcesOfType(template, 'AWS::S3::Bucket')) {
      const name = physicalValue(stack, logicalId, resource) as string;
      buckets[logicalId] = name;
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const versioning = resource.Properties?.VersioningConfiguration as { Status?: string } | undefined;
      if (versioning?.Status === 'Enabled') {
        await s3.send(
          new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }),
        );
      }
    }
    for (const [logicalId, resource] of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
      const { KeySchema, AttributeDefinitions } = resource.Properties ?? {};
      await callDynamoDb('CreateTable', {
        TableName: physicalValue(stack, logicalId, resource),
        KeySchema,
        AttributeDefinitions,
        BillingMode: 'PAY_PER_REQUEST',
      });
    }
    for (const [logicalId] of resourcesOfType(template, 'AWS::SNS::Topic')) {
      await sns.send(new CreateTopicCommand({ Name: logicalId }));
    }
    for (const [logicalId, resource] of resourcesOfType(template, 'AWS::SSM::Parameter')) {
      await ssm.send(
        new PutParameterCommand({
          Name: parameterName(stack, logicalId, resource),
          Value: String(resolver.resolve(resource.Properties?.Value, stack)),
          Type: 'String',
          Overwrite: true,
        }),
      );
    }
    for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      const handlerDir = handlerOf(resource, logicalId);
      if (!handlerDir) continue;
      const variables =
        (resource.Properties?.Environment as { Variables?: unknown } | undefined)?.Variables ?? {};
      functions.push({
        stack,
        logicalId,
        arn: physicalValue(stack, logicalId, resource, 'Arn') as string,
        handlerDir,
        memorySize: Number(resource.Properties?.MemorySize ?? 128),
        environment: Object.fromEntries(
          Object.entries(resolver.resolve(variables, stack) as Record<string, unknown>).map(([k, v]) => [
            k,
            String(v),
          ]),
        ),
      });
    }
  }
  return { resolver, functions, buckets };
}
