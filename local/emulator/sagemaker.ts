import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as SageMaker from '@aws-sdk/client-sagemaker';
import { ChildProcess, execFile, spawn } from 'child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { dirname, join, relative } from 'path';
import { createInterface } from 'readline';
import { promisify } from 'util';
import { METRIC_DEFINITIONS } from '../../contracts';
import { parseS3Uri } from '../../lambda/shared/aws';
import { stopChild, track } from './processes';
import { LOOPBACK, freePort, waitForHttp } from './net';
import { RuntimeShim, startRuntimeShim } from './runtime-shim';

const run = promisify(execFile);

/**
 * FinalMetricDataList as SageMaker builds it from a training log: for each metric definition, the last value
 * its regular expression captured.
 */
export function finalMetrics(
  log: string,
  definitions: readonly { Name: string; Regex: string }[] = METRIC_DEFINITIONS,
) {
  const metrics: { MetricName: string; Value: number; Timestamp: string }[] = [];
  for (const definition of definitions) {
    const matches = [...log.matchAll(new RegExp(definition.Regex, 'g'))];
    const last = matches[matches.length - 1];
    if (last)
      metrics.push({
        MetricName: definition.Name,
        Value: Number(last[1]),
        Timestamp: new Date().toISOString(),
      });
  }
  return metrics;
}

/** Error as Step Functions names a SageMaker integration error. */
export function sageMakerError(error: Error): Error {
  const modeled = ['ResourceNotFound', 'ResourceInUse', 'ResourceLimitExceeded', 'ConflictException'];
  const named = new Error(error.message);
  named.name = modeled.includes(error.name)
    ? `SageMaker.${error.name}`
    : 'SageMaker.AmazonSageMakerException';
  return named;
}

/** Drops the SDK's response metadata and turns dates into ISO strings, as Step Functions returns results. */
export function asTaskOutput(response: object): unknown {
  const rest = { ...(response as Record<string, unknown>) };
  delete rest.$metadata;
  return JSON.parse(JSON.stringify(rest));
}

/** A `serve` process answering for one endpoint. */
interface Deployment {
  readonly process: ChildProcess;
  readonly port: number;
  readonly modelName: string;
  ready: boolean;
  failure?: string;
}

/** What training and deployment report while they run. */
export interface SageMakerHooks {
  /** One line of the training log (every line, as SageMaker would send it to CloudWatch). */
  onTrainingLog?(line: string): void;
  /** Something worth telling the person running local mode. */
  onEvent?(message: string): void;
}

/** Options of {@link LocalSageMaker}. */
export interface LocalSageMakerOptions {
  readonly repoRoot: string;
  /** Scratch directory for training roots, model folders and logs. */
  readonly workDir: string;
  /** Hyperparameters that replace the synthesized ones for local runs (short CPU schedule). */
  readonly hyperparameterOverrides: Record<string, string>;
  readonly hooks?: SageMakerHooks;
}

/**
 * SageMaker on this machine: training jobs run the container's `train` on the CPU with channels downloaded from
 * moto's S3 and the model uploaded back like SageMaker does; the control plane (models, endpoint configs,
 * endpoints) is moto's, and every endpoint created or updated is served by the container's `serve` on a local
 * port, behind a runtime shim that speaks the SageMaker runtime REST API.
 */
export class LocalSageMaker {
  private readonly s3 = new S3Client({});
  private readonly client = new SageMaker.SageMakerClient({});
  private readonly deployments = new Map<string, Deployment>();
  private pending = new Map<string, Deployment>();
  private runtime: RuntimeShim | undefined;
  private deploymentCount = 0;
  private readonly overrides: Record<string, string>;
  private readonly binDir: string;
  /** `http://127.0.0.1:<port>` of the runtime shim, once started (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME). */
  runtimeEndpoint = '';
  /** What the last training job returned (DescribeTrainingJob-shaped). */
  lastTraining: { FinalMetricDataList: { MetricName: string; Value: number }[] } | undefined;
  /** The metrics.json the last training job wrote with its model (best mAP, counts of each split), if any. */
  lastModelMetrics: unknown;
  /** The model folder the last training job wrote (metrics.json, report.html, the exported graphs). */
  lastModelDir: string | undefined;

