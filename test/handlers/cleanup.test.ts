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
import { mockClient } from 'aws-sdk-client-mock';
import { handler } from '../../lambda/cleanup';

const sagemaker = mockClient(SageMakerClient);
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/LogoDetectionPipeline/0a1b2c3d';
const arn = (kind: string, name: string) => `arn:aws:sagemaker:eu-west-1:123456789012:${kind}/${name}`;

function event(RequestType: 'Create' | 'Update' | 'Delete'): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: 'arn:provider',
    ResponseURL: 'https://example.com',
    StackId: STACK_ID,
    RequestId: 'r',
    LogicalResourceId: 'Cleanup',
    ResourceType: 'Custom::Cleanup',
    ResourceProperties: { ServiceToken: 'arn:provider' },
  };
  return RequestType === 'Create'
    ? { ...base, RequestType }
    : RequestType === 'Update'
      ? {
          ...base,
          RequestType,
          PhysicalResourceId: 'id-1',
          OldResourceProperties: { ServiceToken: 'arn:provider' },
        }
      : { ...base, RequestType, PhysicalResourceId: 'id-1' };
}

const notFound = (what: string) =>
  Object.assign(new Error(`Could not find ${what}`), { name: 'ValidationException' });

beforeEach(() => {
  sagemaker.reset();
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
  process.env.ENDPOINT_NAME = 'LogoDetectionPipeline-detector';
  delete process.env.STACK_NAME;
  const tags: Record<string, string> = {
    [arn('model', 'ours-1')]: 'LogoDetectionPipeline',
    [arn('model', 'ours-2')]: 'LogoDetectionPipeline',
    [arn('model', 'other-stack')]: 'SomeoneElse',
    [arn('endpoint-config', 'ours-config')]: 'LogoDetectionPipeline',
  };
  sagemaker.on(ListTagsCommand).callsFake(async ({ ResourceArn }) => ({
    Tags: tags[ResourceArn]
      ? [{ Key: 'logo-detection:stack', Value: tags[ResourceArn] }]
      : [{ Key: 'team', Value: 'x' }],
  }));
  sagemaker
    .on(ListModelsCommand)
    .resolvesOnce({
      Models: ['ours-1', 'unrelated'].map((n) => ({
        ModelName: n,
        ModelArn: arn('model', n),
        CreationTime: new Date(),
      })),
      NextToken: 'p2',
    })
    .resolvesOnce({
      Models: ['ours-2', 'other-stack'].map((n) => ({
        ModelName: n,
        ModelArn: arn('model', n),
        CreationTime: new Date(),
      })),
    });
  sagemaker.on(ListEndpointConfigsCommand).resolves({
    EndpointConfigs: ['ours-config', 'their-config'].map((n) => ({
      EndpointConfigName: n,
      EndpointConfigArn: arn('endpoint-config', n),
      CreationTime: new Date(),
    })),
  });
});

describe('cleanup', () => {
  test('on Delete, removes the endpoint and every model and endpoint config tagged with this stack', async () => {
    sagemaker.on(DeleteModelCommand, { ModelName: 'ours-2' }).rejects(notFound('model'));

    const result = await handler(event('Delete'));

    expect(result).toEqual({ PhysicalResourceId: 'id-1' });
    expect(sagemaker.commandCalls(DeleteEndpointCommand).map((c) => c.args[0].input)).toEqual([
      { EndpointName: 'LogoDetectionPipeline-detector' },
    ]);
    expect(
      sagemaker.commandCalls(DeleteEndpointConfigCommand).map((c) => c.args[0].input.EndpointConfigName),
    ).toEqual(['ours-config']);
    expect(sagemaker.commandCalls(DeleteModelCommand).map((c) => c.args[0].input.ModelName)).toEqual([
      'ours-1',
      'ours-2',
    ]);
  });

  test('an endpoint that is already gone is not an error', async () => {
    sagemaker.on(DeleteEndpointCommand).rejects(notFound('endpoint "LogoDetectionPipeline-detector"'));
    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: 'id-1' });
    expect(sagemaker.commandCalls(DeleteModelCommand)).toHaveLength(2);
  });

  test('an endpoint that was never created is not deleted: its delete would be refused, not answered not found', async () => {
    // The role may delete only an endpoint tagged with the stack, and a missing endpoint carries no tag.
    sagemaker.on(DescribeEndpointCommand).rejects(notFound('endpoint "LogoDetectionPipeline-detector"'));
    sagemaker
      .on(DeleteEndpointCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));

    await expect(handler(event('Delete'))).resolves.toEqual({ PhysicalResourceId: 'id-1' });
    expect(sagemaker.commandCalls(DeleteEndpointCommand)).toHaveLength(0);
    expect(sagemaker.commandCalls(DeleteModelCommand)).toHaveLength(2);
  });

  test('other errors fail the deletion', async () => {
    sagemaker
      .on(DeleteEndpointCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    await expect(handler(event('Delete'))).rejects.toThrow('not authorized');
  });

  test('Create and Update change nothing and keep a stable id', async () => {
    const created = await handler(event('Create'));
    const updated = await handler(event('Update'));
    expect(created.PhysicalResourceId).toBe('LogoDetectionPipeline-detector-runtime-cleanup');
    expect(updated.PhysicalResourceId).toBe('id-1');
    expect(sagemaker.calls()).toHaveLength(0);
  });
});
