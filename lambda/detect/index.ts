import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { randomUUID } from 'crypto';
import { calibratedMinScore, FALLBACK_MIN_SCORE, readLiveModel } from './live-model';
import { detect } from './model';
import { header, parseDetectionRequest, sendsMinScore } from './parse';
import { ApiError, baseHeaders, errorResponse, jsonResponse } from './responses';

/**
 * InvokeEndpoint's socket timeout. The function's timeout (lib/api.ts) is above it and API Gateway's 29 s
 * integration timeout above that, so a slow model is answered with our 504, not API Gateway's.
 */
export const MODEL_TIMEOUT_MS = 20_000;

/** Metric names published as CloudWatch EMF under the `LogoDetection` namespace, `service` dimension `detection-api`. */
export const METRICS = {
  /** Handler time per request, in milliseconds. */
  latency: 'Latency',
  /** InvokeEndpoint round trip, in milliseconds. */
  modelLatency: 'ModelLatency',
  /** Detections returned per successful request. */
  detections: 'Detections',
} as const;

// No SDK retries: a retry could outlast API Gateway's 29 s; clients retry on 503/504 using Retry-After.
const sagemaker = new SageMakerRuntimeClient({
  maxAttempts: 1,
  requestHandler: { requestTimeout: MODEL_TIMEOUT_MS, connectionTimeout: 3_000 },
});
const ssm = new SSMClient({});
const logger = new Logger({ serviceName: 'detection-api' });
const metrics = new Metrics({ namespace: 'LogoDetection', serviceName: 'detection-api' });

/** The proxy's settings, from its environment (set by the DetectionApi construct). */
export interface Settings {
  readonly endpointName: string;
  readonly liveModelParameter: string;
  /** `minScore` for requests that send none; undefined: the live model's calibrated threshold. */
  readonly defaultMinScore?: number;
  readonly corsOrigins: string[];
}

/** Reads {@link Settings} from the environment; a missing variable is a deployment error, so it throws. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`Environment variable ${name} is not set`);
    return value;
  };
  // Unset or empty: the live model's calibrated threshold.
  const defaultMinScore = env.DEFAULT_MIN_SCORE ? Number(env.DEFAULT_MIN_SCORE) : undefined;
  if (defaultMinScore !== undefined && !(defaultMinScore >= 0 && defaultMinScore <= 1)) {
    throw new Error(`DEFAULT_MIN_SCORE must be from 0 to 1, got ${env.DEFAULT_MIN_SCORE}`);
  }
  return {
    endpointName: required('ENDPOINT_NAME'),
    liveModelParameter: required('LIVE_MODEL_PARAMETER'),
    defaultMinScore,
    corsOrigins: (env.CORS_ORIGINS ?? '').split(',').filter((origin) => origin !== ''),
  };
}

/** `POST /detections`: validates the request, asks the model and answers its detections. */
export async function postDetections(
  event: APIGatewayProxyEvent,
  settings: Settings,
  requestId: string,
): Promise<object> {
  let request = parseDetectionRequest(event, settings.defaultMinScore ?? FALLBACK_MIN_SCORE);
  let minScoreSource = sendsMinScore(event) ? 'request' : 'configured';
  if (settings.defaultMinScore === undefined && !sendsMinScore(event)) {
    const { minScore, source } = await calibratedMinScore(ssm, settings.liveModelParameter, (error) =>
      logger.warn('live-model record unreadable: default minScore falls back', { cause: describe(error) }),
    );
    request = { ...request, minScore };
    minScoreSource = source;
  }
  const started = Date.now();
  const output = await detect(sagemaker, settings.endpointName, request);
  metrics.addMetric(METRICS.modelLatency, MetricUnit.Milliseconds, Date.now() - started);
  metrics.addMetric(METRICS.detections, MetricUnit.Count, output.detections.length);
  logger.appendKeys({
    imageType: request.imageType,
    imageBytes: request.image.length,
    imagePixels: request.width * request.height,
    detectionCount: output.detections.length,
    minScore: request.minScore,
    minScoreSource,
    modelVersion: output.model.version,
  });
  return { requestId, ...output };
}

/**
 * `GET /model`: the live model's version, validation mAP, serving variant, AP per class, calibrated threshold and
 * report location.
 */
export async function getModel(settings: Settings, requestId: string): Promise<object> {
  return { requestId, model: await readLiveModel(ssm, settings.liveModelParameter) };
}

/**
 * Routes one API Gateway proxy event and turns every failure into the API's error shape; never throws.
 * @param loadSettings - defaults to reading the environment; a missing variable is answered with a 500
 */
export async function route(
  event: APIGatewayProxyEvent,
  loadSettings: () => Settings = settingsFromEnv,
): Promise<APIGatewayProxyResult> {
  const requestId = event.requestContext?.requestId || randomUUID();
  const started = Date.now();
  logger.appendKeys({ requestId, route: `${event.httpMethod} ${event.resource}` });
  let headers = baseHeaders(requestId, undefined, []);
  let response: APIGatewayProxyResult;
  try {
    const settings = loadSettings();
    headers = baseHeaders(requestId, header(event, 'origin'), settings.corsOrigins);
    let body: object;
    if (event.httpMethod === 'POST' && event.resource === '/detections') {
      body = await postDetections(event, settings, requestId);
    } else if (event.httpMethod === 'GET' && event.resource === '/model') {
      body = await getModel(settings, requestId);
    } else {
      throw new ApiError(404, 'NotFound', 'No such route; use POST /detections or GET /model.');
    }
    response = jsonResponse(200, body, headers);
  } catch (error) {
    const apiError =
      error instanceof ApiError ? error : new ApiError(500, 'InternalError', 'Internal error.', {}, error);
    const log = apiError.status >= 500 ? logger.error.bind(logger) : logger.warn.bind(logger);
    log(apiError.message, { status: apiError.status, code: apiError.code, cause: describe(apiError.cause) });
    response = errorResponse(apiError, requestId, headers);
  }
  const latency = Date.now() - started;
  metrics.addMetric(METRICS.latency, MetricUnit.Milliseconds, latency);
  logger.info('request done', { status: response.statusCode, latencyMs: latency });
  logger.resetKeys();
  return response;
}

/** An error's name, message and stack for the log; never sent to the client. */
function describe(cause: unknown): unknown {
  if (cause instanceof Error) {
    const { name, message, stack } = cause;
    return { name, message, stack, metadata: (cause as { $metadata?: unknown }).$metadata };
  }
  return cause;
}

/** The detection API's Lambda proxy: `POST /detections` and `GET /model` behind API Gateway. */
export async function handler(
  event: APIGatewayProxyEvent,
  context?: Context,
): Promise<APIGatewayProxyResult> {
  if (context) logger.addContext(context);
  try {
    return await route(event);
  } finally {
    metrics.publishStoredMetrics();
  }
}