  constructor(private readonly options: LocalSageMakerOptions) {
    this.overrides = { ...options.hyperparameterOverrides };
    this.binDir = join(options.repoRoot, 'training-container', 'bin');
  }

  /** Replaces one synthesized hyperparameter in every later training job. */
  setHyperparameter(name: string, value: string): void {
    this.overrides[name] = value;
  }

  /** Starts the runtime shim. */
  async start(): Promise<void> {
    this.runtime = await startRuntimeShim((endpointName) => this.servingPort(endpointName));
    this.runtimeEndpoint = this.runtime.endpoint;
  }

  /** Stops every `serve` process and the runtime shim. */
  async stop(): Promise<void> {
    const all = [...this.deployments.values(), ...this.pending.values()];
    await Promise.all(all.map((deployment) => stopChild(deployment.process)));
    this.deployments.clear();
    this.pending.clear();
    await this.runtime?.close();
  }

  /** The port `serve` listens on for an endpoint, if it is in service. */
  servingPort(endpointName: string): number | undefined {
    const deployment = this.deployments.get(endpointName);
    return deployment?.ready ? deployment.port : undefined;
  }

  private async download(uri: string, into: string): Promise<number> {
    const { bucket, key } = parseS3Uri(uri);
    let count = 0;
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key || object.Key.endsWith('/')) continue;
        const body = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
        const rel =
          key && object.Key.startsWith(key) ? object.Key.slice(key.length).replace(/^\//, '') : object.Key;
        const target = join(into, rel || object.Key.split('/').pop()!);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, Buffer.from(await body.Body!.transformToByteArray()));
        count++;
      }
      token = page.NextContinuationToken;
    } while (token);
    return count;
  }

  /**
   * `createTrainingJob.sync`: runs the container's `train` with SageMaker's file layout under a scratch ML_ROOT,
   * uploads `model.tar.gz` to `<S3OutputPath>/<job>/output/`, and returns what DescribeTrainingJob would.
   */
  async trainingJob(params: Record<string, unknown>): Promise<unknown> {
    const jobName = String(params.TrainingJobName);
    const started = new Date();
    const root = join(this.options.workDir, `training-${jobName}`);
    mkdirSync(join(root, 'input', 'config'), { recursive: true });
    mkdirSync(join(root, 'model'), { recursive: true });
    mkdirSync(join(root, 'output'), { recursive: true });
    const hyperparameters = {
      ...((params.HyperParameters as Record<string, string>) ?? {}),
      ...this.overrides,
    };
    writeFileSync(
      join(root, 'input', 'config', 'hyperparameters.json'),
      JSON.stringify(hyperparameters, null, 2),
    );
    const channels =
      (params.InputDataConfig as {
        ChannelName: string;
        DataSource: { S3DataSource: { S3Uri: string } };
      }[]) ?? [];
    for (const channel of channels) {
      const dir = join(root, 'input', 'data', channel.ChannelName);
      mkdirSync(dir, { recursive: true });
      const count = await this.download(channel.DataSource.S3DataSource.S3Uri, dir);
      this.options.hooks?.onEvent?.(
        `channel ${channel.ChannelName}: ${count} files from ${channel.DataSource.S3DataSource.S3Uri}`,
      );
    }
    writeFileSync(
      join(root, 'input', 'config', 'inputdataconfig.json'),
      JSON.stringify(Object.fromEntries(channels.map((c) => [c.ChannelName, { TrainingInputMode: 'File' }]))),
    );

    const logFile = join(this.options.workDir, `${jobName}.log`);
    const log = createWriteStream(logFile);
    const python = join(this.options.repoRoot, '.venv', 'bin', 'python');
    const child = track(
      spawn(python, [join(this.binDir, 'train')], {
        cwd: this.options.repoRoot,
        env: { ...process.env, ML_ROOT: root, PYTHONUNBUFFERED: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const lines: string[] = [];
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        log.write(`${line}\n`);
        this.options.hooks?.onTrainingLog?.(line);
      });
    }
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    log.end();
    const text = lines.join('\n');
    if (code !== 0) {
      const failurePath = join(root, 'output', 'failure');
      const reason = existsSync(failurePath)
        ? readFileSync(failurePath, 'utf8').trim()
        : lines.slice(-5).join(' | ');
      const error = new Error(
        JSON.stringify({
          TrainingJobName: jobName,
          TrainingJobStatus: 'Failed',
          FailureReason: `${reason} (log: ${logFile})`,
        }),
      );
      error.name = 'States.TaskFailed';
      throw error;
    }

    this.lastModelDir = join(root, 'model');
    const metricsFile = join(root, 'model', 'metrics.json');
    this.lastModelMetrics = existsSync(metricsFile)
      ? JSON.parse(readFileSync(metricsFile, 'utf8'))
      : undefined;
    const output = parseS3Uri(String((params.OutputDataConfig as { S3OutputPath: string }).S3OutputPath));
    const tarball = join(root, 'model.tar.gz');
    await run('tar', ['-czf', tarball, '-C', join(root, 'model'), '.']);
    const modelKey = [output.key.replace(/\/$/, ''), jobName, 'output', 'model.tar.gz']
      .filter(Boolean)
      .join('/');
    await this.s3.send(
      new PutObjectCommand({ Bucket: output.bucket, Key: modelKey, Body: readFileSync(tarball) }),
    );
    const ended = new Date();
    const described = {
      TrainingJobName: jobName,
      TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${jobName.toLowerCase()}`,
      TrainingJobStatus: 'Completed',
      SecondaryStatus: 'Completed',
      ModelArtifacts: { S3ModelArtifacts: `s3://${output.bucket}/${modelKey}` },
      HyperParameters: hyperparameters,
      AlgorithmSpecification: params.AlgorithmSpecification,
      RoleArn: params.RoleArn,
      InputDataConfig: params.InputDataConfig,
      OutputDataConfig: params.OutputDataConfig,
      ResourceConfig: params.ResourceConfig,
      StoppingCondition: params.StoppingCondition,
      FinalMetricDataList: finalMetrics(text),
      CreationTime: started.toISOString(),
      TrainingStartTime: started.toISOString(),
      TrainingEndTime: ended.toISOString(),
      LastModifiedTime: ended.toISOString(),
      TrainingTimeInSeconds: Math.round((ended.getTime() - started.getTime()) / 1000),
      BillableTimeInSeconds: 0,
    };
    this.lastTraining = described;
    return described;
  }

  /**
   * One SageMaker control-plane call (`createModel`, `describeEndpoint`, ...) against moto. Creating or
   * updating an endpoint also starts `serve` for its model; DescribeEndpoint reports `Creating` / `Updating`
   * until it answers /ping, then `InService` (or `Failed` with the reason). moto 5.2 has no UpdateEndpoint, so
   * an update is recorded in moto as delete + create of the same endpoint with the new config.
   */
  async call(action: string, params: Record<string, unknown>): Promise<unknown> {
    try {
      if (action === 'updateEndpoint') return await this.updateEndpoint(params);
      const response = await this.send(action, params);
      if (action === 'createEndpoint') {
        await this.deploy(String(params.EndpointName), String(params.EndpointConfigName));
      }
      if (action === 'describeEndpoint') return this.withLocalStatus(response as Record<string, unknown>);
      if (action === 'deleteEndpoint') await this.undeploy(String(params.EndpointName));
      return asTaskOutput(response);
    } catch (error) {
      if ((error as Error).name.startsWith('SageMaker.') || (error as Error).name.startsWith('States.'))
        throw error;
      throw sageMakerError(error as Error);
    }
  }

  private async send(action: string, params: Record<string, unknown>): Promise<object> {
    const name = `${action[0].toUpperCase()}${action.slice(1)}Command`;
    const commands = SageMaker as unknown as Record<
      string,
      new (input: unknown) => SageMaker.DescribeEndpointCommand
    >;
    const Command = commands[name];
    if (!Command) throw new Error(`SageMaker has no action ${action}`);
    return (await this.client.send(new Command(params))) as object;
  }

  private async updateEndpoint(params: Record<string, unknown>): Promise<unknown> {
    const endpointName = String(params.EndpointName);
    const configName = String(params.EndpointConfigName);
    await this.client.send(new SageMaker.DescribeEndpointCommand({ EndpointName: endpointName }));
    await this.client.send(new SageMaker.DescribeEndpointConfigCommand({ EndpointConfigName: configName }));
    await this.client.send(new SageMaker.DeleteEndpointCommand({ EndpointName: endpointName }));
    const created = await this.client.send(
      new SageMaker.CreateEndpointCommand({ EndpointName: endpointName, EndpointConfigName: configName }),
    );
    await this.deploy(endpointName, configName);
    return { EndpointArn: created.EndpointArn };
  }

  private withLocalStatus(response: Record<string, unknown>): unknown {
    const name = String(response.EndpointName);
    const pending = this.pending.get(name);
    const current = this.deployments.get(name);
    let status = 'InService';
    let failure: string | undefined;
    if (pending?.failure) {
      status = current ? 'InService' : 'Failed';
      failure = pending.failure;
    } else if (pending) {
      status = current ? 'Updating' : 'Creating';
    }
    return asTaskOutput({
      ...response,
      EndpointStatus: status,
      ...(failure ? { FailureReason: failure } : {}),
    });
  }

  /** Starts `serve` for the endpoint config's model; it replaces the running one once it answers /ping. */
  private async deploy(endpointName: string, configName: string): Promise<void> {
    const config = await this.client.send(
      new SageMaker.DescribeEndpointConfigCommand({ EndpointConfigName: configName }),
    );
    const modelName = config.ProductionVariants?.[0]?.ModelName;
    if (!modelName) throw new Error(`Endpoint config ${configName} has no production variant with a model`);
    const model = await this.client.send(new SageMaker.DescribeModelCommand({ ModelName: modelName }));
    const modelDataUrl = model.PrimaryContainer?.ModelDataUrl;
    if (!modelDataUrl) throw new Error(`Model ${modelName} has no ModelDataUrl`);
    const root = join(this.options.workDir, `endpoint-${endpointName}-${++this.deploymentCount}`);
    mkdirSync(join(root, 'model'), { recursive: true });
    const { bucket, key } = parseS3Uri(modelDataUrl);
    const tarball = join(root, 'model.tar.gz');
    const object = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    writeFileSync(tarball, Buffer.from(await object.Body!.transformToByteArray()));
    await run('tar', ['-xzf', tarball, '-C', join(root, 'model')]);

    const port = await freePort();
    const log = createWriteStream(join(root, 'serve.log'));
    const child = track(
      spawn(join(this.options.repoRoot, '.venv', 'bin', 'python'), [join(this.binDir, 'serve')], {
        cwd: this.options.repoRoot,
        env: {
          ...process.env,
          ...(model.PrimaryContainer?.Environment ?? {}),
          ML_ROOT: root,
          // serve binds every interface by default, as a container must; here only this machine may reach it.
          MODEL_SERVER_HOST: LOOPBACK,
          SAGEMAKER_BIND_TO_PORT: String(port),
          MODEL_VERSION: model.PrimaryContainer?.Environment?.MODEL_VERSION ?? modelName,
          PYTHONUNBUFFERED: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const deployment: Deployment = { process: child, port, modelName, ready: false };
    const previousPending = this.pending.get(endpointName);
    if (previousPending) await stopChild(previousPending.process);
    this.pending.set(endpointName, deployment);
    this.options.hooks?.onEvent?.(
      `endpoint ${endpointName}: starting serve for model ${modelName} on port ${port}`,
    );
    waitForHttp(
      `http://${LOOPBACK}:${port}/ping`,
      `serve for ${endpointName}`,
      180000,
      () => child.exitCode === null,
    )
      .then(async () => {
        deployment.ready = true;
        const previous = this.deployments.get(endpointName);
        this.deployments.set(endpointName, deployment);
        this.pending.delete(endpointName);
        this.options.hooks?.onEvent?.(`endpoint ${endpointName}: in service with model ${modelName}`);
        if (previous) await stopChild(previous.process);
      })
      .catch((error: Error) => {
        deployment.failure = `${error.message} (log: ${relative(this.options.repoRoot, join(root, 'serve.log'))})`;
        child.kill('SIGTERM');
      });
  }

  private async undeploy(endpointName: string): Promise<void> {
    for (const table of [this.deployments, this.pending]) {
      const deployment = table.get(endpointName);
      table.delete(endpointName);
      if (deployment) await stopChild(deployment.process);
    }
  }
}
