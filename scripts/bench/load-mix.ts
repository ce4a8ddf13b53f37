/**
 * The load benchmark's pure parts: which requests it sends, which answers it expects, and what one concurrency
 * level's outcomes add up to. No I/O and no timing here; scripts/bench/load.ts drives the API with them.
 */
import { percentile } from './stats';

/**
 * What a request of the mix is. Valid images expect 200; every bad kind is one the proxy refuses before it calls
 * the model, with a status that does not depend on how images are decoded or how big their pixels are.
 */
export type RequestKind = 'jpeg' | 'png' | 'garbage' | 'empty' | 'oversized' | 'badMinScore';

/** The bad kinds, in the order the mix cycles through them. */
export const BAD_KINDS: readonly RequestKind[] = ['garbage', 'empty', 'oversized', 'badMinScore'];

/**
 * The status each kind must be answered with: 200 for an image; 415 for bytes that are no image (no JPEG or PNG
 * signature); 400 for an empty body; 413 for a body over the proxy's image limit; 400 for a `minScore` outside
 * 0 to 1. Anything else, and no answer at all, is an unexpected error.
 */
export const EXPECTED_STATUS: Readonly<Record<RequestKind, number>> = {
  jpeg: 200,
  png: 200,
  garbage: 415,
  empty: 400,
  oversized: 413,
  badMinScore: 400,
};

/** One HTTP request of the mix, ready to send. */
export interface MixRequest {
  readonly kind: RequestKind;
  /** Path and query, e.g. `/detections?minScore=2`. */
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

/** The bodies the mix is made of. */
export interface MixBodies {
  /** A valid JPEG photo. */
  readonly jpeg: Buffer;
  /** A valid PNG image. */
  readonly png: Buffer;
  /** Bytes that start with no image signature. */
  readonly garbage: Buffer;
  /** A body larger than the proxy's image limit (starting with a JPEG signature, so only its size is wrong). */
  readonly oversized: Buffer;
}

/** The request of one kind. Valid images and the oversized body go to plain `POST /detections`. */
export function requestOf(kind: RequestKind, bodies: MixBodies): MixRequest {
  switch (kind) {
    case 'jpeg':
      return { kind, path: '/detections', contentType: 'image/jpeg', body: bodies.jpeg };
    case 'png':
      return { kind, path: '/detections', contentType: 'image/png', body: bodies.png };
    case 'garbage':
      return { kind, path: '/detections', contentType: 'image/jpeg', body: bodies.garbage };
    case 'empty':
      return { kind, path: '/detections', contentType: 'image/jpeg', body: Buffer.alloc(0) };
    case 'oversized':
      return { kind, path: '/detections', contentType: 'image/jpeg', body: bodies.oversized };
    case 'badMinScore':
      return { kind, path: '/detections?minScore=2', contentType: 'image/jpeg', body: bodies.jpeg };
  }
}

/**
 * `count` requests with `badShare` of them bad, spread evenly through the sequence (so any prefix of it, which
 * is what a run cut short sends, has close to the same mix). Bad requests cycle through {@link BAD_KINDS};
 * valid ones alternate JPEG and PNG. Deterministic: the same arguments give the same sequence.
 * Throws if `count` is not a positive integer or `badShare` is outside 0 to 1.
 */
export function buildRequestMix(count: number, badShare: number, bodies: MixBodies): MixRequest[] {
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`count must be a positive integer, got ${count}`);
  if (!(badShare >= 0 && badShare <= 1)) throw new Error(`badShare must be from 0 to 1, got ${badShare}`);
  const mix: MixRequest[] = [];
  let bad = 0;
  let good = 0;
  for (let i = 0; i < count; i++) {
    // Bad whenever the running total of bad requests due reaches the next whole number.
    const isBad = Math.floor((i + 1) * badShare) > bad;
    const kind = isBad ? BAD_KINDS[bad++ % BAD_KINDS.length] : good++ % 2 === 0 ? 'jpeg' : 'png';
    mix.push(requestOf(kind, bodies));
  }
  return mix;
}

/** Whether an answer is the one the request's kind expects. */
export function isExpected(kind: RequestKind, status: number): boolean {
  return EXPECTED_STATUS[kind] === status;
}

/** One request the load generator sent: its kind, and its status and latency if it was answered. */
export interface SentRequest {
  readonly kind: RequestKind;
  /** HTTP status, or undefined when no answer came (connection error, timeout, or the run's deadline). */
  readonly status?: number;
  /** Milliseconds from sending to the whole answer, when answered. */
  readonly latencyMs?: number;
}

/** What one concurrency level's requests add up to. */
export interface LevelSummary {
  readonly concurrency: number;
  /** Requests sent. */
  readonly sent: number;
  /** Requests answered, whatever the status. */
  readonly answered: number;
  /** Answers per second of wall time, all kinds. */
  readonly throughput: number;
  /** Latency percentiles of the answered valid-image requests, in milliseconds (undefined if none). */
  readonly p50?: number;
  readonly p99?: number;
  /** Answers by status, e.g. `{ 200: 160, 400: 20 }`. */
  readonly byStatus: Readonly<Record<number, number>>;
  /** Answers with a status their kind does not expect, plus requests never answered. */
  readonly unexpected: number;
  /** The unexpected ones by `<kind> <status>` (or `<kind> no answer`), to say what went wrong. */
  readonly unexpectedByKind: Readonly<Record<string, number>>;
}

/**
 * Adds up one level: counts by status, unexpected answers (a status the kind does not expect, or none), and
 * p50/p99 of the valid-image requests (the bad ones are answered without the model and would flatter them).
 * Throws if `wallMs` is not positive.
 */
export function summarizeLevel(concurrency: number, requests: SentRequest[], wallMs: number): LevelSummary {
  if (!(wallMs > 0)) throw new Error(`wallMs must be positive, got ${wallMs}`);
  const byStatus: Record<number, number> = {};
  const unexpectedByKind: Record<string, number> = {};
  const imageLatencies: number[] = [];
  let answered = 0;
  let unexpected = 0;
  for (const { kind, status, latencyMs } of requests) {
    if (status !== undefined) {
      answered++;
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (EXPECTED_STATUS[kind] === 200 && latencyMs !== undefined) imageLatencies.push(latencyMs);
    }
    if (status === undefined || !isExpected(kind, status)) {
      unexpected++;
      const key = `${kind} ${status ?? 'no answer'}`;
      unexpectedByKind[key] = (unexpectedByKind[key] ?? 0) + 1;
    }
  }
  return {
    concurrency,
    sent: requests.length,
    answered,
    throughput: answered / (wallMs / 1000),
    p50: imageLatencies.length ? percentile(imageLatencies, 50) : undefined,
    p99: imageLatencies.length ? percentile(imageLatencies, 99) : undefined,
    byStatus,
    unexpected,
    unexpectedByKind,
  };
}
