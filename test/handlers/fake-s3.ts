import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';

/** One stored object of the in-memory S3. */
export interface FakeObject {
  body: Buffer;
  etag: string;
  metadata: Record<string, string>;
  contentType?: string;
}

/** A write or delete the code under test sent, for asserting which buckets it touched. */
export interface Mutation {
  readonly command: 'PutObject' | 'DeleteObject' | 'CopyObject';
  readonly bucket: string;
  readonly key: string;
}

function notFound(name: 'NotFound' | 'NoSuchKey', key: string): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode: 404 },
    message: `${name}: ${key}`,
  });
}

/** A response body like the SDK's (a Node stream with its transform helpers), over a copy of the bytes. */
function streamBody(bytes: Buffer): Readable & {
  transformToByteArray(): Promise<Uint8Array>;
  transformToString(encoding?: BufferEncoding): Promise<string>;
} {
  const copy = Buffer.from(bytes);
  return Object.assign(Readable.from([copy]), {
    transformToByteArray: async () => new Uint8Array(copy),
    transformToString: async (encoding: BufferEncoding = 'utf8') => copy.toString(encoding),
  });
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string' || body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * An in-memory S3 behind aws-sdk-client-mock: Get/Head/Put/Delete/Copy/ListObjectsV2 on a map of buckets, with
 * MD5 ETags, user metadata, conditional writes (`IfNoneMatch: '*'` is refused with 412 over an existing key) and ListObjectsV2 pages of `pageSize` keys (small, so pagination is exercised) that give
 * each object's size and ETag. Every write, copy and delete is recorded in `mutations`.
 */
export class FakeS3 {
  readonly buckets = new Map<string, Map<string, FakeObject>>();
  readonly mutations: Mutation[] = [];
  readonly mock = mockClient(S3Client);

  constructor(public pageSize = 1000) {
    this.install();
  }

  /** Stores an object directly (arranging a test), returning its quoted ETag. */
  put(bucket: string, key: string, body: Buffer | string, metadata: Record<string, string> = {}): string {
    const bytes = Buffer.from(body);
    const etag = `"${createHash('md5').update(bytes).digest('hex')}"`;
    if (!this.buckets.has(bucket)) this.buckets.set(bucket, new Map());
    this.buckets.get(bucket)!.set(key, { body: bytes, etag, metadata });
    return etag;
  }

  /** The stored object, if any. */
  get(bucket: string, key: string): FakeObject | undefined {
    return this.buckets.get(bucket)?.get(key);
  }

  /** Sorted keys under a prefix. */
  keys(bucket: string, prefix = ''): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])].filter((k) => k.startsWith(prefix)).sort();
  }

  /** An object's body as UTF-8; throws when it does not exist. */
  text(bucket: string, key: string): string {
    const object = this.get(bucket, key);
    if (!object) throw new Error(`no object s3://${bucket}/${key}`);
    return object.body.toString('utf8');
  }

  /** Empties every bucket, forgets recorded calls and re-installs the handlers (after `mock.reset()`). */
  reset(): void {
    this.buckets.clear();
    this.mutations.length = 0;
    this.mock.reset();
    this.install();
  }

  private install(): void {
    this.mock.on(GetObjectCommand).callsFake(async (input) => {
      const object = this.get(input.Bucket, input.Key);
      if (!object) throw notFound('NoSuchKey', input.Key);
      return {
        Body: streamBody(object.body),
        ETag: object.etag,
        Metadata: object.metadata,
        ContentLength: object.body.length,
      };
    });
    this.mock.on(HeadObjectCommand).callsFake(async (input) => {
      const object = this.get(input.Bucket, input.Key);
      if (!object) throw notFound('NotFound', input.Key);
      return { ETag: object.etag, Metadata: object.metadata, ContentLength: object.body.length };
    });
    this.mock.on(PutObjectCommand).callsFake(async (input) => {
      if (input.IfNoneMatch === '*' && this.get(input.Bucket, input.Key)) {
        throw new S3ServiceException({
          name: 'PreconditionFailed',
          $fault: 'client',
          $metadata: { httpStatusCode: 412 },
          message: `At least one of the pre-conditions you specified did not hold: ${input.Key}`,
        });
      }
      this.mutations.push({ command: 'PutObject', bucket: input.Bucket, key: input.Key });
      const etag = this.put(input.Bucket, input.Key, await bodyBytes(input.Body), input.Metadata ?? {});
      this.get(input.Bucket, input.Key)!.contentType = input.ContentType;
      return { ETag: etag };
    });
    this.mock.on(CopyObjectCommand).callsFake(async (input) => {
      this.mutations.push({ command: 'CopyObject', bucket: input.Bucket, key: input.Key });
      const source = decodeURIComponent(input.CopySource);
      const slash = source.indexOf('/');
      const object = this.get(source.slice(0, slash), source.slice(slash + 1));
      if (!object) throw notFound('NoSuchKey', source);
      if (input.MetadataDirective === 'REPLACE')
        throw new Error('only MetadataDirective COPY is implemented');
      const etag = this.put(input.Bucket, input.Key, object.body, { ...object.metadata });
      this.get(input.Bucket, input.Key)!.contentType = object.contentType;
      return { CopyObjectResult: { ETag: etag } };
    });
    this.mock.on(DeleteObjectCommand).callsFake(async (input) => {
      this.mutations.push({ command: 'DeleteObject', bucket: input.Bucket, key: input.Key });
      this.buckets.get(input.Bucket)?.delete(input.Key);
      return {};
    });
    this.mock.on(ListObjectsV2Command).callsFake(async (input) => {
      const all = this.keys(input.Bucket, input.Prefix ?? '');
      const start = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
      const page = all.slice(start, start + this.pageSize);
      const more = start + this.pageSize < all.length;
      return {
        Contents: page.map((Key) => {
          const object = this.get(input.Bucket, Key)!;
          return { Key, Size: object.body.length, ETag: object.etag };
        }),
        KeyCount: page.length,
        IsTruncated: more,
        NextContinuationToken: more ? String(start + this.pageSize) : undefined,
      };
    });
  }
}
