import type { APIGatewayProxyResult } from 'aws-lambda';

/** The body of every error response: a stable machine-readable code, a message for people, the request id. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
  readonly requestId: string;
}

/**
 * An error answered to the client as-is: its status, code and message are part of the API contract
 * (openapi/detection-api.yaml), so they must never carry internals. `cause` is logged, never sent.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'ApiError';
  }
}

/** Response headers every answer carries, plus CORS headers when the request's origin is allowed. */
export function baseHeaders(requestId: string, origin: string | undefined, corsOrigins: readonly string[]) {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    'x-request-id': requestId,
  };
  if (corsOrigins.length > 0) {
    headers.Vary = 'Origin';
    if (origin !== undefined && corsOrigins.includes(origin)) {
      headers['Access-Control-Allow-Origin'] = origin;
      headers['Access-Control-Expose-Headers'] = 'x-request-id,Retry-After';
    }
  }
  return headers;
}

/** A JSON response with the request id in the body and in the `x-request-id` header. */
export function jsonResponse(
  status: number,
  body: object,
  headers: Record<string, string>,
): APIGatewayProxyResult {
  return { statusCode: status, headers, body: JSON.stringify(body) };
}

/** The error response for `error`, in the shape of {@link ErrorBody}. */
export function errorResponse(
  error: ApiError,
  requestId: string,
  headers: Record<string, string>,
): APIGatewayProxyResult {
  const body: ErrorBody = { error: { code: error.code, message: error.message }, requestId };
  return jsonResponse(error.status, body, { ...headers, ...error.headers });
}
