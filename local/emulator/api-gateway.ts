import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { randomUUID } from 'crypto';
import { IncomingHttpHeaders, IncomingMessage, Server, createServer } from 'http';
import { AddressInfo } from 'net';
import { LOOPBACK } from './net';

/** The API's proxy handler, as local mode calls it. */
export type ProxyHandler = (
  event: APIGatewayProxyEvent,
  context: Record<string, unknown>,
) => Promise<APIGatewayProxyResult>;

/** One HTTP request, as the local API server received it. */
export interface LocalRequest {
  readonly method: string;
  /** Path and query, e.g. `/detections?minScore=0.3`. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly sourceIp?: string;
}

/** Media types API Gateway passes to the proxy as base64 when none are configured on the API. */
export const DEFAULT_BINARY_MEDIA_TYPES = ['image/*', 'application/octet-stream'];

/** Whether API Gateway would treat `contentType` as binary, given the API's binaryMediaTypes (`*` wildcards). */
export function isBinary(contentType: string | undefined, binaryMediaTypes: string[]): boolean {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (!type) return false;
  return binaryMediaTypes.some((pattern) => {
    const [wantType, wantSub] = pattern.replace(/~1/g, '/').toLowerCase().split('/');
    const [gotType, gotSub] = type.split('/');
    return (wantType === '*' || wantType === gotType) && (wantSub === '*' || wantSub === gotSub);
  });
}

/**
 * The API Gateway REST proxy event for one request, as API Gateway builds it: headers single and multi-valued,
 * query parameters (null when there are none), a binary body base64-encoded with `isBase64Encoded`, and a
 * request context with a fresh request id. The stage is `local`; there is no authorizer (no auth locally).
 */
export function buildProxyEvent(
  request: LocalRequest,
  binaryMediaTypes: string[] = DEFAULT_BINARY_MEDIA_TYPES,
  requestId: string = randomUUID(),
): APIGatewayProxyEvent {
  const url = new URL(request.url, 'http://localhost');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values[values.length - 1];
    multiValueHeaders[name] = values;
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const binary = isBinary(headers['content-type'], binaryMediaTypes);
  const hasBody = request.body.length > 0;
  const now = Date.now();
  return {
    resource: url.pathname,
    path: url.pathname,
    httpMethod: request.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: hasBody ? request.body.toString(binary ? 'base64' : 'utf8') : null,
    isBase64Encoded: hasBody && binary,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: request.method,
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId,
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: url.pathname,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.sourceIp ?? '127.0.0.1',
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
    },
  };
}

async function readRequest(request: IncomingMessage): Promise<LocalRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return {
    method: request.method ?? 'GET',
    url: request.url ?? '/',
    headers: request.headers,
    body: Buffer.concat(chunks),
    sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, ''),
  };
}

/** One request the local API answered. */
export interface AnsweredRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly status: number;
  readonly latencyMs: number;
  /** The response body. */
  readonly body: Buffer;
}

/**
 * One line for a request the API answered: method, path, status and latency, and for an error the API's code
 * and message (`{"error": {"code", "message"}}`, or API Gateway's `{"message"}`).
 */
export function requestLine(request: AnsweredRequest): string {
  const line = `${request.method} ${request.url} → ${request.status} in ${request.latencyMs} ms`;
  if (request.status < 400) return line;
  let said: string | undefined;
  try {
    const body = JSON.parse(request.body.toString('utf8')) as {
      error?: { code?: string; message?: string };
      message?: string;
    };
    said = body.error ? [body.error.code, body.error.message].filter(Boolean).join(': ') : body.message;
  } catch {
    // not JSON: the status says it
  }
  return said ? `${line}: ${said}` : line;
}

/** A running local API. */
export interface LocalApi {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the real proxy handler over HTTP on 127.0.0.1: every request becomes an API Gateway proxy event, and
 * the handler's result becomes the HTTP response (a base64 body decoded). A handler that throws is answered
 * like API Gateway answers a failed Lambda: 502 with `{"message": "Internal server error"}`.
 */
export async function startApiServer(
  handler: ProxyHandler,
  options: {
    port?: number;
    binaryMediaTypes?: string[];
    onError?: (error: Error) => void;
    /** Called once per request, after the answer is sent (see {@link requestLine}). */
    onRequest?: (request: AnsweredRequest) => void;
  } = {},
): Promise<LocalApi> {
  const server: Server = createServer((request, response) => {
    void (async () => {
      const received = await readRequest(request);
      const started = Date.now();
      const answer = (status: number, headers: Record<string, string | string[]>, body: Buffer) => {
        response.writeHead(status, headers);
        response.end(body);
        const { method, url } = received;
        options.onRequest?.({ method, url, status, latencyMs: Date.now() - started, body });
      };
      const event = buildProxyEvent(received, options.binaryMediaTypes);
      try {
        const result = await handler(event, {
          awsRequestId: randomUUID(),
          functionName: 'local-api-proxy',
          getRemainingTimeInMillis: () => 29000,
        });
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
        for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
          headers[name] = values.map(String);
        answer(
          result.statusCode,
          headers,
          Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8'),
        );
      } catch (error) {
        options.onError?.(error as Error);
        answer(
          502,
          { 'Content-Type': 'application/json' },
          Buffer.from(JSON.stringify({ message: 'Internal server error' })),
        );
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LOOPBACK, resolve);
  });
  return {
    url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
