import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { ACCEPTED_FORMATS_TEXT, type Detection, MAX_IMAGE_MEGAPIXELS } from '../../contracts';
import { DetectionRequest, MAX_IMAGE_BYTES } from './parse';
import { ApiError } from './responses';

/** What the serving container answers, and the core of the API's 200 response. */
export interface ModelOutput {
  readonly model: { readonly version: string };
  readonly image: { readonly width: number; readonly height: number };
  readonly detections: Detection[];
}

/** Seconds a client should wait before retrying when no model is deployed or the endpoint is not ready. */
export const RETRY_AFTER_NO_MODEL = 300;
export const RETRY_AFTER_NOT_READY = 30;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/**
 * Checks the serving container's answer against the contract. Returns the problems found (empty when the
 * answer is well-formed), so the proxy can log exactly what was wrong.
 */
export function modelOutputProblems(output: unknown): string[] {
  if (!isObject(output)) return ['the answer is not a JSON object'];
  const problems: string[] = [];
  const { model, image, detections } = output;
  if (!isObject(model) || typeof model.version !== 'string' || model.version === '') {
    problems.push('model.version is not a non-empty string');
  }
  if (!isObject(image) || !Number.isInteger(image.width) || !Number.isInteger(image.height)) {
    problems.push('image.width and image.height are not integers');
  } else if ((image.width as number) < 1 || (image.height as number) < 1) {
    problems.push('image.width and image.height are not positive');
  }
  if (!Array.isArray(detections)) return [...problems, 'detections is not an array'];
  detections.forEach((d: unknown, i) => {
    const box = isObject(d) ? d.box : undefined;
    if (
      !isObject(d) ||
      typeof d.label !== 'string' ||
      !isNumber(d.score) ||
      d.score < 0 ||
      d.score > 1 ||
      !isObject(box) ||
      !['left', 'top', 'width', 'height'].every((k) => isNumber(box[k])) ||
      (box.width as number) < 0 ||
      (box.height as number) < 0
    ) {
      problems.push(`detections[${i}] is not {label, score 0..1, box {left, top, width >= 0, height >= 0}}`);
    }
  });
  return problems;
}

/**
 * The detections to return: at least `minScore`, highest score first, at most `maxResults`.
 * The container applies the same limits; applying them again keeps the contract whatever the model answers.
 */
export function selectDetections(detections: Detection[], minScore: number, maxResults: number): Detection[] {
  return detections
    .filter((d) => d.score >= minScore)
    .sort((a, b) => b.score - a.score)
    .slice(0, maxResults)
    .map((d) => ({ label: d.label, score: d.score, box: { ...d.box } }));
}

/** The `CustomAttributes` header the serving container reads: `minScore=<v>;maxResults=<n>`. */
export function customAttributes(request: Pick<DetectionRequest, 'minScore' | 'maxResults'>): string {
  return `minScore=${request.minScore};maxResults=${request.maxResults}`;
}

/**
 * Maps an InvokeEndpoint failure to the client's answer. The SDK error goes along as the cause, to be
 * logged; nothing of it reaches the client.
 */
export function invokeError(error: unknown): ApiError {
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'ValidationError' && /endpoint .* not found/i.test(message)) {
    return new ApiError(
      503,
      'NoModelDeployed',
      'No model is deployed yet: the pipeline has not finished its first deployment. Retry later.',
      { 'Retry-After': String(RETRY_AFTER_NO_MODEL) },
      error,
    );
  }
  if (
    name === 'ModelNotReadyException' ||
    name === 'ServiceUnavailable' ||
    name === 'ThrottlingException' ||
    (name === 'ValidationError' && /not in service|status|updating|creating/i.test(message))
  ) {
    return new ApiError(
      503,
      'ModelUnavailable',
      'The model endpoint is not ready to serve (it is starting, updating or busy). Retry later.',
      { 'Retry-After': String(RETRY_AFTER_NOT_READY) },
      error,
    );
  }
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new ApiError(504, 'ModelTimeout', 'The model did not answer in time. Retry later.', {}, error);
  }
  if (name === 'ModelError') {
    const status = (error as { OriginalStatusCode?: number }).OriginalStatusCode ?? 500;
    // The proxy checked the format, the header and the pixel limit, as the container does; what the container
    // still refuses is the client's to fix: damaged pixel data, or (should the two ever disagree) its own checks.
    if (status === 400) {
      return new ApiError(
        400,
        'InvalidImage',
        'The image could not be decoded: its header is sound but its data is damaged or truncated.',
        {},
        error,
      );
    }
    if (status === 413) {
      return new ApiError(
        413,
        'ImageTooLarge',
        `The model refused the image as too large (limits: ${MAX_IMAGE_MEGAPIXELS} MP, ` +
          `${MAX_IMAGE_BYTES} bytes); downsize it.`,
        {},
        error,
      );
    }
    if (status === 415) {
      return new ApiError(
        415,
        'UnsupportedMediaType',
        `The model refused the image's format; accepted formats are ${ACCEPTED_FORMATS_TEXT}.`,
        {},
        error,
      );
    }
    return new ApiError(502, 'ModelError', 'The model failed to process the image.', {}, error);
  }
  return new ApiError(500, 'InternalError', 'Internal error.', {}, error);
}

/**
 * Sends the image to the endpoint and returns its validated answer, limited to the request's
 * `minScore` and `maxResults`. Throws an {@link ApiError} for every failure.
 */
export async function detect(
  client: SageMakerRuntimeClient,
  endpointName: string,
  request: DetectionRequest,
): Promise<ModelOutput> {
  let body: Uint8Array | undefined;
  try {
    ({ Body: body } = await client.send(
      new InvokeEndpointCommand({
        EndpointName: endpointName,
        ContentType: request.imageType,
        Accept: 'application/json',
        CustomAttributes: customAttributes(request),
        Body: request.image,
      }),
    ));
  } catch (error) {
    throw invokeError(error);
  }
  let output: unknown;
  try {
    output = JSON.parse(Buffer.from(body ?? new Uint8Array()).toString('utf8'));
  } catch (error) {
    throw new ApiError(
      502,
      'InvalidModelResponse',
      'The model answered with something other than JSON.',
      {},
      error,
    );
  }
  const problems = modelOutputProblems(output);
  if (problems.length > 0) {
    throw new ApiError(
      502,
      'InvalidModelResponse',
      'The model answered in an unexpected format.',
      {},
      problems,
    );
  }
  const valid = output as ModelOutput;
  return {
    model: { version: valid.model.version },
    image: { width: valid.image.width, height: valid.image.height },
    detections: selectDetections(valid.detections, request.minScore, request.maxResults),
  };
}
