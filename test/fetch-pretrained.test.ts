import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { createServer, IncomingHttpHeaders } from 'http';
import { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { PREFIXES } from '../contracts';
import {
  anonymousS3Client,
  FetchArgs,
  FetchDeps,
  FetchError,
  fetchPretrained,
  jumpstartBucket,
  JUMPSTART_MODEL_ID,
  main,
  newestVersion,
  parseFetchArgs,
  PRETRAINED_PREFIX,
  PROJECT_PYTHON,
} from '../scripts/fetch-pretrained';
import { FakeS3 } from './handlers/fake-s3';

const REGION = 'us-east-1';
const JUMPSTART = jumpstartBucket(REGION);
const ARTIFACTS = 'artifacts-bucket';
const ARTIFACT_KEY = `mxnet-training/train-${JUMPSTART_MODEL_ID}.tar.gz`;
const CONTAINER_SRC = join(__dirname, '..', 'training-container', 'src');

const s3 = new FakeS3();
let scratch: string;

/** Runs Python code in the project's environment with the container's package importable; returns stdout. */
function python(code: string, ...args: string[]): string {
  const run = spawnSync(PROJECT_PYTHON, ['-c', code, ...args], {
    env: { ...process.env, PYTHONPATH: CONTAINER_SRC },
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (run.status !== 0) throw new Error(`python failed: ${run.stderr}`);
  return run.stdout;
}

// The VOC network's weights (random: GluonCV's own file is 57 MB and not in the repository) in an archive, beside
// a small .params that fits no part of it, as JumpStart's layout is not known without an AWS account.
const GENERATE = `
import sys, tarfile, warnings
import mxnet as mx
from gluoncv import model_zoo
out = sys.argv[1]
net = model_zoo.get_model("ssd_512_mobilenet1.0_voc", pretrained=False, pretrained_base=False)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    net.initialize()
net(mx.nd.zeros((1, 3, 512, 512)))
net.save_parameters(out + "/ssd.params")
mx.nd.save(out + "/base.params", {"features.0.weight": mx.nd.zeros((2, 2))})
with tarfile.open(out + "/train.tar.gz", "w:gz", compresslevel=1) as tar:
    tar.add(out + "/base.params", "model/base.params")
    tar.add(out + "/ssd.params", "model/ssd.params")
`;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'fetch-pretrained-test-'));
  python(GENERATE, scratch);
}, 300_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** JumpStart's manifest with three versions of the model (the newest not last) and another model. */
function publishJumpStart(): void {
  const spec = (version: string, key: string) => ({
    model_id: JUMPSTART_MODEL_ID,
    version,
    training_artifact_key: key,
  });
  const entries = ['1.3.2', '2.0.14', '2.0.9'].map((version) => ({
    model_id: JUMPSTART_MODEL_ID,
    version,
    spec_key: `community_models/${JUMPSTART_MODEL_ID}/specs_v${version}.json`,
  }));
  entries.push({ model_id: 'mxnet-od-ssd-512-vgg16-atrous-coco', version: '9.0.0', spec_key: 'other.json' });
  s3.put(JUMPSTART, 'models_manifest.json', JSON.stringify(entries));
  for (const { version, spec_key } of entries.slice(0, 3)) {
    const key = version === '2.0.14' ? ARTIFACT_KEY : `mxnet-training/old-${version}.tar.gz`;
    s3.put(JUMPSTART, spec_key, JSON.stringify(spec(version, key)));
  }
  s3.put(JUMPSTART, ARTIFACT_KEY, readFileSync(join(scratch, 'train.tar.gz')));
}

function deps(jumpstartCalls: [string, boolean][] = [], out: string[] = []): FetchDeps {
  return {
    s3: new S3Client({ region: REGION }),
    jumpstartClient: (region, signed) => {
      jumpstartCalls.push([region, signed]);
      return new S3Client({ region });
    },
    cloudFormation: new CloudFormationClient({ region: REGION }),
    python: PROJECT_PYTHON,
    out: (line) => out.push(line),
  };
}

const args = (extra: Partial<FetchArgs> = {}): FetchArgs => ({
  ...parseFetchArgs(['--artifacts-bucket', ARTIFACTS]),
  ...extra,
});

beforeEach(() => s3.reset());

