/**
 * Sends one image to the detection API and prints what it found. Node.js 20 or later, no dependency:
 *
 *   npx tsx examples/detect.ts URL IMAGE [--min-score 0.6] [--max-results 10] [--api-key KEY]
 *
 * URL is the stack's `ApiUrl` output (`https://<api-id>.execute-api.<region>.amazonaws.com/v1/`) or, for
 * `npm start -- --serve`, `http://127.0.0.1:<port>/`. The image's bytes are the request body, sent as
 * `application/octet-stream`: the API decides the format (JPEG, PNG, WebP) from the bytes.
 *
 * Authentication: with `apiAuth=apiKey`, `--api-key KEY` (or the `API_KEY` environment variable) is sent as
 * `x-api-key`; local mode has none. With `apiAuth=iam` (the default) every request must be signed with AWS
 * Signature Version 4 for the service `execute-api`: this example does not sign (the project declares no signer
 * package); sign with `SignatureV4` from `@smithy/signature-v4` and `Sha256` from `@aws-crypto/sha256-js` over
 * the method, URL, `host` header and body, then send the signed headers, or use one of the ways in the README's
 * "With AWS Signature Version 4" section (curl, awscurl, botocore; `examples/detect.py --sigv4`).
 *
 * Prints one line per detection (class, score, box in pixels of the image sent) and exits 0; on an error answer
 * it prints the API's code, message and request id to stderr and exits 1.
 */
import { readFile } from 'fs/promises';
import { parseArgs } from 'util';

/** One object found, as `POST /detections` answers it (openapi/detection-api.yaml, `Detection`). */
interface Detection {
  readonly label: string;
  /** Confidence, 0 to 1. */
  readonly score: number;
  /** Pixels of the image sent, origin at its top-left corner. */
  readonly box: {
    readonly left: number;
    readonly top: number;
    readonly width: number;
    readonly height: number;
  };
}

/** The 200 answer of `POST /detections`. */
interface DetectionsAnswer {
  readonly requestId: string;
  readonly model: { readonly version: string };
  readonly image: { readonly width: number; readonly height: number };
  readonly detections: Detection[];
}

/** The `POST /detections` URL under `baseUrl` (with or without its trailing slash), with its query. */
function detectionsUrl(baseUrl: string, minScore?: string, maxResults?: string): URL {
  const url = new URL('detections', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  if (minScore !== undefined) url.searchParams.set('minScore', minScore);
  if (maxResults !== undefined) url.searchParams.set('maxResults', maxResults);
  return url;
}

/** One line for an error answer: the API's `{"error": {"code", "message"}, "requestId"}`, or what came. */
function describeError(status: number, text: string): string {
  let answer:
    { error?: { code?: string; message?: string }; requestId?: string; message?: string } | undefined;
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    // not JSON (API Gateway's plain-text 413 for a body over 10 MiB): show the start of it
  }
  if (answer?.error) {
    return `${status} ${answer.error.code}: ${answer.error.message} (request id ${answer.requestId})`;
  }
  // API Gateway's own answers (throttling, authentication, a request too large to reach the proxy).
  if (answer?.message) return `${status}: ${answer.message}`;
  return `${status}: ${text.slice(0, 200)}`;
}

/** `logo 0.93 left=412.5 top=80.1 width=120.4 height=64` for one detection of the answer. */
function formatDetection({ label, score, box }: Detection): string {
  return `${label} ${score.toFixed(2)} left=${box.left} top=${box.top} width=${box.width} height=${box.height}`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'min-score': { type: 'string' },
      'max-results': { type: 'string' },
      'api-key': { type: 'string', default: process.env.API_KEY },
    },
  });
  if (positionals.length !== 2) {
    console.error(
      'usage: npx tsx examples/detect.ts URL IMAGE [--min-score S] [--max-results N] [--api-key KEY]',
    );
    return 2;
  }
  const [baseUrl, imagePath] = positionals;
  const url = detectionsUrl(baseUrl, values['min-score'], values['max-results']);
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  if (values['api-key']) headers['x-api-key'] = values['api-key'];

  const response = await fetch(url, { method: 'POST', headers, body: await readFile(imagePath) });
  const text = await response.text();
  if (!response.ok) {
    console.error(describeError(response.status, text));
    return 1;
  }
  const answer = JSON.parse(text) as DetectionsAnswer;
  console.log(
    `model ${answer.model.version}, image ${answer.image.width}x${answer.image.height}, ` +
      `${answer.detections.length} detection(s)`,
  );
  for (const detection of answer.detections) console.log(formatDetection(detection));
  return 0;
}

main().then(
  (status) => process.exit(status),
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
