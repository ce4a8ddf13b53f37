/**
 * `npm start`: runs the whole pipeline and the API on this machine, with no AWS account and no Docker
 * (docs/reference.md, "Run it locally"). `npm start -- --help` lists the options.
 */
import '../emulator/polyfills';
import { parseArgs } from 'util';
import { stopAll } from '../emulator/processes';
import { LocalOptions, runLocal } from './main';

/** What `npm start -- --help` prints. */
export const USAGE = `Usage: npm start -- [options]

Runs the synthesized pipeline locally (moto for S3, SSM, SNS and SageMaker; the real handlers; training and
serving on the CPU), then the detection API, and prints what the API answered for a few images.

Options:
  --images-count N   images to generate for the pipeline (default 96)
  --epochs N         training epochs (default 30)
  --images DIR       bring your own images instead of generated ones, sub-folders included (needs --labels)
  --labels PATH      their labels, in any format npm run import-labels takes: COCO JSON, a Ground Truth output
                     manifest, Pascal VOC XML (a file or a folder of them); image names relative to DIR.
                     Checked against the images before anything starts.
  --seed N           seed of the generated dataset (default 7)
  --detect DIR       after the first execution, find logos in every file of DIR with the detect workflow (as
                     npm run detect does in AWS); detections, failures and annotated copies in local-out/detections/
  --serve            keep the API up after the run, until Ctrl-C
  --port N           port of the local API (default: a free one)
  --no-second-run    skip the second execution (the one that shows a run with no new data skips work)
  --retrain          then run a third execution with {"force": true}: retrains and updates the endpoint
  --serverless       deploy with endpointMode=serverless (a serverless endpoint config; served the same way)
  -h, --help         this help

Examples:
  npm start
  npm start -- --images ~/photos --labels ~/photos/coco.json --serve
  npm start -- --images ~/photos --labels ~/photos/annotations/   # a folder of VOC XML files
  npm start -- --detect ~/more-photos                            # then batch detection over a folder

Keep your photos outside this folder (or in .local/, which git and the linters ignore). To start from pretrained
weights, put the VOC .params file in .local/pretrained/ (README, "Pretrained weights").`;

/** Parses `npm start` arguments into options of {@link runLocal}; throws naming a bad value. */
export function parseStartArgs(argv: string[]): LocalOptions & { help?: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      'images-count': { type: 'string' },
      epochs: { type: 'string' },
      images: { type: 'string' },
      labels: { type: 'string' },
      detect: { type: 'string' },
      seed: { type: 'string' },
      serve: { type: 'boolean' },
      port: { type: 'string' },
      'no-second-run': { type: 'boolean' },
      retrain: { type: 'boolean' },
      serverless: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const positive = (name: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`--${name} must be a positive integer, got "${value}"`);
    return n;
  };
  if (values.images && !values.labels)
    throw new Error('--images needs --labels <file or folder> with their boxes');
  if (values.labels && !values.images)
    throw new Error('--labels needs --images <dir> with the images it labels');
  return {
    imagesCount: positive('images-count', values['images-count']),
    epochs: positive('epochs', values.epochs),
    seed: positive('seed', values.seed),
    apiPort: positive('port', values.port),
    images: values.images,
    labels: values.labels,
    detect: values.detect,
    serve: values.serve ?? false,
    secondExecution: !values['no-second-run'],
    retrain: values.retrain ?? false,
    ...(values.serverless ? { endpointMode: 'serverless' as const } : {}),
    help: values.help,
  };
}

async function main(): Promise<void> {
  let options: ReturnType<typeof parseStartArgs>;
  try {
    options = parseStartArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  let stopping = false;
  let stopServing: (() => Promise<void>) | undefined;
  process.on('SIGINT', () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping local mode...');
    void (stopServing ? stopServing() : stopAll()).finally(() => process.exit(130));
  });
  const result = await runLocal(options);
  if (options.serve && result.apiUrl) {
    stopServing = result.stop;
    // Stay up until Ctrl-C; the SIGINT handler stops the servers.
    await new Promise(() => undefined);
  }
}

if (require.main === module) {
  main().catch(async (error: Error) => {
    console.error(`\nLocal mode failed: ${error.message}`);
    await stopAll();
    process.exit(1);
  });
}
