import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { readFileSync } from 'fs';
import { join } from 'path';
import { parse } from 'yaml';
import { MAX_IMAGE_BYTES, parseDetectionRequest } from '../lambda/detect/parse';
import { ApiError, errorResponse } from '../lambda/detect/responses';
import { DetectionApi } from '../lib/api';
import { newApp } from './app-context';

/** Largest synchronous Lambda request: Lambda answers RequestEntityTooLargeException above 6291456 bytes. */
const LAMBDA_REQUEST_LIMIT = 6 * 1024 * 1024;
/** API Gateway's payload limit for REST APIs. */
const API_GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024;

const openapi = parse(readFileSync(join(__dirname, '..', 'openapi', 'detection-api.yaml'), 'utf8')) as {
  components: {
    responses: Record<
      string,
      { description: string; content: Record<string, { schema: { $ref?: string } }> }
    >;
  };
};
const tooLarge = openapi.components.responses.PayloadTooLarge;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(openapi, 'openapi');
const validateTooLarge = ajv.compile({ $ref: `openapi${tooLarge.content['application/json'].schema.$ref}` });

/**
 * `POST /detections` as API Gateway hands it to the proxy, with the headers of a SigV4-signed request made
 * with temporary credentials (the largest an ordinary client sends), each in `headers` and `multiValueHeaders`.
 */
function proxyEvent(contentType: string, body: string, isBase64Encoded: boolean): APIGatewayProxyEvent {
  const headers: Record<string, string> = {
    Accept: '*/*',
    Authorization: `AWS4-HMAC-SHA256 Credential=ASIA${'X'.repeat(16)}/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=${'f'.repeat(64)}`,
    'Content-Type': contentType,
    Host: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
    'User-Agent': 'python-requests/2.32.3',
    'X-Amz-Date': '20260101T000000Z',
    'X-Amz-Security-Token': 'I'.repeat(2048),
    'X-Amzn-Trace-Id': 'Root=1-67890abc-0123456789abcdef01234567',
    'X-Forwarded-For': '203.0.113.10',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
  };
  return {
    resource: '/detections',
    path: '/detections',
    httpMethod: 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: { minScore: '0.6', maxResults: '10' },
    multiValueQueryStringParameters: { minScore: ['0.6'], maxResults: ['10'] },
    pathParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdef1234',
      authorizer: null,
      domainName: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abcdef1234',
      extendedRequestId: 'AbCdEfGhIjKlMnO=',
      httpMethod: 'POST',
      identity: {
        accessKey: `ASIA${'X'.repeat(16)}`,
        accountId: '123456789012',
        apiKey: null,
        apiKeyId: null,
        caller: 'AROAEXAMPLEEXAMPLE:session',
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '203.0.113.10',
        user: 'AROAEXAMPLEEXAMPLE:session',
        userAgent: 'python-requests/2.32.3',
        userArn: 'arn:aws:sts::123456789012:assumed-role/detection-client/session',
      },
      path: '/v1/detections',
      protocol: 'HTTP/1.1',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      requestTime: '01/Jan/2026:00:00:00 +0000',
      requestTimeEpoch: 1767225600000,
      resourceId: 'abc123',
      resourcePath: '/detections',
      stage: 'v1',
    },
    body,
    isBase64Encoded,
  };
}

const eventBytes = (event: APIGatewayProxyEvent) => Buffer.byteLength(JSON.stringify(event));
const rawEvent = (bytes: number) => proxyEvent('image/jpeg', Buffer.alloc(bytes).toString('base64'), true);
const jsonEvent = (bytes: number) =>
  proxyEvent('application/json', JSON.stringify({ image: 'A'.repeat(bytes - '{"image":""}'.length) }), false);

