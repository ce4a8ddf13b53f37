import { randomUUID } from 'crypto';
import { Json, cloneJson } from './asl';
import { callDynamoDb } from './dynamodb';
import { LocalFunction } from './resources';
import { TaskImplementation, TaskImplementations } from './runner';
import { LocalSageMaker, asTaskOutput } from './sagemaker';
import { LocalStepFunctions } from './sfn-shim';

/** A Lambda handler as local mode calls it. */
export type Handler = (event: Json, context: Record<string, unknown>) => Promise<Json>;

/** The local services Step Functions' integrations call. */
export interface IntegrationServices {
  /** The app's Lambda functions (ARN → handler folder, environment). */
  readonly functions: LocalFunction[];
  /** Loaded handlers by {@link LocalFunction.handlerDir}. */
  readonly handlers: Record<string, Handler>;
  readonly sagemaker: LocalSageMaker;
  readonly sfn: LocalStepFunctions;
  /**
   * Called once a `.waitForTaskToken` task's handler has returned: the operator's part (e.g. importing labels),
   * which ends with someone calling SendTaskSuccess or SendTaskFailure on the token.
   */
  readonly onWaitForTaskToken: (stateName: string, payload: Json) => Promise<void>;
  readonly log: (message: string) => void;
}

function lambdaError(error: Error): Error {
  const named = new Error(
    JSON.stringify({
      errorMessage: error.message,
      errorType: error.name,
      trace: (error.stack ?? '').split('\n'),
    }),
  );
  named.name = error.name || 'Error';
  return named;
}

/**
 * Step Functions' service integrations on this machine, chosen by a task's resource ARN: Lambda (plain ARN,
 * `lambda:invoke` and `.waitForTaskToken`, the handlers called in-process with their function's environment),
 * `sagemaker:createTrainingJob.sync`, `sagemaker:createTransformJob.sync` and the SageMaker API ({@link LocalSageMaker}), and optimized or AWS SDK
 * tasks of S3, SSM, SNS, Step Functions and DynamoDB ({@link awsServiceTask}). Undefined for any other resource.
 */