describe('fetch-pretrained', () => {
  test("copies the newest version's training artifact from JumpStart, checked, with its SHA-1 recorded", async () => {
    publishJumpStart();
    s3.put(ARTIFACTS, 'pretrained/old.params', 'stale');
    const jumpstartCalls: [string, boolean][] = [];
    const out: string[] = [];

    const fetched = await fetchPretrained(args(), deps(jumpstartCalls, out));

    expect(jumpstartCalls).toEqual([[REGION, false]]);
    const record = fetched.record;
    const weights = s3.get(ARTIFACTS, `pretrained/${record.file}`)!.body;
    const sha1 = createHash('sha1').update(weights).digest('hex');
    expect(weights.equals(readFileSync(join(scratch, 'ssd.params')))).toBe(true);
    expect(record).toMatchObject({
      file: `ssd_512_mobilenet1.0_voc-${sha1.slice(0, 8)}.params`,
      sha1,
      model: 'ssd_512_mobilenet1.0_voc',
      parameters: 205,
      source: `s3://${JUMPSTART}/${ARTIFACT_KEY}`,
      member: 'model/ssd.params',
    });
    expect(JSON.parse(s3.text(ARTIFACTS, 'pretrained/weights.json'))).toEqual(record);
    expect(s3.mutations.map((m) => m.key)).toEqual([`pretrained/${record.file}`, 'pretrained/weights.json']);
    expect(out.join('\n')).toContain(`${JUMPSTART_MODEL_ID} 2.0.14`);
    expect(out.join('\n')).toContain('pretrained/ also holds pretrained/old.params');

    // What training does with the prefix: the container, given it as its channel, picks the recorded file.
    const root = join(scratch, 'ml');
    const channel = join(root, 'input', 'data', 'pretrained');
    mkdirSync(channel, { recursive: true });
    for (const key of s3.keys(ARTIFACTS, 'pretrained/')) {
      writeFileSync(join(channel, key.slice('pretrained/'.length)), s3.get(ARTIFACTS, key)!.body);
    }
    const found = python(
      'import sys; from pathlib import Path; from logo_detector.paths import MLPaths; ' +
        'from logo_detector.pretrained import find_voc_weights; print(find_voc_weights(MLPaths(Path(sys.argv[1])), {}))',
      root,
    );
    expect(found.trim()).toBe(join(channel, record.file));
  });

  test('a local file given with --file is checked first, and refused, naming what does not fit', async () => {
    const error = await fetchPretrained(args({ file: join(scratch, 'base.params') }), deps()).catch((e) => e);
    expect(error).toBeInstanceOf(FetchError);
    expect(error.message).toMatch(
      /does not fit GluonCV's ssd_512_mobilenet1\.0_voc: 205 of the network's 205/,
    );
    expect(error.message).toContain('features.0.weight');
    expect(s3.mutations).toEqual([]);
  });

  test('a region whose manifest does not list the model is answered with what to do', async () => {
    s3.put(JUMPSTART, 'models_manifest.json', '[]');
    await expect(fetchPretrained(args(), deps())).rejects.toThrow(
      `s3://${JUMPSTART}/models_manifest.json does not list ${JUMPSTART_MODEL_ID}. Pass --jumpstart-region`,
    );
    expect(s3.mutations).toEqual([]);
  });

  test('an anonymous read the bucket refuses is answered with --signed and the IAM permission it needs', async () => {
    s3.mock.on(GetObjectCommand, { Bucket: JUMPSTART }).rejects(
      new S3ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
        message: 'Access Denied',
      }),
    );
    await expect(fetchPretrained(args(), deps())).rejects.toThrow(
      `refused an anonymous read (AccessDenied). Run again with --signed to read it with your AWS credentials ` +
        `(your IAM policy must allow s3:GetObject on arn:aws:s3:::${JUMPSTART}/*)`,
    );
  });

  test('--help prints the usage and --file with --signed is refused', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(['--help'], deps([], out), (l) => err.push(l))).toBe(0);
    expect(out[0]).toMatch(/^Usage: npm run fetch-pretrained -- \[options\]/);
    expect(await main(['--file', 'x.params', '--signed'], deps(), (l) => err.push(l))).toBe(2);
    expect(err).toEqual([
      '--file reads a local file: --jumpstart-region and --signed apply only to JumpStart.',
    ]);
  });

  test('the newest version is compared by number, not as text', () => {
    const entry = (version: string) => ({ model_id: 'm', version, spec_key: version });
    expect(newestVersion(['2.0.9', '2.0.14', '10.0.0', '1.3.2'].map(entry), 'm')?.version).toBe('10.0.0');
    expect(newestVersion([entry('1.0.0')], 'other')).toBeUndefined();
  });

  test('uploads under the prefix the pipeline maps to the pretrained channel', () => {
    expect(PRETRAINED_PREFIX).toBe(PREFIXES.pretrained);
  });
});

describe('the anonymous JumpStart client', () => {
  test('sends no credentials and no signature', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('[]');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const previous = process.env.AWS_ENDPOINT_URL_S3;
    process.env.AWS_ENDPOINT_URL_S3 = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const client = anonymousS3Client(REGION);
      s3.mock.restore(); // the real send, over HTTP (this is the file's last test)
      const body = await client.send(
        new GetObjectCommand({ Bucket: JUMPSTART, Key: 'models_manifest.json' }),
      );
      expect(await body.Body!.transformToString()).toBe('[]');
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
      else process.env.AWS_ENDPOINT_URL_S3 = previous;
      server.close();
    }
    expect(seen).toHaveLength(1);
    expect(seen[0].authorization).toBeUndefined();
    expect(seen[0]['x-amz-security-token']).toBeUndefined();
    expect(seen[0]['x-amz-date']).toBeUndefined();
  });
});
