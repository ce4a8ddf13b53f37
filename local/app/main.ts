import '../emulator/polyfills';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'fs';
import { extname, join, relative } from 'path';
import { PREFIXES, PublishReportResult } from '../../contracts';
import type { EndpointMode } from '../../lib/config';
import {
  ProxyHandler,
  startApiServer,
  LocalApi,
  DEFAULT_BINARY_MEDIA_TYPES,
  requestLine,
} from '../emulator/api-gateway';
import { stopAll } from '../emulator/processes';
import { checkOwnLabels, readOwnInputs, uploadInputs, uploadPretrained } from './inputs';
import {
  MIN_TRAINING_IMAGES,
  SplitCounts,
  TrainingProgress,
  datasetAdvice,
  describeSplits,
  calibratedThreshold,
  splitCounts,
  VariantMaps,
  variantMaps,
} from './progress';
import { replacePhoto } from './replace';
import { DetectedFolder, detectFolder } from './detect-folder';
import { MotoServer, startMoto } from '../emulator/moto';
import { ApiCheck, HeldOutScore, apiTable, checkApi, clock, describeHeldOut, heldOutScore } from './report';
import { stateMachineDefinition } from '../emulator/asl';
import { Handler, serviceIntegrations } from '../emulator/integrations';
import { LocalResources, createLocalResources } from '../emulator/resources';
import { ExecutionReport, LocalRunner } from '../emulator/runner';
import { LocalSageMaker } from '../emulator/sagemaker';
import { LocalStepFunctions } from '../emulator/sfn-shim';
import { CfnTemplate, resourcesOfType } from '../emulator/template';
import { SynthesizedApp, handlerDirOf, handlerDirs, synthesize } from './synth';

/** The label-import command's entry, as local mode calls it in the operator's place. */
export type ImportLabels = (
  labelFile: string,
  datasetBucket: string,
  log: (line: string) => void,
) => Promise<void>;

/** Options of {@link runLocal}; every one has a default that suits `npm start`. */
export interface LocalOptions {
  /** Repository root. @default the folder above local/ */
  readonly repoRoot?: string;
  /**
   * Images to generate for the pipeline. @default 96: about 80 to train on and, one in five going to validation,
   * some 15 images with 17 logos to measure the mAP on (48 gave 8 logos, where one more or less found moved it by 0.125)
   */
  readonly imagesCount?: number;
  /**
   * Images sent through the API after the run: generated ones held out of the pipeline, or the first of your own
   * (which were trained on). @default 4
   */
  readonly holdout?: number;
  /** Seed of the generated dataset. @default 7 */
  readonly seed?: number;
  /**
   * Bring your own: a folder of images, sub-folders included, uploaded to raw/ at their paths within it instead of
   * generated ones (with `labels`).
   */
  readonly images?: string;
  /**
   * Bring your own: the labels of `images`, in any format the label import takes (COCO JSON, a Ground Truth
   * output manifest, Pascal VOC XML as a file or a folder), image names relative to the `images` folder.
   */
  readonly labels?: string;
  /** Training epochs. @default 30 */
  readonly epochs?: number;
  /**
   * SGD learning rate, the peak of local mode's warmup and cosine schedule. Higher than the deployed default (0.001,
   * for fine-tuning pretrained weights), because a local run without `.local/pretrained/` trains from random
   * initialization; 0.01 and 0.02 reached it too, but 0.005 converged fastest and steadiest. @default 0.005
   */
  readonly learningRate?: number;
  /** Square input size of the model. @default 256 */
  readonly dataShape?: number;
  /** Training batch size. @default 8 */
  readonly batchSize?: number;
  /**
   * `minScore` the held-out images are sent with.
   * @default the trained model's calibrated threshold (metrics.json `threshold.score`, the score that maximizes F1
   * on the validation split), else 0.3: a short CPU run scores its detections lower than a full training would
   */
  readonly apiMinScore?: number;
  /** Cap on batches per epoch (keeps a CPU run short). @default 10: every batch of the generated images */
  readonly maxIterationsPerEpoch?: number;
  /** Run the pipeline a second time with no new data and show what it skipped. @default true */
  readonly secondExecution?: boolean;
  /**
   * `endpointMode` of the synthesized app: `serverless` creates the endpoint config with a serverless variant
   * (moto keeps it; `serve` answers the same either way). @default cdk.json's, else 'realtime'
   */
  readonly endpointMode?: EndpointMode;
  /**
   * After the second execution, run a third with `{"force": true}`: it retrains and updates the endpoint, so
   * the update path (blue/green: the old `serve` answers until the new one is ready) runs too. @default false
   */
  readonly retrain?: boolean;
  /**
   * With `retrain` and generated images: before the third execution, upload a new photo under the key of one already
   * labeled and rewrite the label file with its boxes, as an operator replacing a photo would; the third execution
   * makes its image again and asks for its label again. A fourth execution with no new data follows, which must
   * end in `Nothing new`. @default false
   */
  readonly replacePhoto?: boolean;
  /**
   * After the first execution, find logos in every file of this folder with the detect workflow (as
   * `npm run detect` does in AWS), and write its detections, failures and annotated copies to `outDir`/detections/.
   */
  readonly detect?: string;
  /** Keep the API up after the run until Ctrl-C (or until `stop` of the result is called). @default false */
  readonly serve?: boolean;
  /** Port of the local API. @default a free port */
  readonly apiPort?: number;
  /** Annotated API results; emptied at the start of each run. @default local-out/ */
  readonly outDir?: string;
  /** Scratch space (synthesized app, training roots, logs). @default .local/run/ */
  readonly workDir?: string;
  /** Where progress goes. @default console.log */
  readonly log?: (line: string) => void;
}

