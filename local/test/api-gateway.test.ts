import type { APIGatewayProxyEvent } from 'aws-lambda';
import {
  AnsweredRequest,
  buildProxyEvent,
  isBinary,
  requestLine,
  startApiServer,
} from '../emulator/api-gateway';

const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0xff, 0xd9]);

describe('API Gateway proxy events built by the local API', () => {
  test('an image body is base64 with isBase64Encoded, as API Gateway passes binary media types', () => {
    const event = buildProxyEvent(
      { method: 'POST', url: '/detections', headers: { 'content-type': 'image/jpeg' }, body: jpeg },
      ['image/*'],
      'req-1',
    );
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body!, 'base64').equals(jpeg)).toBe(true);
    expect(event).toMatchObject({
      httpMethod: 'POST',
      resource: '/detections',
      path: '/detections',
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      pathParameters: null,
      requestContext: { requestId: 'req-1', stage: 'local', httpMethod: 'POST', resourcePath: '/detections' },
    });
  });

  test('a JSON body stays text, and query parameters are single- and multi-valued', () => {
    const event = buildProxyEvent(
      {
        method: 'POST',
        url: '/detections?minScore=0.3&maxResults=5&tag=a&tag=b',
        headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'curl/8' },
        body: Buffer.from('{"a":1}'),
      },
      ['image/*'],
    );
    expect(event.isBase64Encoded).toBe(false);
    expect(event.body).toBe('{"a":1}');
    expect(event.queryStringParameters).toEqual({ minScore: '0.3', maxResults: '5', tag: 'b' });
    expect(event.multiValueQueryStringParameters).toEqual({
      minScore: ['0.3'],
      maxResults: ['5'],
      tag: ['a', 'b'],
    });
    expect(event.headers['user-agent']).toBe('curl/8');
    expect(event.requestContext.identity.userAgent).toBe('curl/8');
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('no body gives a null body; every request gets its own request id', () => {
    const request = { method: 'GET', url: '/model', headers: {}, body: Buffer.alloc(0) };
    const a = buildProxyEvent(request);
    const b = buildProxyEvent(request);
    expect(a.body).toBeNull();
    expect(a.isBase64Encoded).toBe(false);
    expect(a.requestContext.requestId).not.toBe(b.requestContext.requestId);
  });

  test('binary media types match with wildcards and CloudFormation escaping', () => {
    expect(isBinary('image/png', ['image/*'])).toBe(true);
    expect(isBinary('image/png', ['image~1*'])).toBe(true);
    expect(isBinary('text/plain', ['*/*'])).toBe(true);
    expect(isBinary('application/json', ['image/*', 'application/octet-stream'])).toBe(false);
    expect(isBinary(undefined, ['*/*'])).toBe(false);
  });
});

describe('local API server', () => {
  test('passes requests to the handler as proxy events and returns its results, base64 bodies decoded', async () => {
    const seen: APIGatewayProxyEvent[] = [];
    const api = await startApiServer(async (event) => {
      seen.push(event);
      if (event.httpMethod === 'GET') return { statusCode: 200, body: JSON.stringify({ ok: true }) };
      return {
        statusCode: 201,
        headers: { 'Content-Type': 'image/jpeg', 'X-Request-Id': event.requestContext.requestId },
        body: event.body!,
        isBase64Encoded: true,
      };
    });
    try {
      const response = await fetch(`${api.url}/detections?minScore=0.5`, {
        method: 'POST',
        headers: { 'Content-Type': 'image/jpeg' },
        body: jpeg,
      });
      expect(response.status).toBe(201);
      expect(Buffer.from(await response.arrayBuffer()).equals(jpeg)).toBe(true);
      expect(response.headers.get('x-request-id')).toBe(seen[0].requestContext.requestId);
      expect(seen[0].queryStringParameters).toEqual({ minScore: '0.5' });
      expect(seen[0].isBase64Encoded).toBe(true);

      const json = await fetch(`${api.url}/model`);
      expect(await json.json()).toEqual({ ok: true });
    } finally {
      await api.close();
    }
  });

  test('a handler that throws is answered 502 like API Gateway answers a failed Lambda, without internals', async () => {
    const errors: Error[] = [];
    const api = await startApiServer(
      async () => {
        throw new Error('secret detail');
      },
      { onError: (error) => errors.push(error) },
    );
    try {
      const response = await fetch(`${api.url}/detections`, { method: 'POST', body: 'x' });
      expect(response.status).toBe(502);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({ message: 'Internal server error' });
      expect(text).not.toContain('secret');
      expect(errors.map((e) => e.message)).toEqual(['secret detail']);
    } finally {
      await api.close();
    }
  });

  test('reports each request once it is answered, for one line per request', async () => {
    const answered: AnsweredRequest[] = [];
    const api = await startApiServer(
      async (event) =>
        event.httpMethod === 'GET'
          ? { statusCode: 200, body: '{"model":{}}' }
          : {
              statusCode: 415,
              body: JSON.stringify({
                error: { code: 'UnsupportedMediaType', message: 'Send a JPEG or PNG image.' },
                requestId: 'r',
              }),
            },
      { onRequest: (request) => answered.push(request) },
    );
    try {
      await (await fetch(`${api.url}/model`)).text();
      await (await fetch(`${api.url}/detections?minScore=0.3`, { method: 'POST', body: 'x' })).text();
    } finally {
      await api.close();
    }

    expect(answered.map(({ method, url, status }) => [method, url, status])).toEqual([
      ['GET', '/model', 200],
      ['POST', '/detections?minScore=0.3', 415],
    ]);
    expect(requestLine({ ...answered[1], latencyMs: 3 })).toBe(
      'POST /detections?minScore=0.3 → 415 in 3 ms: UnsupportedMediaType: Send a JPEG or PNG image.',
    );
    expect(requestLine({ ...answered[0], latencyMs: 12 })).toBe('GET /model → 200 in 12 ms');
    expect(
      requestLine({
        method: 'POST',
        url: '/detections',
        status: 502,
        latencyMs: 5,
        body: Buffer.from('{"message":"Internal server error"}'),
      }),
    ).toBe('POST /detections → 502 in 5 ms: Internal server error');
  });
});
