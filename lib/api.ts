import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { join } from 'path';
import { ApiAuthMode } from './config';

/** Properties of {@link DetectionApi}. */
export interface DetectionApiProps {
  /** Name of the SageMaker endpoint the proxy sends images to (it may not exist yet: the API then answers 503). */
  readonly endpointName: string;
  /** The live-model record answered on `GET /model`. */
  readonly liveModel: ssm.IStringParameter;
  /**
   * How clients authenticate: `iam` (SigV4, `AuthorizationType.IAM` on every method) or `apiKey`
   * (an `x-api-key` header, a usage plan and one key).
   * @default 'iam'
   */
  readonly auth?: ApiAuthMode;
  /** @default 10 - steady-state requests per second across the stage (and per key in `apiKey` mode) */
  readonly throttleRate?: number;
  /** @default 20 - burst of requests above the rate */
  readonly throttleBurst?: number;
  /** @default 10000 - requests per API key per day (only in `apiKey` mode) */
  readonly quotaPerDay?: number;
  /** @default [] - no CORS: browsers on other origins cannot call the API */
  readonly corsOrigins?: string[];
  /**
   * `minScore` when the client does not give one, 0 to 1.
   * @default - the live model's calibrated threshold (the record's `threshold`), or 0.5 when it has none
   */
  readonly defaultMinScore?: number;
  /** @default RemovalPolicy.RETAIN - what happens to the access and function logs on stack deletion */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** API Gateway's integration timeout; the proxy must answer before it. */
const INTEGRATION_TIMEOUT = Duration.seconds(29);
/** Above the proxy's 20 s InvokeEndpoint timeout (lambda/detect/index.ts), below the integration timeout. */
const PROXY_TIMEOUT = Duration.seconds(25);

/**
 * API Gateway's own errors (authentication, throttling, unknown paths, its timeouts) in the API's error shape
 * `{"error": {"code", "message"}, "requestId"}`, with the codes documented in openapi/detection-api.yaml.
 * Not REQUEST_TOO_LARGE: API Gateway does not support customizing its 413 for REST APIs, so the contract
 * documents that 413's own body instead.
 */
const GATEWAY_ERRORS: [apigateway.ResponseType, string, string?][] = [
  [apigateway.ResponseType.DEFAULT_4XX, 'ClientError'],
  [apigateway.ResponseType.DEFAULT_5XX, 'InternalError'],
  [apigateway.ResponseType.ACCESS_DENIED, 'AccessDenied'],
  // API Gateway answers an unknown path or method this way too, so the message says both.
  [
    apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
    'MissingAuthentication',
    'Missing authentication, or no such path or method: the API has POST /detections and GET /model.',
  ],
  [apigateway.ResponseType.INVALID_SIGNATURE, 'InvalidSignature'],
  [apigateway.ResponseType.EXPIRED_TOKEN, 'ExpiredToken'],
  [apigateway.ResponseType.INVALID_API_KEY, 'InvalidApiKey'],
  [apigateway.ResponseType.THROTTLED, 'Throttled'],
  [apigateway.ResponseType.QUOTA_EXCEEDED, 'QuotaExceeded'],
  [apigateway.ResponseType.BAD_REQUEST_PARAMETERS, 'InvalidParameter'],
  [apigateway.ResponseType.BAD_REQUEST_BODY, 'InvalidRequestBody'],
  [apigateway.ResponseType.UNSUPPORTED_MEDIA_TYPE, 'UnsupportedMediaType'],
  [apigateway.ResponseType.INTEGRATION_TIMEOUT, 'Timeout'],
];

/** SageMaker names: letters, digits and single hyphens, at most 63 characters. */
const ENDPOINT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

/**
 * The detection API: a regional REST API (`POST /detections`, `GET /model`) and its Lambda proxy in front of
 * the SageMaker endpoint. Authenticated by default (SigV4), throttled, access-logged as JSON, traced with X-Ray;
 * API Gateway's own errors use the API's JSON error shape. The contract is openapi/detection-api.yaml.
 */
export class DetectionApi extends Construct {
  /** The REST API. */
  public readonly api: apigateway.RestApi;
  /** The Lambda proxy. */
  public readonly proxy: lambda.IFunction;
  /** The stage URL, ending in `/`; append `detections` or `model`. */
  public readonly url: string;
  /** The id of the API key (only in `apiKey` mode); its value is read with `aws apigateway get-api-key`. */
  public readonly apiKeyId?: string;
  /** The access-log group (one JSON line per request). */
  public readonly accessLogs: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: DetectionApiProps) {
    super(scope, id);
    const auth = props.auth ?? 'iam';
    const throttle = { rateLimit: props.throttleRate ?? 10, burstLimit: props.throttleBurst ?? 20 };
    const corsOrigins = props.corsOrigins ?? [];
    const { defaultMinScore } = props;
    const removalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;
    if (!ENDPOINT_NAME.test(props.endpointName)) {
      throw new Error(
        `DetectionApi: endpointName "${props.endpointName}" is not a SageMaker endpoint name ` +
          '(letters, digits and single hyphens, at most 63 characters, known at synthesis)',
      );
    }
    if (defaultMinScore !== undefined && !(defaultMinScore >= 0 && defaultMinScore <= 1)) {
      throw new Error(`DetectionApi: defaultMinScore must be from 0 to 1, got ${defaultMinScore}`);
    }

    // A role of our own rather than the default one, whose AWSLambdaBasicExecutionRole may write to any log group.
    const role = new iam.Role(this, 'ProxyRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'Detection API proxy: invoke the one endpoint, read the live-model record, write its logs.',
    });
    const proxyLogs = new logs.LogGroup(this, 'ProxyLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy,
    });
    proxyLogs.grantWrite(role);
    const proxy = new NodejsFunction(this, 'Proxy', {
      description: 'Detection API proxy: validates requests and sends images to the SageMaker endpoint.',
      entry: join(__dirname, '..', 'lambda', 'detect', 'index.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.X86_64,
      // Room for a 4 MiB image, its base64 form and the decoded copy.
      memorySize: 512,
      timeout: PROXY_TIMEOUT,
      role,
      logGroup: proxyLogs,
      environment: {
        ENDPOINT_NAME: props.endpointName,
        LIVE_MODEL_PARAMETER: props.liveModel.parameterName,
        // Unset: the proxy reads the live model's calibrated threshold.
        ...(defaultMinScore === undefined ? {} : { DEFAULT_MIN_SCORE: String(defaultMinScore) }),
        CORS_ORIGINS: corsOrigins.join(','),
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: { minify: true, sourceMap: true, format: OutputFormat.CJS },
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sagemaker:InvokeEndpoint'],
        // SageMaker lower-cases resource names in its ARNs.
        resources: [
          Stack.of(this).formatArn({
            service: 'sagemaker',
            resource: 'endpoint',
            resourceName: props.endpointName.toLowerCase(),
          }),
        ],
      }),
    );
    props.liveModel.grantRead(role);
    this.proxy = proxy;

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy,
    });
    const api = new apigateway.RestApi(this, 'Api', {
      description: 'logo-detection: send an image, get the objects found.',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      // Any image type or octet-stream body reaches the proxy intact (base64-encoded); its bytes decide the format.
      binaryMediaTypes: ['image/*', 'application/octet-stream'],
      // The account-wide CloudWatch role is an account singleton; see the README's deploy prerequisites.
      cloudWatchRole: false,
      apiKeySourceType: auth === 'apiKey' ? apigateway.ApiKeySourceType.HEADER : undefined,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        throttlingRateLimit: throttle.rateLimit,
        throttlingBurstLimit: throttle.burstLimit,
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigateway.AccessLogField.contextRequestId(),
            requestTime: apigateway.AccessLogField.contextRequestTime(),
            httpMethod: apigateway.AccessLogField.contextHttpMethod(),
            resourcePath: apigateway.AccessLogField.contextResourcePath(),
            status: apigateway.AccessLogField.contextStatus(),
            responseLength: apigateway.AccessLogField.contextResponseLength(),
            responseLatency: apigateway.AccessLogField.contextResponseLatency(),
            integrationLatency: apigateway.AccessLogField.contextIntegrationLatency(),
            integrationStatus: apigateway.AccessLogField.contextIntegrationStatus(),
            errorResponseType: apigateway.AccessLogField.contextErrorResponseType(),
            errorMessage: apigateway.AccessLogField.contextErrorMessage(),
            sourceIp: apigateway.AccessLogField.contextIdentitySourceIp(),
            caller: apigateway.AccessLogField.contextIdentityUserArn(),
            apiKeyId: apigateway.AccessLogField.contextIdentityApiKeyId(),
            xrayTraceId: apigateway.AccessLogField.contextXrayTraceId(),
          }),
        ),
      },
      defaultMethodOptions:
        auth === 'iam'
          ? { authorizationType: apigateway.AuthorizationType.IAM }
          : { authorizationType: apigateway.AuthorizationType.NONE, apiKeyRequired: true },
      defaultCorsPreflightOptions:
        corsOrigins.length > 0
          ? {
              allowOrigins: corsOrigins,
              allowMethods: ['GET', 'POST', 'OPTIONS'],
              allowHeaders: [
                'Content-Type',
                'Authorization',
                'X-Amz-Date',
                'X-Amz-Security-Token',
                'X-Amz-Content-Sha256',
                'X-Api-Key',
              ],
              maxAge: Duration.hours(1),
            }
          : undefined,
    });
    this.api = api;
    this.url = api.url;

    // Only what API Gateway can check: declared query parameters; the proxy validates the rest and the body.
    const validator = api.addRequestValidator('Validator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const integration = new apigateway.LambdaIntegration(proxy, { timeout: INTEGRATION_TIMEOUT });
    api.root.addResource('detections').addMethod('POST', integration, {
      requestValidator: validator,
      requestParameters: {
        'method.request.querystring.minScore': false,
        'method.request.querystring.maxResults': false,
      },
    });
    api.root.addResource('model').addMethod('GET', integration, { requestValidator: validator });

    // With one allowed origin a browser can read API Gateway's own errors too; a static header cannot list several.
    const corsHeaders =
      corsOrigins.length === 1
        ? { 'Access-Control-Allow-Origin': `'${corsOrigins[0]}'`, Vary: "'Origin'" }
        : undefined;
    for (const [type, code, message] of GATEWAY_ERRORS) {
      api.addGatewayResponse(`Gateway${code}`, {
        type,
        responseHeaders: corsHeaders,
        templates: {
          'application/json':
            `{"error":{"code":"${code}","message":${message ? JSON.stringify(message) : '$context.error.messageString'}},` +
            '"requestId":"$context.requestId"}',
        },
      });
    }

    if (auth === 'apiKey') {
      const plan = api.addUsagePlan('UsagePlan', {
        description: 'logo-detection API clients: per-key throttling and a daily quota.',
        throttle,
        quota: { limit: props.quotaPerDay ?? 10000, period: apigateway.Period.DAY },
        apiStages: [{ api, stage: api.deploymentStage }],
      });
      const key = api.addApiKey('ApiKey', { description: 'logo-detection API key.' });
      plan.addApiKey(key);
      this.apiKeyId = key.keyId;
    }

    this.acknowledgeNagFindings(auth);
  }

  private acknowledgeNagFindings(auth: ApiAuthMode): void {
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'No WAF web ACL by default: every method requires SigV4 or an API key and the stage is throttled; ' +
        'a web ACL costs a monthly fee and its rules depend on the client base. To add one, associate a ' +
        'wafv2.CfnWebACL with the stage (CfnWebACLAssociation on api.deploymentStage.stageArn).',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'Clients are services and apps holding AWS credentials (SigV4) or an API key, by design; the API has no ' +
        'end users to sign in, so there is no Cognito user pool.',
    });
    for (const preflight of this.api.methods.filter((m) => m.httpMethod === 'OPTIONS')) {
      Validations.of(preflight).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'CORS preflight (OPTIONS) for the configured origins: browsers send it without credentials, so it ' +
          'cannot require authorization; it answers only CORS headers and never reaches the proxy.',
      });
    }
    if (auth === 'apiKey') {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'apiAuth=apiKey was chosen: every method requires an API key tied to a usage plan with throttling ' +
          'and a daily quota; use apiAuth=iam for SigV4 authorization.',
      });
    }
  }
}