/** A path as people want to read it: relative to the repository when inside it. */
function shown(repoRoot: string, path: string): string {
  const rel = relative(repoRoot, path);
  return rel.startsWith('..') ? path : rel;
}

/** Files and keys an execution left in S3, to show what a second execution changed. */
type Listing = Record<string, string>;

/** What {@link runLocal} did. */
export interface LocalResult {
  readonly executions: ExecutionReport[];
  readonly apiUrl?: string;
  readonly apiChecks: ApiCheck[];
  /** Best validation mAP the training reached (from FinalMetricDataList), if it trained. */
  readonly map?: number;
  /** The API's answers on the held-out images against the logos drawn on them (generated images only). */
  readonly heldOut?: HeldOutScore;
  /** Images and boxes of the training and validation splits of the first execution's training. */
  readonly counts?: SplitCounts;
  /** Validation mAP of the first execution's model, fp32 and each int8 recipe tried, and which one serves. */
  readonly variantMaps?: VariantMaps;
  /** What local mode advised because the dataset is small (your own images only); empty when nothing. */
  readonly advice: string[];
  /** Whether the second execution left preprocessed images and labels untouched and asked for no labels. */
  readonly secondSkipped?: { preprocessing: boolean; labeling: boolean };
  /** States that belong to labeling (they wait for a task token). */
  readonly labelingStates: string[];
  /** With `retrain`: the live model after the third execution, and which model answered the API. */
  readonly retrained?: { modelVersion?: string; answeredBy?: string; status: number };
  /**
   * The first trained model's evaluation report: where the pipeline published it (`uri`, in moto's S3) and the copy
   * written to `outDir` (`file`); absent when the model had none (`summary` of the report stage says why) or no
   * model was trained.
   */
  readonly report?: { readonly uri: string; readonly file: string };
  /** With `detect`: what the detect workflow did with the folder. */
  readonly detected?: DetectedFolder;
  /** With `replacePhoto`: the raw key replaced, and what the fourth execution (no new data) skipped. */
  readonly replaced?: { rawKey: string; fourthSkipped: { preprocessing: boolean; labeling: boolean } };
}

const DEFAULTS = {
  imagesCount: 96,
  holdout: 4,
  seed: 7,
  epochs: 30,
  learningRate: 0.005,
  dataShape: 256,
  batchSize: 8,
  maxIterationsPerEpoch: 10,
};

