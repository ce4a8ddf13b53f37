import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { readFileSync } from 'fs';
import { join } from 'path';
import sharp from 'sharp';
import { parse } from 'yaml';

/** The OpenAPI document, parsed. */
export const OPENAPI = parse(
  readFileSync(join(__dirname, '..', '..', '..', 'openapi', 'detection-api.yaml'), 'utf8'),
) as OpenApi;

interface Ref {
  $ref: string;
}
interface ResponseSpec {
  headers?: Record<string, Ref | { required?: boolean }>;
  content?: Record<string, { schema: object }>;
}
interface OpenApi {
  paths: Record<string, Record<string, { responses: Record<string, ResponseSpec | Ref> }>>;
}

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(OPENAPI, 'openapi');

function resolve<T>(node: T | Ref): T {
  if (typeof node === 'object' && node !== null && '$ref' in node) {
    const path = node.$ref.replace(/^#\//, '').split('/');
    return path.reduce(
      (at: Record<string, unknown>, key) => at[key] as Record<string, unknown>,
      OPENAPI as never,
    ) as T;
  }
  return node;
}

/**
 * The ways `response` breaks the OpenAPI contract of `method path`: an undocumented status, a content type or
 * body that does not match, a required header missing. Empty when it conforms.
 */
export function contractViolations(method: string, path: string, response: APIGatewayProxyResult): string[] {
  const operation = OPENAPI.paths[path]?.[method.toLowerCase()];
  if (!operation) return [`${method} ${path} is not in the OpenAPI document`];
  const declared = operation.responses[String(response.statusCode)];
  if (!declared) return [`status ${response.statusCode} is not documented for ${method} ${path}`];
  const spec = resolve(declared);
  const headers = Object.fromEntries(
    Object.entries(response.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
  );
  const violations: string[] = [];
  for (const [name, header] of Object.entries(spec.headers ?? {})) {
    if (resolve(header).required && headers[name.toLowerCase()] === undefined) {
      violations.push(`required header ${name} is missing`);
    }
  }
  const contentType = headers['content-type'];
  const content = spec.content?.[contentType];
  if (!content) return [...violations, `content type ${contentType} is not documented`];
  const validate = ajv.compile(
    '$ref' in content.schema ? { $ref: `openapi${(content.schema as Ref).$ref}` } : content.schema,
  );
  if (!validate(JSON.parse(response.body))) {
    violations.push(`body ${response.body.slice(0, 200)} does not match: ${ajv.errorsText(validate.errors)}`);
  }
  return violations;
}

/** An API Gateway REST proxy event, as the DetectionApi's methods send it. */
export function apiEvent(options: {
  method?: string;
  resource?: string;
  headers?: Record<string, string>;
  body?: string | null;
  isBase64Encoded?: boolean;
  query?: Record<string, string[]>;
  requestId?: string;
}): APIGatewayProxyEvent {
  const query = options.query;
  const resource = options.resource ?? '/detections';
  return {
    httpMethod: options.method ?? 'POST',
    resource,
    path: resource,
    headers: options.headers ?? {},
    multiValueHeaders: Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k, [v]])),
    body: options.body ?? null,
    isBase64Encoded: options.isBase64Encoded ?? false,
    queryStringParameters: query
      ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, v[v.length - 1]]))
      : null,
    multiValueQueryStringParameters: query ?? null,
    pathParameters: null,
    stageVariables: null,
    requestContext: { requestId: options.requestId ?? 'req-123' } as APIGatewayProxyEvent['requestContext'],
  };
}

/** A small real JPEG or PNG, made with sharp. */
export async function makeImage(format: 'jpeg' | 'png', width = 64, height = 48): Promise<Buffer> {
  const image = sharp({ create: { width, height, channels: 3, background: { r: 200, g: 90, b: 40 } } });
  return format === 'jpeg' ? image.jpeg().toBuffer() : image.png().toBuffer();
}

/** A raw-image request as API Gateway passes it with binary media types on: base64 body, isBase64Encoded. */
export function imageEvent(bytes: Buffer, contentType: string, query?: Record<string, string[]>) {
  return apiEvent({
    headers: { 'Content-Type': contentType },
    body: bytes.toString('base64'),
    isBase64Encoded: true,
    query,
  });
}
