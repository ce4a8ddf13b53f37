import {
  BAD_KINDS,
  MixBodies,
  RequestKind,
  SentRequest,
  buildRequestMix,
  isExpected,
  summarizeLevel,
} from '../../scripts/bench/load-mix';

const bodies: MixBodies = {
  jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  png: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  garbage: Buffer.from('not an image'),
  oversized: Buffer.alloc(32),
};

const countKinds = (kinds: RequestKind[]) =>
  kinds.reduce<Record<string, number>>(
    (counts, kind) => ({ ...counts, [kind]: (counts[kind] ?? 0) + 1 }),
    {},
  );

describe('buildRequestMix', () => {
  test('makes a fifth of 200 requests bad, ten of each bad kind, and alternates JPEG and PNG for the rest', () => {
    const mix = buildRequestMix(200, 0.2, bodies);

    expect(mix).toHaveLength(200);
    expect(countKinds(mix.map((r) => r.kind))).toEqual({
      jpeg: 80,
      png: 80,
      garbage: 10,
      empty: 10,
      oversized: 10,
      badMinScore: 10,
    });
  });

  test('spreads the bad requests evenly, so a run cut short still sends close to the planned mix', () => {
    const mix = buildRequestMix(200, 0.2, bodies);

    const badAt = mix.flatMap((r, i) => (BAD_KINDS.includes(r.kind) ? [i] : []));
    expect(badAt.slice(0, 4)).toEqual([4, 9, 14, 19]);
    expect(mix.slice(0, 20).map((r) => r.kind)).toEqual([
      ...['jpeg', 'png', 'jpeg', 'png', 'garbage'],
      ...['jpeg', 'png', 'jpeg', 'png', 'empty'],
      ...['jpeg', 'png', 'jpeg', 'png', 'oversized'],
      ...['jpeg', 'png', 'jpeg', 'png', 'badMinScore'],
    ]);
  });

  test('builds each kind as the request that earns its status', () => {
    const byKind = Object.fromEntries(buildRequestMix(20, 0.2, bodies).map((r) => [r.kind, r]));

    expect(byKind.jpeg).toMatchObject({ path: '/detections', contentType: 'image/jpeg', body: bodies.jpeg });
    expect(byKind.png).toMatchObject({ path: '/detections', contentType: 'image/png', body: bodies.png });
    expect(byKind.garbage).toMatchObject({ contentType: 'image/jpeg', body: bodies.garbage });
    expect(byKind.empty.body).toHaveLength(0);
    expect(byKind.oversized.body).toBe(bodies.oversized);
    expect(byKind.badMinScore).toMatchObject({ path: '/detections?minScore=2', body: bodies.jpeg });
  });

  test('sends only valid images when the bad share is 0', () => {
    const kinds = new Set(buildRequestMix(50, 0, bodies).map((r) => r.kind));

    expect(kinds).toEqual(new Set(['jpeg', 'png']));
  });

  test('refuses a count that is not a positive integer and a share outside 0 to 1', () => {
    expect(() => buildRequestMix(0, 0.2, bodies)).toThrow('count must be a positive integer, got 0');
    expect(() => buildRequestMix(2.5, 0.2, bodies)).toThrow('count must be a positive integer, got 2.5');
    expect(() => buildRequestMix(10, 1.5, bodies)).toThrow('badShare must be from 0 to 1, got 1.5');
  });
});

describe('isExpected', () => {
  test('expects 200 for images and the intended 4xx for each bad kind', () => {
    expect(isExpected('jpeg', 200)).toBe(true);
    expect(isExpected('png', 200)).toBe(true);
    expect(isExpected('garbage', 415)).toBe(true);
    expect(isExpected('empty', 400)).toBe(true);
    expect(isExpected('oversized', 413)).toBe(true);
    expect(isExpected('badMinScore', 400)).toBe(true);
  });

  test('counts a server error, a wrong 4xx or a 200 to a bad request as unexpected', () => {
    expect(isExpected('jpeg', 502)).toBe(false);
    expect(isExpected('jpeg', 415)).toBe(false);
    expect(isExpected('garbage', 400)).toBe(false);
    expect(isExpected('oversized', 200)).toBe(false);
    expect(isExpected('badMinScore', 500)).toBe(false);
  });
});

describe('summarizeLevel', () => {
  test('counts answers by status and takes p50 and p99 over the valid images only', () => {
    const requests: SentRequest[] = [
      ...Array.from({ length: 100 }, (_, i) => ({ kind: 'jpeg' as const, status: 200, latencyMs: i + 1 })),
      { kind: 'garbage', status: 415, latencyMs: 0.5 },
      { kind: 'empty', status: 400, latencyMs: 0.5 },
      { kind: 'oversized', status: 413, latencyMs: 5000 },
    ];

    const summary = summarizeLevel(4, requests, 2000);

    expect(summary).toMatchObject({
      concurrency: 4,
      sent: 103,
      answered: 103,
      throughput: 51.5,
      p50: 50,
      p99: 99,
      byStatus: { 200: 100, 400: 1, 413: 1, 415: 1 },
      unexpected: 0,
      unexpectedByKind: {},
    });
  });

  test('counts wrong statuses and unanswered requests as unexpected, by kind and status', () => {
    const requests: SentRequest[] = [
      { kind: 'jpeg', status: 200, latencyMs: 100 },
      { kind: 'png', status: 502, latencyMs: 30 },
      { kind: 'garbage', status: 500, latencyMs: 1 },
      { kind: 'jpeg' },
      { kind: 'jpeg' },
    ];

    const summary = summarizeLevel(16, requests, 1000);

    expect(summary.answered).toBe(3);
    expect(summary.byStatus).toEqual({ 200: 1, 500: 1, 502: 1 });
    expect(summary.unexpected).toBe(4);
    expect(summary.unexpectedByKind).toEqual({ 'png 502': 1, 'garbage 500': 1, 'jpeg no answer': 2 });
  });

  test('has no percentiles when no image was answered, and refuses a wall time that is not positive', () => {
    expect(summarizeLevel(1, [{ kind: 'jpeg' }], 10)).toMatchObject({ p50: undefined, p99: undefined });
    expect(() => summarizeLevel(1, [], 0)).toThrow('wallMs must be positive, got 0');
  });
});
