import { IncomingMessage, ServerResponse, createServer } from 'http';
import { AddressInfo } from 'net';
import { LOOPBACK } from './net';

/** A running SageMaker runtime shim. */
export interface RuntimeShim {
  /** `http://127.0.0.1:<port>`: what AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points at. */
  readonly endpoint: string;
  close(): Promise<void>;
}

function runtimeError(response: ServerResponse, status: number, type: string, message: string): void {
  response.writeHead(status, { 'Content-Type': 'application/json', 'x-amzn-ErrorType': type });
  response.end(JSON.stringify({ message }));
}

/**
 * A local stand-in for the SageMaker runtime service: `POST /endpoints/<name>/invocations` is forwarded, with
 * its body, Content-Type, Accept and X-Amzn-SageMaker-Custom-Attributes, to the `/invocations` of the model
 * server `portOf(name)` names, as SageMaker hosting forwards to its container. Errors are answered as SageMaker
 * answers them, so the AWS SDK raises the same exceptions: an unknown endpoint is a `ValidationError`, a
 * non-2xx answer of the model a `ModelError` carrying the model's status and message, and a model server that
 * does not answer `ServiceUnavailable`.
 */
export async function startRuntimeShim(
  portOf: (endpointName: string) => number | undefined,
): Promise<RuntimeShim> {
  const server = createServer((request, response) => {
    invoke(request, response, portOf).catch((error: Error) =>
      runtimeError(response, 500, 'InternalFailure', error.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return {
    endpoint: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function invoke(
  request: IncomingMessage,
  response: ServerResponse,
  portOf: (endpointName: string) => number | undefined,
): Promise<void> {
  const match = /^\/endpoints\/([^/]+)\/invocations$/.exec(request.url ?? '');
  if (request.method !== 'POST' || !match) {
    return runtimeError(
      response,
      404,
      'UnknownOperationException',
      `No such operation: ${request.method} ${request.url}`,
    );
  }
  const endpointName = decodeURIComponent(match[1]);
  const port = portOf(endpointName);
  if (!port) {
    return runtimeError(
      response,
      400,
      'ValidationError',
      `Endpoint ${endpointName} of account 123456789012 not found.`,
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'accept', 'x-amzn-sagemaker-custom-attributes']) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  let upstream: Response;
  try {
    upstream = await fetch(`http://${LOOPBACK}:${port}/invocations`, {
      method: 'POST',
      headers,
      body: Buffer.concat(chunks),
    });
  } catch (error) {
    return runtimeError(
      response,
      503,
      'ServiceUnavailable',
      `The endpoint did not answer: ${(error as Error).message}`,
    );
  }
  const body = Buffer.from(await upstream.arrayBuffer());
  if (!upstream.ok) {
    const original = body.toString('utf8');
    const side = upstream.status >= 500 ? 'server' : 'client';
    response.writeHead(424, { 'Content-Type': 'application/json', 'x-amzn-ErrorType': 'ModelError' });
    response.end(
      JSON.stringify({
        ErrorCode: `${side.toUpperCase()}_ERROR_FROM_MODEL`,
        Message: `Received ${side} error (${upstream.status}) from primary with message "${original}".`,
        OriginalMessage: original,
        OriginalStatusCode: upstream.status,
        LogStreamArn: `arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/${endpointName}`,
      }),
    );
    return;
  }
  const out: Record<string, string> = {
    'Content-Type': upstream.headers.get('content-type') ?? 'application/json',
    'x-Amzn-Invoked-Production-Variant': 'AllTraffic',
  };
  const attributes = upstream.headers.get('x-amzn-sagemaker-custom-attributes');
  if (attributes) out['X-Amzn-SageMaker-Custom-Attributes'] = attributes;
  response.writeHead(200, out);
  response.end(body);
}