/** The largest body, in bytes, whose event stays within Lambda's request limit. */
function largestBodyReachingTheProxy(event: (bytes: number) => APIGatewayProxyEvent): number {
  let [fits, over] = [0, LAMBDA_REQUEST_LIMIT];
  while (over - fits > 1) {
    const middle = Math.floor((fits + over) / 2);
    if (eventBytes(event(middle)) <= LAMBDA_REQUEST_LIMIT) fits = middle;
    else over = middle;
  }
  return fits;
}

/** A JPEG signature followed by zeros: enough for the proxy's checks, which stop at the size. */
const jpegOf = (bytes: number) =>
  Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(bytes - 4)]);

describe('request size limits', () => {
  const rawThreshold = largestBodyReachingTheProxy(rawEvent);
  const jsonThreshold = largestBodyReachingTheProxy(jsonEvent);

  test('every image within the contract reaches the proxy, as a raw body or in JSON', () => {
    expect(rawThreshold).toBeGreaterThan(MAX_IMAGE_BYTES);
    const base64Length = Math.ceil(MAX_IMAGE_BYTES / 3) * 4;
    expect(jsonThreshold).toBeGreaterThan(base64Length + '{"image":""}'.length);
  });

  test('the proxy answers its own 413 in the contract shape to an image over the limit that reaches it', () => {
    const size = MAX_IMAGE_BYTES + 1;
    expect(size).toBeLessThanOrEqual(rawThreshold);
    const event = proxyEvent('image/jpeg', jpegOf(size).toString('base64'), true);
    let error: unknown;
    try {
      parseDetectionRequest(event, 0.5);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    const response = errorResponse(error as ApiError, 'req-1', { 'Content-Type': 'application/json' });
    expect(response.statusCode).toBe(413);
    const body = JSON.parse(response.body) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('PayloadTooLarge');
    expect(body.error.message).toContain(`${MAX_IMAGE_BYTES} bytes`);
    expect([validateTooLarge(body), ajv.errorsText(validateTooLarge.errors)]).toEqual([true, 'No errors']);
  });

  test('the contract admits the 413 bodies API Gateway answers itself, which the API cannot reshape', () => {
    expect(validateTooLarge({ message: 'Request Too Long' })).toBe(true);
    expect(Object.keys(tooLarge.content)).toEqual(expect.arrayContaining(['application/json', 'text/plain']));
  });

  test('the contract states where each 413 comes from, in sizes that match Lambda and API Gateway', () => {
    // Documented thresholds ("about 4.7 MB", "about 6.2 MB") must not promise more than reaches the proxy.
    const documented = [
      ...tooLarge.description.matchAll(/(raw image|JSON) body (?:up to|above) about ([\d.]+) MB/g),
    ];
    expect(documented.length).toBeGreaterThanOrEqual(2);
    for (const [, kind, megabytes] of documented) {
      const threshold = kind === 'JSON' ? jsonThreshold : rawThreshold;
      const stated = Number(megabytes) * 1e6;
      expect(stated).toBeLessThanOrEqual(threshold);
      expect(stated).toBeGreaterThan(threshold * 0.98);
    }
    for (const limit of [MAX_IMAGE_BYTES, LAMBDA_REQUEST_LIMIT, API_GATEWAY_PAYLOAD_LIMIT]) {
      expect(tooLarge.description).toContain(`${limit} bytes`);
    }
  });

  test('leaves API Gateway its own 413, which REST APIs cannot customize', () => {
    const stack = new Stack(newApp(), 'Limits');
    const liveModel = new ssm.StringParameter(stack, 'LiveModel', { stringValue: '{"version":null}' });
    new DetectionApi(stack, 'Api', { endpointName: 'e', liveModel });
    const responses = Template.fromStack(stack).findResources('AWS::ApiGateway::GatewayResponse');
    const types = Object.values(responses).map(
      (r) => (r.Properties as { ResponseType: string }).ResponseType,
    );
    expect(types).toContain('DEFAULT_4XX');
    expect(types).not.toContain('REQUEST_TOO_LARGE');
  });
});