export function serviceIntegrations(services: IntegrationServices): TaskImplementations {
  const functionFor = (nameOrArn: string): LocalFunction => {
    const unqualified = nameOrArn.replace(/^(arn:aws:lambda:[^:]+:[^:]+:function:[^:]+):.*$/, '$1');
    const fn = services.functions.find(
      (f) => f.arn === unqualified || f.arn.endsWith(`:function:${unqualified}`),
    );
    if (!fn) throw new Error(`No Lambda function of the app is called ${nameOrArn}`);
    return fn;
  };

  const invokeLambda = async (nameOrArn: string, payload: Json): Promise<Json> => {
    const fn = functionFor(nameOrArn);
    const handler = services.handlers[fn.handlerDir];
    if (!handler) throw new Error(`No handler loaded for lambda/${fn.handlerDir}`);
    Object.assign(process.env, fn.environment);
    const requestId = randomUUID();
    const lambdaContext = {
      awsRequestId: requestId,
      functionName: fn.arn.split(':').pop(),
      functionVersion: '$LATEST',
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: String(fn.memorySize),
      logGroupName: `/aws/lambda/${fn.arn.split(':').pop()}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => 900000,
    };
    try {
      return (await handler(cloneJson(payload), lambdaContext)) ?? null;
    } catch (error) {
      throw lambdaError(error as Error);
    }
  };

  return (state: string, resource: string): TaskImplementation | undefined => {
    if (resource.startsWith('arn:aws:lambda:')) return (input) => invokeLambda(resource, input);
    if (resource === 'arn:aws:states:::lambda:invoke') {
      return async (input) => {
        const { FunctionName, Payload } = input as { FunctionName: string; Payload: Json };
        const result = await invokeLambda(FunctionName, Payload);
        return { ExecutedVersion: '$LATEST', Payload: result, StatusCode: 200 };
      };
    }
    if (resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
      return async (input) => {
        const { FunctionName, Payload } = input as { FunctionName: string; Payload: Json };
        const { token, result } = services.sfn.claimToken();
        if (!JSON.stringify(Payload).includes(token)) {
          throw new Error(
            `${state}: the payload does not carry $$.Task.Token, so nothing could ever resume it`,
          );
        }
        await invokeLambda(FunctionName, Payload);
        services.log(`⏸ ${state}: waiting for the task token to be sent back`);
        await services.onWaitForTaskToken(state, Payload);
        return result;
      };
    }
    if (resource === 'arn:aws:states:::sagemaker:createTrainingJob.sync') {
      return (input) => services.sagemaker.trainingJob(input as Record<string, unknown>);
    }
    if (resource === 'arn:aws:states:::sagemaker:createTransformJob.sync') {
      return (input) => services.sagemaker.transformJob(input as Record<string, unknown>);
    }
    const sagemaker = /^arn:aws:states:::(?:aws-sdk:)?sagemaker:([A-Za-z]+)$/.exec(resource);
    if (sagemaker) return (input) => services.sagemaker.call(sagemaker[1], input as Record<string, unknown>);
    return awsServiceTask(resource);
  };
}

/**
 * An optimized or AWS SDK task of S3, SSM, SNS or Step Functions ({@link callAwsSdk}: moto, or the local Step
 * Functions endpoint) or of DynamoDB ({@link callDynamoDb} on moto); undefined for any other resource.
 */
export function awsServiceTask(resource: string): TaskImplementation | undefined {
  const sdk = /^arn:aws:states:::(?:aws-sdk:)?(s3|ssm|sns|sfn):([A-Za-z0-9]+)$/.exec(resource);
  if (sdk) return (input) => callAwsSdk(sdk[1], sdk[2], input as Record<string, unknown>);
  const dynamodb = /^arn:aws:states:::(aws-sdk:)?dynamodb:([A-Za-z]+)$/.exec(resource);
  if (dynamodb) {
    // The optimized integration names errors DynamoDB.<type>, the AWS SDK integration DynamoDb.<type>.
    const prefix = dynamodb[1] ? 'DynamoDb' : 'DynamoDB';
    const action = `${dynamodb[2][0].toUpperCase()}${dynamodb[2].slice(1)}`;
    return async (input) => {
      try {
        return await callDynamoDb(action, input as Record<string, unknown>);
      } catch (error) {
        const named = new Error((error as Error).message);
        named.name = `${prefix}.${(error as Error).name}`;
        throw named;
      }
    };
  }
  return undefined;
}

const SDK_CLIENTS: Record<string, [string, string]> = {
  s3: ['@aws-sdk/client-s3', 'S3Client'],
  ssm: ['@aws-sdk/client-ssm', 'SSMClient'],
  sns: ['@aws-sdk/client-sns', 'SNSClient'],
  sfn: ['@aws-sdk/client-sfn', 'SFNClient'],
};
const SERVICE_ERROR_PREFIX: Record<string, string> = { s3: 'S3', ssm: 'Ssm', sns: 'Sns', sfn: 'Sfn' };

function recase(value: Json, first: (c: string) => string): Json {
  if (Array.isArray(value)) return value.map((v) => recase(v, first));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, Json>).map(([k, v]) => [
      first(k[0]) + k.slice(1),
      recase(v, first),
    ]),
  );
}

/**
 * An optimized (`arn:aws:states:::sns:publish`) or AWS SDK (`arn:aws:states:::aws-sdk:ssm:putParameter`) task,
 * called through the AWS SDK against moto (or the local Step Functions shim). Step Functions takes and returns
 * PascalCase fields for every service, so camelCase APIs (Step Functions itself) are re-cased both ways.
 */
export async function callAwsSdk(
  service: string,
  action: string,
  params: Record<string, unknown>,
): Promise<Json> {
  const [moduleName, clientName] = SDK_CLIENTS[service];
  const sdk = (await import(moduleName)) as Record<
    string,
    new (input: unknown) => { send(command: unknown): Promise<object> }
  >;
  const Command = sdk[`${action[0].toUpperCase()}${action.slice(1)}Command`];
  if (!Command) throw new Error(`${service} has no action ${action}`);
  const camel = service === 'sfn';
  const input = camel ? recase(params, (c) => c.toLowerCase()) : params;
  try {
    const response = await new sdk[clientName]({}).send(new Command(input));
    const output = asTaskOutput(response);
    return camel ? recase(output, (c) => c.toUpperCase()) : output;
  } catch (error) {
    const named = new Error((error as Error).message);
    const name = (error as Error).name;
    named.name = `${SERVICE_ERROR_PREFIX[service]}.${name.endsWith('Exception') ? name : `${name}Exception`}`;
    throw named;
  }
}
