import * as SageMaker from '@aws-sdk/client-sagemaker';
import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { MotoServer, startMoto } from '../emulator/moto';
import { LocalSageMaker } from '../emulator/sagemaker';

// The local SageMaker stand-in's control plane (moto) with a serverless endpoint config, as the pipeline creates it
// in endpointMode=serverless; serving is the same `serve` in both modes and is run by the end-to-end test.
jest.setTimeout(120000);

const savedEnv = { ...process.env };
let moto: MotoServer;
let sagemaker: LocalSageMaker;

beforeAll(async () => {
  const workDir = mkdtempSync(join(tmpdir(), 'serverless-'));
  moto = await startMoto(join(__dirname, '..', '..'), join(workDir, 'moto.log'));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
  });
  delete process.env.AWS_PROFILE;
  sagemaker = new LocalSageMaker({
    repoRoot: join(__dirname, '..', '..'),
    workDir,
    hyperparameterOverrides: {},
  });
  await sagemaker.call('createModel', {
    ModelName: 'logodet-abc123-model-1',
    ExecutionRoleArn: 'arn:aws:iam::123456789012:role/model',
    PrimaryContainer: {
      Image: 'detector:cpu',
      ModelDataUrl: 's3://artifacts/models/job/output/model.tar.gz',
    },
    EnableNetworkIsolation: false,
  });
});

afterAll(async () => {
  await sagemaker?.stop();
  await moto?.stop();
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

const serverlessConfig = (name: string, memory: number) => ({
  EndpointConfigName: name,
  KmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  ProductionVariants: [
    {
      VariantName: 'AllTraffic',
      ModelName: 'logodet-abc123-model-1',
      ServerlessConfig: { MemorySizeInMB: memory, MaxConcurrency: 5 },
    },
  ],
});

describe('the local SageMaker stand-in in serverless mode', () => {
  test('accepts an endpoint config with one serverless variant and no instance type', async () => {
    await sagemaker.call('createEndpointConfig', serverlessConfig('logodet-abc123-config-1', 4096));
    const described = (await sagemaker.call('describeEndpointConfig', {
      EndpointConfigName: 'logodet-abc123-config-1',
    })) as { ProductionVariants: Record<string, unknown>[] };
    expect(described.ProductionVariants[0]).toMatchObject({
      ServerlessConfig: { MemorySizeInMB: 4096, MaxConcurrency: 5 },
    });
    expect(described.ProductionVariants[0].InstanceType).toBeUndefined();
  });

  test('refuses a memory size SageMaker does not offer, as a SageMaker error', async () => {
    await expect(
      sagemaker.call('createEndpointConfig', serverlessConfig('logodet-abc123-config-2', 1500)),
    ).rejects.toMatchObject({
      name: expect.stringMatching(/^SageMaker\./),
      message: expect.stringContaining('MemorySizeInMB'),
    });
  });

  test('DescribeEndpoint of a serverless endpoint has the CurrentServerlessConfig the deploy stage tells modes apart by', async () => {
    // Created in moto directly: CreateEndpoint through the stand-in would also start `serve` for the model.
    await new SageMaker.SageMakerClient({}).send(
      new SageMaker.CreateEndpointCommand({
        EndpointName: 'LogoDetectionPipeline-detector',
        EndpointConfigName: 'logodet-abc123-config-1',
      }),
    );
    const endpoint = (await sagemaker.call('describeEndpoint', {
      EndpointName: 'LogoDetectionPipeline-detector',
    })) as { ProductionVariants: Record<string, unknown>[] };
    expect(endpoint.ProductionVariants[0].CurrentServerlessConfig).toEqual({
      MemorySizeInMB: 4096,
      MaxConcurrency: 5,
    });
  });
});
