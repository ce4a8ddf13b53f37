import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/** The detection API's proxy: validates the request and sends the image to the SageMaker endpoint. */
export async function handler(_event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  throw new Error('detect: not implemented yet');
}
