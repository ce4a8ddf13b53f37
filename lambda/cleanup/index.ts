import {
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  ListTagsCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { isNotFound, mapLimit } from '../shared/aws';
import { STACK_TAG_KEY } from '../../contracts';

const sagemaker = new SageMakerClient({});

/** A model or endpoint config the pipeline created. */
interface Resource {
  readonly name: string;
  readonly arn: string;
}

/** What {@link deleteRuntimeResources} removed (already-gone resources are not counted). */
export interface CleanupSummary {
  readonly endpoint: boolean;
  readonly endpointConfigs: string[];
  readonly models: string[];
}

/** Stack name from a CloudFormation stack ARN: `arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`. */
export function stackNameFromId(stackId: string): string {
  const name = /:stack\/([^/]+)\//.exec(stackId)?.[1];
  if (!name) throw new Error(`Not a CloudFormation stack ARN: ${stackId}`);
  return name;
}

/** Runs a call on one resource, treating "does not exist" as done. Returns whether the resource was there. */
async function ifPresent(send: () => Promise<unknown>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Deletes the endpoint if it exists. The role may delete only an endpoint tagged with the stack, and one that
 * does not exist carries no tag, so its delete would be refused rather than answered "not found": it is described
 * first.
 */
async function deleteEndpoint(endpointName: string): Promise<boolean> {
  const exists = await ifPresent(() =>
    sagemaker.send(new DescribeEndpointCommand({ EndpointName: endpointName })),
  );
  return exists && ifPresent(() => sagemaker.send(new DeleteEndpointCommand({ EndpointName: endpointName })));
}

/** Every resource of a kind, following NextToken. */
async function listAll(kind: 'model' | 'config'): Promise<Resource[]> {
  const all: Resource[] = [];
  let token: string | undefined;
  do {
    if (kind === 'model') {
      const page = await sagemaker.send(new ListModelsCommand({ NextToken: token, MaxResults: 100 }));
      for (const m of page.Models ?? [])
        if (m.ModelName && m.ModelArn) all.push({ name: m.ModelName, arn: m.ModelArn });
      token = page.NextToken;
    } else {
      const page = await sagemaker.send(
        new ListEndpointConfigsCommand({ NextToken: token, MaxResults: 100 }),
      );
      for (const c of page.EndpointConfigs ?? []) {
        if (c.EndpointConfigName && c.EndpointConfigArn)
          all.push({ name: c.EndpointConfigName, arn: c.EndpointConfigArn });
      }
      token = page.NextToken;
    }
  } while (token);
  return all;
}

/** The resources whose tags include `logo-detection:stack=<stackName>`. */
async function tagged(resources: readonly Resource[], stackName: string): Promise<Resource[]> {
  const matches = await mapLimit(resources, 4, async (resource) => {
    try {
      const tags = await sagemaker.send(new ListTagsCommand({ ResourceArn: resource.arn }));
      return (tags.Tags ?? []).some((t) => t.Key === STACK_TAG_KEY && t.Value === stackName);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  });
  return resources.filter((_, i) => matches[i]);
}

/**
 * Deletes the endpoint by name, then every endpoint config and model tagged `logo-detection:stack=<stackName>`
 * (the state machine tags each it creates). Anything already gone is skipped; other errors are thrown.
 */
export async function deleteRuntimeResources(
  endpointName: string,
  stackName: string,
): Promise<CleanupSummary> {
  const endpoint = await deleteEndpoint(endpointName);
  const configs = await tagged(await listAll('config'), stackName);
  const deletedConfigs = await mapLimit(configs, 4, (c) =>
    ifPresent(() => sagemaker.send(new DeleteEndpointConfigCommand({ EndpointConfigName: c.name }))),
  );
  const models = await tagged(await listAll('model'), stackName);
  const deletedModels = await mapLimit(models, 4, (m) =>
    ifPresent(() => sagemaker.send(new DeleteModelCommand({ ModelName: m.name }))),
  );
  return {
    endpoint,
    endpointConfigs: configs.filter((_, i) => deletedConfigs[i]).map((c) => c.name),
    models: models.filter((_, i) => deletedModels[i]).map((m) => m.name),
  };
}

/**
 * Custom resource handler (CDK Provider framework): on stack deletion, removes the endpoint, endpoint configs
 * and models the pipeline created at run time; Create and Update do nothing.
 * Environment: `ENDPOINT_NAME`, the endpoint's name; `STACK_NAME` (optional), the tag value to match, by default
 * the name of the stack the event comes from.
 */
export async function handler(
  event: CloudFormationCustomResourceEvent,
): Promise<{ PhysicalResourceId: string }> {
  const endpointName = process.env.ENDPOINT_NAME;
  if (!endpointName)
    throw new Error('ENDPOINT_NAME is not set: the name of the endpoint to delete with the stack');
  const physicalResourceId =
    event.RequestType === 'Create' ? `${endpointName}-runtime-cleanup` : event.PhysicalResourceId;
  if (event.RequestType === 'Delete') {
    const stackName = process.env.STACK_NAME || stackNameFromId(event.StackId);
    const summary = await deleteRuntimeResources(endpointName, stackName);
    console.log(JSON.stringify({ message: 'Deleted run-time SageMaker resources', stackName, ...summary }));
  }
  return { PhysicalResourceId: physicalResourceId };
}
