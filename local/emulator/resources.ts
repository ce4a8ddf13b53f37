import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { loadPipelineDefinition } from '../../scripts/local/definition';
import { CfnResource, CfnTemplate, TemplateResolver, handlerDirOf, resourcesOfType } from './template';

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
  /** The lambda/<folder> whose handler it runs. */
  readonly handlerDir: string;
  /** Its environment variables, resolved. */
  readonly environment: Record<string, string>;
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
 * Creates on moto what the templates declare and the pipeline needs at run time: every bucket (versioned when
 * the template says so), every SNS topic and every SSM parameter with its initial value. Returns a resolver
 * that maps template references to those local resources, and the app's Lambda functions with their resolved
 * environments and the handler folder each runs.
 */
export async function createLocalResources(
  templates: Record<string, CfnTemplate>,
  assemblyDir: string,
  dirs: string[],
): Promise<LocalResources> {
  const resolver = new TemplateResolver(
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
      const handlerDir = handlerDirOf(resource, assemblyDir, dirs, logicalId);
      // Functions CDK adds for itself (custom resource providers, log retention) run no code of ours.
      if (!handlerDir) continue;
      const variables =
        (resource.Properties?.Environment as { Variables?: unknown } | undefined)?.Variables ?? {};
      functions.push({
        stack,
        logicalId,
        arn: physicalValue(stack, logicalId, resource, 'Arn') as string,
        handlerDir,
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

/**
 * The local value of every reference in a template fragment, keyed as {@link loadPipelineDefinition} looks
 * them up: `Ref`s by logical id (or pseudo parameter), `Fn::GetAtt`s by `<logical id>.<attribute>`,
 * `Fn::ImportValue`s by export name, and the `${...}` names of `Fn::Sub`.
 */
export function referenceValues(
  fragment: unknown,
  stack: string,
  resolver: TemplateResolver,
): Record<string, string> {
  const values: Record<string, string> = {};
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const object = node as Record<string, unknown>;
    if (typeof object.Ref === 'string') values[object.Ref] = String(resolver.resolve(object, stack));
    const getAtt = object['Fn::GetAtt'];
    if (getAtt) {
      const [id, ...attr] = typeof getAtt === 'string' ? getAtt.split('.') : (getAtt as string[]);
      values[`${id}.${attr.join('.')}`] = String(resolver.resolve(object, stack));
    }
    if (object['Fn::ImportValue'] !== undefined) {
      values[String(resolver.resolve(object['Fn::ImportValue'], stack))] = String(
        resolver.resolve(object, stack),
      );
    }
    const sub = object['Fn::Sub'];
    if (typeof sub === 'string') {
      for (const [, name] of sub.matchAll(/\$\{([^}!]+)\}/g)) {
        const [id, ...attr] = name.split('.');
        const ref = attr.length ? { 'Fn::GetAtt': [id, attr.join('.')] } : { Ref: id };
        values[name] = String(resolver.resolve(ref, stack));
      }
    }
    Object.values(object).forEach(visit);
  };
  visit(fragment);
  return values;
}

/**
 * The state machine definition of `stack`, taken from its synthesized template by the pipeline's own loader
 * ({@link loadPipelineDefinition}), with every reference substituted by its local value.
 */
export function stateMachineDefinition(
  templates: Record<string, CfnTemplate>,
  stack: string,
  resolver: TemplateResolver,
): { definition: Record<string, unknown>; arn: string; name: string } {
  const machines = resourcesOfType(templates[stack], 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) {
    throw new Error(`Expected one state machine in stack ${stack}, found ${machines.length}`);
  }
  const [logicalId, resource] = machines[0];
  const substitutions = referenceValues(resource.Properties?.DefinitionString, stack, resolver);
  const definition = loadPipelineDefinition(templates[stack] as never, substitutions);
  const unresolved = /"<[^"<>]+>"|<[A-Za-z0-9:.]+>/.exec(JSON.stringify(definition));
  if (unresolved) throw new Error(`The definition keeps an unresolved reference ${unresolved[0]}`);
  return {
    definition: definition as unknown as Record<string, unknown>,
    arn: physicalValue(stack, logicalId, resource, 'Arn') as string,
    name: physicalValue(stack, logicalId, resource, 'Name') as string,
  };
}
