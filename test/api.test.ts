import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DetectionApi, DetectionApiProps } from '../lib/api';
import { ApiStack } from '../lib/api-stack';
import { loadConfig } from '../lib/config';
import { newApp } from './app-context';

const ENDPOINT = 'LogoDetectionPipeline-detector';

const CUSTOM = { throttleRate: 12, throttleBurst: 34, defaultMinScore: 0.3 };
const synthesized = new Map<string, Template>();

/** A stack holding one DetectionApi; memoized per props because every synthesis bundles the proxy. */
function synth(props: Partial<DetectionApiProps> = {}): { template: Template } {
  const key = JSON.stringify(props);
  if (!synthesized.has(key)) synthesized.set(key, synthFresh(props));
  return { template: synthesized.get(key) as Template };
}

function synthFresh(props: Partial<DetectionApiProps>): Template {
  const stack = new Stack(newApp(), 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
  const liveModel = new ssm.StringParameter(stack, 'LiveModel', { stringValue: '{"version":null}' });
  new DetectionApi(stack, 'Api', { endpointName: ENDPOINT, liveModel, ...props });
  return Template.fromStack(stack);
}

const methods = (template: Template, httpMethod: string) =>
  Object.values(
    template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: httpMethod } }),
  );

describe('DetectionApi', () => {
  test('is a regional REST API passing any image or octet-stream body as bytes', () => {
    synth().template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
      BinaryMediaTypes: ['image/*', 'application/octet-stream'],
    });
  });

  test('routes POST /detections and GET /model to the proxy, declaring the optional query parameters', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'detections' });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'model' });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RequestParameters: {
        'method.request.querystring.minScore': false,
        'method.request.querystring.maxResults': false,
      },
      RequestValidatorId: Match.anyValue(),
      Integration: Match.objectLike({ Type: 'AWS_PROXY', TimeoutInMillis: 29000 }),
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      Integration: Match.objectLike({ Type: 'AWS_PROXY' }),
    });
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
  });

  test('requires SigV4 on every method by default, with no API key or usage plan', () => {
    const { template } = synth();
    const all = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(all).toHaveLength(2);
    for (const method of all) {
      expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(method.Properties.ApiKeyRequired).toBeUndefined();
    }
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
  });

  test('in apiKey mode requires a key on every method, with a throttled usage plan, a daily quota and one key', () => {
    const { template } = synth({ auth: 'apiKey', throttleRate: 5, throttleBurst: 7, quotaPerDay: 1234 });
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
      expect(method.Properties.ApiKeyRequired).toBe(true);
    }
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'HEADER' });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 5, BurstLimit: 7 },
      Quota: { Limit: 1234, Period: 'DAY' },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
  });

  test('throttles the stage, traces it with X-Ray and logs errors, without data tracing', () => {
    synth(CUSTOM).template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 12,
          ThrottlingBurstLimit: 34,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
      ],
    });
  });

  test('writes JSON access logs to its own log group, without an account-level CloudWatch role', () => {
    const { template } = synth();
    const stage = Object.values(template.findResources('AWS::ApiGateway::Stage'))[0];
    const { DestinationArn, Format } = stage.Properties.AccessLogSetting;
    expect(DestinationArn).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
    expect(template.toJSON().Resources[DestinationArn['Fn::GetAtt'][0]].Type).toBe('AWS::Logs::LogGroup');
    const fields = JSON.parse(Format);
    expect(fields).toMatchObject({ requestId: '$context.requestId', status: '$context.status' });
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  test('answers API Gateway errors in the API JSON error shape', () => {
    const { template } = synth();
    for (const [type, code] of [
      ['DEFAULT_4XX', 'ClientError'],
      ['DEFAULT_5XX', 'InternalError'],
      ['THROTTLED', 'Throttled'],
      ['INTEGRATION_TIMEOUT', 'Timeout'],
    ]) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseTemplates: {
          'application/json': `{"error":{"code":"${code}","message":$context.error.messageString},"requestId":"$context.requestId"}`,
        },
      });
    }
  });

  test('says an unknown path may be the reason for a missing-authentication answer', () => {
    const response = Object.values(
      synth().template.findResources('AWS::ApiGateway::GatewayResponse', {
        Properties: { ResponseType: 'MISSING_AUTHENTICATION_TOKEN' },
      }),
    )[0];
    const body = response.Properties.ResponseTemplates['application/json'].replace(
      '$context.requestId',
      'r1',
    );
    expect(JSON.parse(body)).toEqual({
      error: { code: 'MissingAuthentication', message: expect.stringContaining('POST /detections') },
      requestId: 'r1',
    });
  });

  test('has no CORS when no origin is configured', () => {
    const { template } = synth();
    expect(methods(template, 'OPTIONS')).toHaveLength(0);
    for (const response of Object.values(template.findResources('AWS::ApiGateway::GatewayResponse'))) {
      expect(response.Properties.ResponseParameters).toBeUndefined();
      expect(JSON.stringify(response.Properties)).not.toContain('Access-Control');
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CORS_ORIGINS: '' }) },
    });
  });

  test('answers CORS preflights for the configured origins only, without authorization or API key', () => {
    const { template } = synth({ corsOrigins: ['https://app.example.com'], auth: 'apiKey' });
    const preflights = methods(template, 'OPTIONS');
    expect(preflights.length).toBeGreaterThan(0);
    for (const preflight of preflights) {
      // Browsers send preflights without credentials or API keys.
      expect(preflight.Properties.AuthorizationType).toBe('NONE');
      expect(preflight.Properties.ApiKeyRequired).not.toBe(true);
      expect(JSON.stringify(preflight.Properties.Integration)).toContain("'https://app.example.com'");
    }
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      ResponseParameters: {
        'gatewayresponse.header.Access-Control-Allow-Origin': "'https://app.example.com'",
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CORS_ORIGINS: 'https://app.example.com' }) },
    });
  });

  test('runs the proxy on Node.js 24 x86_64 within API Gateway’s 29 s, with its settings in the environment', () => {
    const { template } = synth(CUSTOM);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['x86_64'],
      Handler: 'index.handler',
      Timeout: 25,
      Environment: {
        Variables: Match.objectLike({
          ENDPOINT_NAME: ENDPOINT,
          LIVE_MODEL_PARAMETER: { Ref: Match.anyValue() },
          DEFAULT_MIN_SCORE: '0.3',
        }),
      },
    });
  });

  test("without a configured default minScore the proxy gets none, and uses the live model's threshold", () => {
    const { template } = synth();
    const [proxy] = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.Environment?.Variables?.ENDPOINT_NAME === ENDPOINT,
    );
    expect(proxy.Properties.Environment.Variables.DEFAULT_MIN_SCORE).toBeUndefined();
  });

  test('lets the proxy invoke exactly the one endpoint, read the one parameter and write its own logs', () => {
    const { template } = synth();
    const policies = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(policies).toHaveLength(1);
    const statements = policies[0].Properties.PolicyDocument.Statement as {
      Action: string | string[];
      Resource: unknown;
    }[];
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    expect(actions).toEqual(
      [
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sagemaker:InvokeEndpoint',
        'ssm:DescribeParameters',
        'ssm:GetParameter',
        'ssm:GetParameterHistory',
        'ssm:GetParameters',
      ].sort(),
    );
    const invoke = statements.find((s) => s.Action === 'sagemaker:InvokeEndpoint');
    expect(JSON.stringify(invoke?.Resource)).toContain(
      ':sagemaker:eu-west-1:123456789012:endpoint/logodetectionpipeline-detector',
    );
    const ssmRead = statements.find((s) => [s.Action].flat().includes('ssm:GetParameter'));
    expect(JSON.stringify(ssmRead?.Resource)).toMatch(/parameter/);
    expect(JSON.stringify(ssmRead?.Resource)).not.toContain('*');
    const logsWrite = statements.find((s) => [s.Action].flat().includes('logs:PutLogEvents'));
    expect(logsWrite?.Resource).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
    // No managed policy (AWSLambdaBasicExecutionRole would allow writing to every log group).
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  test('rejects an endpoint name SageMaker would not accept', () => {
    expect(() => synth({ endpointName: 'bad_name' })).toThrow(/endpointName "bad_name"/);
  });

  test('passes cdk-nag AwsSolutions on its own with API keys and CORS preflights', () => {
    const app = newApp();
    const stack = new Stack(app, 'Bare');
    const liveModel = new ssm.StringParameter(stack, 'LiveModel', { stringValue: '{}' });
    new DetectionApi(stack, 'Api', {
      endpointName: ENDPOINT,
      liveModel,
      auth: 'apiKey',
      corsOrigins: ['https://a.example.com', 'https://b.example.com'],
    });
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('ApiStack', () => {
  const templates = new Map<Record<string, unknown>, Template>();
  const stackFor = (context: Record<string, unknown>) => {
    if (templates.has(context)) return templates.get(context) as Template;
    const app = newApp();
    const pipeline = new Stack(app, 'Pipeline');
    const liveModel = new ssm.StringParameter(pipeline, 'LiveModel', { stringValue: '{"version":null}' });
    const config = loadConfig((key) => context[key]);
    const template = Template.fromStack(
      new ApiStack(app, 'Api', { config, endpointName: ENDPOINT, liveModel }),
    );
    templates.set(context, template);
    return template;
  };

  test('outputs the URL, and no API key id in iam mode', () => {
    const template = stackFor({});
    template.hasOutput('ApiUrl', { Value: Match.anyValue() });
    expect(Object.keys(template.findOutputs('ApiKeyId'))).toHaveLength(0);
  });

  const alternative = {
    apiAuth: 'apiKey',
    apiThrottleRate: 3,
    apiThrottleBurst: 4,
    apiDefaultMinScore: 0.7,
    dev: true,
  };

  test('outputs the API key id, never its value, in apiKey mode', () => {
    const template = stackFor(alternative);
    const { Value } = template.findOutputs('ApiKeyId').ApiKeyId;
    // Ref of an AWS::ApiGateway::ApiKey is its id; its value is only readable through the API.
    expect(template.toJSON().Resources[Value.Ref].Type).toBe('AWS::ApiGateway::ApiKey');
  });

  test('passes the configuration through: throttling, default score and log retention in dev', () => {
    const template = stackFor({
      apiThrottleRate: 3,
      apiThrottleBurst: 4,
      apiDefaultMinScore: 0.7,
      dev: true,
    });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 3, ThrottlingBurstLimit: 4 })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DEFAULT_MIN_SCORE: '0.7' }) },
    });
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.DeletionPolicy).toBe('Delete');
    }
  });
});