/**
 * How local mode trains besides the synthesized hyperparameters, for a short run from random initialization: the
 * rate ramps up over the first batches, then falls along a half cosine to 0, so the last epochs settle instead of
 * swinging at a constant rate.
 */
const LOCAL_TRAINING = { lr_schedule: 'cosine', warmup_iterations: '30' };

/**
 * Validations (and so checkpoints) per local run: every fifth of the default 30 epochs, every epoch of a run of 11 or
 * fewer; the time they would take goes to batches.
 */
const LOCAL_VALIDATIONS = 6;

/** The evaluation report's file name in a model folder (training-container report.py `REPORT_FILE`). */

/** The held-out images' `minScore` when the model has no calibrated threshold. */
const FALLBACK_MIN_SCORE = 0.3;

async function runCommand(command: string, args: string[], cwd: string): Promise<void> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${code}`);
}

function output(
  templates: Record<string, CfnTemplate>,
  stack: string,
  key: string,
  resources: LocalResources,
): string {
  const value = templates[stack]?.Outputs?.[key]?.Value;
  if (value === undefined) throw new Error(`Stack ${stack} has no output ${key}`);
  return String(resources.resolver.resolve(value, stack));
}

async function listing(s3: S3Client, bucket: string, prefix: string): Promise<Listing> {
  const result: Listing = {};
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) result[o.Key!] = `${o.ETag}@${o.LastModified?.toISOString()}`;
    token = page.NextContinuationToken;
  } while (token);
  return result;
}

const sameListing = (a: Listing, b: Listing) => JSON.stringify(a) === JSON.stringify(b);

/** An execution's error for people: a Lambda error's message rather than its JSON with the stack trace. */
function describeError(error: ExecutionReport['error']): string {
  if (!error) return 'unknown error';
  try {
    const cause = JSON.parse(error.cause) as { errorMessage?: string };
    if (cause.errorMessage) return `${error.name}: ${cause.errorMessage}`;
  } catch {
    // not JSON: shown as it is
  }
  return `${error.name}: ${error.cause}`;
}

/**
 * Runs an execution after one that took everything in, and tells whether it skipped preprocessing (the
 * preprocessed images are untouched) and labeling (no label changed and no state waited for labels).
 */
async function executeWithoutNewData(
  runner: LocalRunner,
  name: string,
  s3: S3Client,
  datasetBucket: string,
): Promise<{ report: ExecutionReport; skipped: { preprocessing: boolean; labeling: boolean } }> {
  const imagesBefore = await listing(s3, datasetBucket, PREFIXES.images);
  const labelsBefore = await listing(s3, datasetBucket, PREFIXES.labels);
  const report = await runner.execute(name);
  if (report.status !== 'SUCCEEDED')
    throw new Error(`Execution ${name} failed: ${describeError(report.error)}`);
  const waited = runner.waitingStates().some((state) => report.statesEntered.includes(state));
  return {
    report,
    skipped: {
      preprocessing: sameListing(imagesBefore, await listing(s3, datasetBucket, PREFIXES.images)),
      labeling: sameListing(labelsBefore, await listing(s3, datasetBucket, PREFIXES.labels)) && !waited,
    },
  };
}

/**
 * The label import as an operator runs it (`npm run import-labels -- --file <labels> --dataset-bucket <bucket>`):
 * the command's main function, with SDK clients that reach moto and the local Step Functions endpoint.
 */
async function realImportLabels(repoRoot: string): Promise<ImportLabels> {
  const command = (await import(join(repoRoot, 'scripts', 'import-labels.ts'))) as {
    main(argv: string[], deps: Record<string, unknown>): Promise<number>;
  };
  const [{ S3Client: S3 }, { SFNClient }, { CloudFormationClient }, { s3ClientOptions }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/client-sfn'),
    import('@aws-sdk/client-cloudformation'),
    import('../../lambda/shared/aws'),
  ]);
  return async (labelFile, datasetBucket, log) => {
    // In local mode nobody can fix the file while the execution waits: a rejected file stops it (--fail).
    const argv = [
      '--file',
      labelFile,
      '--dataset-bucket',
      datasetBucket,
      '--fail',
      'local mode: labels rejected',
    ];
    const code = await command.main(argv, {
      s3: new S3(s3ClientOptions()),
      sfn: new SFNClient({}),
      cloudFormation: new CloudFormationClient({}),
      out: (line: string) => line.split('\n').forEach((l) => log(`import-labels: ${l}`)),
      err: (line: string) => line.split('\n').forEach((l) => log(`import-labels: ${l}`)),
    });
    if (code !== 0) {
      throw new Error(
        `The label import rejected ${labelFile} (its messages are above); fix the labels and run npm start again`,
      );
    }
  };
}

/**
 * Runs the whole pipeline and the API on this machine, with no AWS account and no Docker: synthesizes the
 * app, starts moto, generates a dataset, executes the synthesized state machine with aws-local-stepfunctions
 * (real handlers, the real label import, the container's train and serve on the CPU), serves the API with the
 * real proxy handler, sends held-out images through it, and runs the pipeline a second time with no new data.
 */
export async function runLocal(options: LocalOptions = {}): Promise<LocalResult & { stop(): Promise<void> }> {
  const repoRoot = options.repoRoot ?? join(__dirname, '..', '..');
  const log = options.log ?? ((line: string) => console.log(line));
  const start = Date.now();
  let moto: MotoServer | undefined;
  // S3 URIs are shown as what they are locally, URLs on moto (path-style), so none passes for a bucket in AWS.
  const local = (text: string) => (moto ? text.replace(/\bs3:\/\/(?=\w)/g, `${moto.endpoint}/`) : text);
  const stage = (text: string) => log(`[${clock(Date.now() - start)}] ■ ${local(text)}`);
  const step = (text: string) => log(`[${clock(Date.now() - start)}]   ${local(text)}`);
  const workDir = options.workDir ?? join(repoRoot, '.local', 'run');
  const outDir = options.outDir ?? join(repoRoot, 'local-out');
  const settings = {
    ...DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
  if (options.images !== undefined && options.labels === undefined) {
    throw new Error('--images needs --labels with the boxes of those images');
  }
  // Your images and labels are read before anything starts, so a wrong path or file fails at once.
  const own = options.images ? await readOwnInputs(options.images, options.labels!) : undefined;
  // So is the --detect folder, which is used only after the first execution.
  if (
    options.detect !== undefined &&
    (!existsSync(options.detect) || !statSync(options.detect).isDirectory())
  ) {
    throw new Error(
      `--detect ${options.detect} is not a folder: give the folder of images to detect logos in`,
    );
  }
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  // Each run's annotated images, and no earlier run's.
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  const savedEnv = { ...process.env };
  let serving = false;
  let api: LocalApi | undefined;
  const sfn = new LocalStepFunctions();
  let sagemaker: LocalSageMaker | undefined;
  const stop = async () => {
    await api?.close();
    await sagemaker?.stop();
    await sfn.stop();
    await moto?.stop();
    await stopAll();
    for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
    Object.assign(process.env, savedEnv);
  };

  try {
    stage('Python environment (scripts/py-env.sh)');
    await runCommand('bash', [join(repoRoot, 'scripts', 'py-env.sh')], repoRoot);

    const context = {
      minMap: 0,
      epochs: settings.epochs,
      learningRate: settings.learningRate,
      dataShape: settings.dataShape,
      batchSize: settings.batchSize,
      ...(options.endpointMode ? { endpointMode: options.endpointMode } : {}),
    };
    stage(
      `Synthesizing the app (${Object.entries(context)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`,
    );
    const app: SynthesizedApp = synthesize(repoRoot, join(workDir, 'cdk.out'), context);
    const checked = own
      ? await checkOwnLabels(own, { classes: app.config.classes, maxSide: app.config.preprocess.maxSide })
      : undefined;
    if (checked) {
      const boxes = [...checked.documents.values()].reduce((n, d) => n + d.annotations.length, 0);
      step(
        `checked ${checked.labels} (${checked.format}) against ${checked.files.length} images: ` +
          `${checked.documents.size} labeled, with ${boxes} boxes of ${app.config.classes.join(', ')}`,
      );
      if (checked.documents.size < MIN_TRAINING_IMAGES) {
        step(
          `only ${checked.documents.size} labeled images: the run shows the pipeline works, but expect a weak ` +
            'model (what to do is at the end)',
        );
      }
    }

    moto = await startMoto(repoRoot, join(workDir, 'moto.log'));
    await sfn.start();
    let progress = new TrainingProgress(settings.epochs);
    sagemaker = new LocalSageMaker({
      repoRoot,
      workDir,
      hyperparameterOverrides: {
        ...LOCAL_TRAINING,
        val_interval: String(Math.max(1, Math.floor(settings.epochs / LOCAL_VALIDATIONS))),
        max_iterations_per_epoch: String(settings.maxIterationsPerEpoch),
      },
      hooks: {
        onTrainingLog: (line) => progress.line(line).forEach((shown) => step(`train: ${shown}`)),
        onEvent: (message) => {
          // A training job's channels are the first thing it reports: its progress starts again.
          if (message.startsWith('channel ')) progress = new TrainingProgress(settings.epochs);
          step(message);
        },
      },
    });
    await sagemaker.start();
    stage(
      `moto on ${moto.endpoint}; Step Functions shim on ${sfn.endpoint}; SageMaker runtime shim on ${sagemaker.runtimeEndpoint}`,
    );

    // The handlers create their SDK clients when their modules load, so the environment must be complete first.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ENDPOINT_URL_SFN: sfn.endpoint,
      AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: sagemaker.runtimeEndpoint,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      POWERTOOLS_METRICS_NAMESPACE: 'logo-detection-local',
      // The handlers' INFO logs would drown the progress lines; warnings and errors still show. No metrics.
      POWERTOOLS_LOG_LEVEL: 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_DEV: 'true',
    });
    for (const name of [
      'AWS_PROFILE',
      'AWS_SESSION_TOKEN',
      'AWS_CONFIG_FILE',
      'AWS_SHARED_CREDENTIALS_FILE',
    ]) {
      delete process.env[name];
    }
    await moto.reset();
    const dirs = handlerDirs(repoRoot);
    const resources = await createLocalResources(app.templates, (resource, logicalId) =>
      handlerDirOf(resource, app.assemblyDir, dirs, logicalId),
    );
    const rawBucket = output(app.templates, app.dataStack, 'RawBucketName', resources);
    const datasetBucket = output(app.templates, app.dataStack, 'DatasetBucketName', resources);
    const artifactsBucket = output(app.templates, app.dataStack, 'ArtifactsBucketName', resources);
    const endpointName = output(app.templates, app.pipelineStack, 'EndpointName', resources);
    const detect = resources.functions.find((fn) => fn.handlerDir === 'detect' && fn.stack === app.apiStack);
    if (!detect) {
      throw new Error(
        `Stack ${app.apiStack} has no function local mode recognizes as the API proxy (lambda/detect)`,
      );
    }
    const liveModelParameter = detect.environment.LIVE_MODEL_PARAMETER;
    for (const fn of resources.functions) Object.assign(process.env, fn.environment);

    const handlers: Record<string, Handler> = {};
    for (const dir of new Set(resources.functions.map((fn) => fn.handlerDir))) {
      // The API's handler logs a warning for every rejected request; locally the API prints one line per
      // request instead, so that handler's logger (configured as its module loads) keeps only errors, one line each.
      const { POWERTOOLS_LOG_LEVEL, POWERTOOLS_DEV } = process.env;
      if (dir === 'detect')
        Object.assign(process.env, { POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_DEV: 'false' });
      const module = (await import(join(repoRoot, 'lambda', dir, 'index.ts'))) as { handler: Handler };
      Object.assign(process.env, { POWERTOOLS_LOG_LEVEL, POWERTOOLS_DEV });
      handlers[dir] = module.handler;
    }

    const s3 = new S3Client({});
    const { labelFile, labeled, apiImages, apiImagesTrainedOn, coco } = await uploadInputs(s3, rawBucket, {
      own: checked,
      count: settings.imagesCount,
      apiImages: settings.holdout,
      seed: settings.seed,
      classes: app.config.classes,
      maxSide: Math.min(480, app.config.preprocess.maxSide),
      workDir,
      stage,
      step,
    });
    const pretrained = await uploadPretrained(join(repoRoot, '.local', 'pretrained'), s3, artifactsBucket);
    if (pretrained.length === 0) sagemaker.setHyperparameter('pretrained', 'none');
    step(
      pretrained.length
        ? `pretrained weights from .local/pretrained/: ${pretrained.join(', ')}`
        : 'no .local/pretrained/: training from random initialization',
    );

    const importLabels = await realImportLabels(repoRoot);
    const { definition, arn, name } = stateMachineDefinition(
      app.templates,
      app.pipelineStack,
      resources.resolver,
      'StateMachineArn',
    );
    const runner = new LocalRunner(definition, {
      stateMachine: { arn, name },
      tasks: serviceIntegrations({
        functions: resources.functions,
        handlers,
        sagemaker,
        sfn,
        log: step,
        onWaitForTaskToken: async () => {
          step(`operator: importing ${shown(repoRoot, labelFile)} with the label import command`);
          await importLabels(labelFile, datasetBucket, step);
        },
      }),
      sfn,
      log: step,
    });
    const labelingStates = runner.waitingStates();

    const executions: ExecutionReport[] = [];
    const runName = `local-${new Date()
      .toISOString()
      .replace(/[-:T.Z]/g, '')
      .slice(0, 14)}`;
    stage(`Execution 1 (${runName}-1): the whole pipeline`);
    const first = await runner.execute(`${runName}-1`);
    executions.push(first);
    stage(`Execution 1 ${first.status} in ${clock(first.durationMs)}`);
    if (first.status !== 'SUCCEEDED') {
      throw new Error(`Execution 1 failed: ${describeError(first.error)}`);
    }
    // The run's cost as the notification gives it; locally the training job bills 0 seconds.
    const cost = (first.output as { run?: { cost?: { summary?: string } } } | undefined)?.run?.cost?.summary;
    if (cost) step(`cost, as AWS would bill it (nothing is billed locally): ${cost}`);
    const map = sagemaker.lastTraining?.FinalMetricDataList.find(
      (m) => m.MetricName === 'best_val_mAP',
    )?.Value;
    const counts = splitCounts(sagemaker.lastModelMetrics);
    const published = await fetchReport(s3, first.output, outDir);
    const maps = variantMaps(sagemaker.lastModelMetrics);

    const apiChecks: ApiCheck[] = [];
    let heldOut: HeldOutScore | undefined;
    let apiMinScore = FALLBACK_MIN_SCORE;
    if (!sagemaker.servingPort(endpointName)) {
      stage(`Endpoint ${endpointName} is not in service after execution 1 (model rejected?): no API check`);
    } else {
      Object.assign(process.env, detect.environment);
      const proxy = handlers.detect as unknown as ProxyHandler;
      api = await startApiServer(proxy, {
        port: options.apiPort,
        binaryMediaTypes: binaryMediaTypes(app.templates[app.apiStack]),
        onError: (error) => step(`API handler error: ${error.message}`),
        // While it serves after the run, one line per request; the check below prints its own table.
        onRequest: (request) => serving && step(requestLine(request)),
      });
      apiMinScore =
        options.apiMinScore ?? calibratedThreshold(sagemaker.lastModelMetrics) ?? FALLBACK_MIN_SCORE;
      const query = `minScore=${apiMinScore}&maxResults=5`;
      stage(
        `API on ${api.url} (no auth locally): POST /detections?${query} with ` +
          (apiImagesTrainedOn
            ? `${apiImages.length} of your images (trained on: this shows the API works, not how accurate it is)`
            : `the ${apiImages.length} held-out images (not trained on)`),
      );
      apiChecks.push(...(await checkApi(`${api.url}/detections?${query}`, apiImages, outDir)));
      log(apiTable(apiChecks));
      heldOut = heldOutScore(apiChecks);
      if (heldOut) step(`held-out images at minScore ${apiMinScore}: ${describeHeldOut(heldOut)}`);
      step(
        `annotated copies (red: detections, dashed green: the logos drawn): ` +
          apiChecks
            .filter((check) => check.annotated)
            .map((check) => shown(repoRoot, check.annotated!))
            .join(', '),
      );
    }
    const live = await new SSMClient({})
      .send(new GetParameterCommand({ Name: liveModelParameter }))
      .then((r) => r.Parameter?.Value)
      .catch(() => undefined);
    if (live) step(`live-model record: ${live}`);

    let detected: DetectedFolder | undefined;
    if (options.detect) {
      const workflow = stateMachineDefinition(
        app.templates,
        app.pipelineStack,
        resources.resolver,
        'DetectStateMachineArn',
      );
      const detectRunner = new LocalRunner(workflow.definition, {
        stateMachine: { arn: workflow.arn, name: workflow.name },
        tasks: serviceIntegrations({
          functions: resources.functions,
          handlers,
          sagemaker,
          sfn,
          log: step,
          onWaitForTaskToken: async () => undefined,
        }),
        sfn,
        log: step,
      });
      stage(`Batch detection of ${options.detect} (the detect workflow, as npm run detect runs it)`);
      detected = await detectFolder({
        dir: options.detect,
        runner: detectRunner,
        executionName: `${runName}-detect`,
        s3,
        rawBucket,
        artifactsBucket,
        minScore: apiMinScore,
        outDir: join(outDir, 'detections'),
        log: step,
      });
      if (detected.report.status !== 'SUCCEEDED') {
        throw new Error(`Batch detection failed: ${describeError(detected.report.error)}`);
      }
      const r = detected.results!;
      stage(
        `Batch detection ${detected.report.status} in ${clock(detected.report.durationMs)}: ${r.answered} images ` +
          `answered (${r.withDetections} with detections, ${r.detections} detections), ${r.failed} not answered`,
      );
      for (const failure of r.failureSample) step(`not answered: ${failure.image}: ${failure.reason}`);
      step(`detections, failures and annotated copies in ${shown(repoRoot, detected.outDir)}/`);
    }

    let secondSkipped: LocalResult['secondSkipped'];
    if (options.secondExecution !== false) {
      stage(`Execution 2 (${runName}-2): no new data`);
      const second = await executeWithoutNewData(runner, `${runName}-2`, s3, datasetBucket);
      executions.push(second.report);
      stage(`Execution 2 ${second.report.status} in ${clock(second.report.durationMs)}`);
      secondSkipped = second.skipped;
      step(
        `second execution: preprocessing ${secondSkipped.preprocessing ? 'wrote no image (all skipped)' : 'REWROTE images'}; ` +
          `labeling ${secondSkipped.labeling ? 'not requested' : 'RAN AGAIN'}; ` +
          `states skipped: ${first.statesEntered.filter((s) => !second.report.statesEntered.includes(s)).join(', ') || 'none'}`,
      );
    }

    let retrained: LocalResult['retrained'];
    let replaced: LocalResult['replaced'];
    if (options.retrain) {
      let rawKey: string | undefined;
      // Generated images only: their label file (`coco`) is local mode's own to rewrite.
      if (options.replacePhoto && coco) {
        ({ rawKey } = await replacePhoto(s3, rawBucket, coco, labelFile, {
          seed: settings.seed,
          maxSide: Math.min(480, app.config.preprocess.maxSide),
        }));
        step(
          `operator: uploaded a new photo as ${rawKey}, and has its boxes in ${shown(repoRoot, labelFile)}`,
        );
      }
      stage(`Execution 3 (${runName}-3): {"force": true}, so a new model replaces the live one (blue/green)`);
      const third = await runner.execute(`${runName}-3`, { force: true });
      executions.push(third);
      stage(`Execution 3 ${third.status} in ${clock(third.durationMs)}`);
      if (third.status !== 'SUCCEEDED') throw new Error(`Execution 3 failed: ${describeError(third.error)}`);
      if (api && apiImages.length > 0) {
        const { model } = (await (await fetch(`${api.url}/model`)).json()) as { model: { version?: string } };
        const response = await fetch(`${api.url}/detections?minScore=${apiMinScore}`, {
          method: 'POST',
          headers: {
            'Content-Type': extname(apiImages[0].name).toLowerCase() === '.png' ? 'image/png' : 'image/jpeg',
          },
          body: apiImages[0].data,
        });
        const body = (await response.json()) as { model?: { version?: string } };
        retrained = { modelVersion: model.version, answeredBy: body.model?.version, status: response.status };
        step(
          `after the update: GET /model says ${model.version}; POST /detections answered ${response.status} by ${body.model?.version}`,
        );
      }
      if (rawKey) {
        stage(`Execution 4 (${runName}-4): no new data after the replaced photo was labeled again`);
        const fourth = await executeWithoutNewData(runner, `${runName}-4`, s3, datasetBucket);
        executions.push(fourth.report);
        stage(`Execution 4 ${fourth.report.status} in ${clock(fourth.report.durationMs)}`);
        replaced = { rawKey, fourthSkipped: fourth.skipped };
      }
    }

    stage(
      `Done in ${clock(Date.now() - start)}. Validation mAP ${map === undefined ? 'n/a' : map.toFixed(3)} ` +
        `(a short CPU run on ${labeled.images} images: it shows the pipeline works, not how accurate a GPU run is).`,
    );
    if (published.report) {
      step(
        `evaluation report: ${shown(repoRoot, published.report.file)} (open it in a browser; published at ` +
          `${published.report.uri})`,
      );
    } else if (published.summary) {
      step(`! ${published.summary}`);
    }
    if (counts) step(`dataset: ${describeSplits(counts)}`);
    const advice = checked && counts ? datasetAdvice(counts, pretrained.length > 0) : [];
    for (const line of advice) step(`! ${line}`);
    const result: LocalResult = {
      executions,
      apiUrl: api?.url,
      apiChecks,
      map,
      heldOut,
      counts,
      variantMaps: maps,
      advice,
      secondSkipped,
      labelingStates,
      retrained,
      replaced,
      report: published.report,
      detected,
    };
    if (options.serve && api) {
      serving = true;
      log(
        `\nThe API stays up until Ctrl-C:\n  curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg' ${api.url}/detections\n`,
      );
      return { ...result, stop };
    }
    await stop();
    return { ...result, stop: async () => undefined };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The evaluation report an execution published (its output's `evaluation`, from the report stage), copied from
 * moto's S3 to `outDir/report.html`; the report stage's summary when there is no report to copy.
 */
async function fetchReport(
  s3: S3Client,
  output: unknown,
  outDir: string,
): Promise<{ report?: { uri: string; file: string }; summary?: string }> {
  const evaluation = (output as { evaluation?: PublishReportResult } | undefined)?.evaluation;
  if (!evaluation?.report) return { summary: evaluation?.summary };
  const { uri } = evaluation.report;
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri) ?? [];
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const file = join(outDir, 'report.html');
  writeFileSync(file, Buffer.from(await Body!.transformToByteArray()));
  return { report: { uri, file } };
}

function binaryMediaTypes(template: CfnTemplate): string[] {
  const apis = resourcesOfType(template, 'AWS::ApiGateway::RestApi');
  const types = apis[0]?.[1].Properties?.BinaryMediaTypes;
  return Array.isArray(types) ? (types as string[]) : DEFAULT_BINARY_MEDIA_TYPES;
}
