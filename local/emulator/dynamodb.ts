/** An error DynamoDB answered with: `name` is its type (e.g. `ConditionalCheckFailedException`). */
export class DynamoDbError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * Calls one action of DynamoDB's JSON API (`PutItem`, `GetItem`, `DeleteItem`, `CreateTable`, ...) on moto, with
 * the request and answer as DynamoDB documents them (PascalCase, typed attribute values). The project has no
 * DynamoDB SDK client (the pipeline reaches DynamoDB only through Step Functions), so the request is made here;
 * moto picks the service from the credential scope and does not check the signature.
 *
 * @param endpoint - moto's URL
 * @throws DynamoDbError named as DynamoDB names the error
 */
export async function callDynamoDb(
  action: string,
  params: Record<string, unknown>,
  endpoint = process.env.AWS_ENDPOINT_URL,
): Promise<Record<string, unknown>> {
  if (!endpoint) throw new Error(`DynamoDB ${action}: AWS_ENDPOINT_URL is not set; local mode calls moto`);
  // moto keeps tables per region: the one the SDK clients of local mode use.
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDB_20120810.${action}`,
      Authorization: `AWS4-HMAC-SHA256 Credential=local/20260101/${region}/dynamodb/aws4_request, SignedHeaders=host, Signature=local`,
    },
    body: JSON.stringify(params),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) {
    const type = String(body.__type ?? `HTTP${response.status}`)
      .split('#')
      .pop()!;
    throw new DynamoDbError(type, String(body.message ?? body.Message ?? ''));
  }
  return body;
}
