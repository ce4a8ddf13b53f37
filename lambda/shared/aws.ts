import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/**
 * Options for every S3 client the handlers create. Path-style addressing is forced only when
 * `AWS_ENDPOINT_URL` points the SDK at a local S3 (moto in local mode), where `<bucket>.localhost` does not
 * resolve; against AWS the SDK's default virtual-hosted style is kept.
 */
export function s3ClientOptions(): { forcePathStyle: boolean } {
  return { forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL || process.env.AWS_ENDPOINT_URL_S3) };
}

/** True when an S3 or SageMaker error means "that object or resource does not exist". */
export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e?.name === 'NotFound' ||
    e?.name === 'NoSuchKey' ||
    e?.name === 'ResourceNotFound' ||
    e?.$metadata?.httpStatusCode === 404 ||
    (e?.name === 'ValidationException' && /could not find|does not exist/i.test(e.message ?? ''))
  );
}

/**
 * Splits an S3 location, in any form SageMaker accepts, into bucket and key: `s3://bucket/key`, or the HTTPS URL
 * CDK writes for `S3Location.fromBucket` (path-style `https://s3.<region>.amazonaws.com/bucket/key` or
 * virtual-hosted `https://bucket.s3.<region>.amazonaws.com/key`). The key is empty for a whole bucket.
 * Throws naming the value when it is none of these.
 */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match =
    /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri) ??
    /^https:\/\/s3[.-][^/]*amazonaws\.com[^/]*\/([^/]+)\/?(.*)$/.exec(uri) ??
    /^https:\/\/([^/]+)\.s3[.-][^/]*amazonaws\.com[^/]*\/?(.*)$/.exec(uri);
  if (!match) throw new Error(`Not an S3 location (expected s3://bucket/key or an S3 HTTPS URL): ${uri}`);
  return { bucket: match[1], key: match[2] };
}

/** Reads a whole object into memory. */
export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!res.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return Buffer.from(await res.Body.transformToByteArray());
}

/** Reads a whole object as UTF-8 text. */
export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  return (await getBytes(s3, bucket, key)).toString('utf8');
}

/** Writes a text object (UTF-8) with its content type. */
export async function putText(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string,
  contentType: string,
): Promise<void> {
  // The length is given: the SDK cannot tell an empty body's length from an unknown one, and warns.
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentType: contentType,
      ContentLength: Buffer.byteLength(body),
    }),
  );
}

/** Writes a JSON document (pretty-printed when it is meant for people). */
export async function putJson(
  s3: S3Client,
  bucket: string,
  key: string,
  value: unknown,
  pretty = false,
): Promise<void> {
  await putText(s3, bucket, key, JSON.stringify(value, null, pretty ? 2 : undefined), 'application/json');
}

/** Writes JSON lines (one JSON value a line, each ending in a newline), e.g. a manifest. */
export async function putJsonLines(
  s3: S3Client,
  bucket: string,
  key: string,
  values: readonly unknown[],
): Promise<void> {
  const body = values.map((value) => `${JSON.stringify(value)}\n`).join('');
  await putText(s3, bucket, key, body, 'application/x-ndjson');
}

/** S3 returns ETags in double quotes (and weak ones with `W/`); listings, HEAD and GET may differ in that. */
export function normalizeEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/"/g, '');
}

/** Every object under a prefix with its ETag (normalized) and size, by key, following continuation tokens. */
export async function listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<Map<string, { etag: string; bytes: number }>> {
  const objects = new Map<string, { etag: string; bytes: number }>();
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key) objects.set(object.Key, { etag: normalizeEtag(object.ETag), bytes: object.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** Every key under a prefix, following ListObjectsV2 continuation tokens. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
