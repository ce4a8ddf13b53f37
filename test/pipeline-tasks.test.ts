import { Stack } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { BlueGreenUpdateEndpoint } from '../lib/pipeline-tasks';

const deploymentConfig = { AutoRollbackConfiguration: { Alarms: [{ AlarmName: 'errors' }] } };

describe('CDK tasks with API fields CDK does not model', () => {
  test('render the fields CDK models and the extra ones in one Parameters object', () => {
    const task = new BlueGreenUpdateEndpoint(new Stack(), 'Update', {
      endpointName: 'detector',
      endpointConfigName: sfn.JsonPath.stringAt('$.deploy.configName'),
      deploymentConfig,
    });

    expect(task.toStateJson()).toMatchObject({
      Type: 'Task',
      Resource: expect.stringMatching(/:states:::sagemaker:updateEndpoint$/),
      Parameters: {
        EndpointName: 'detector',
        'EndpointConfigName.$': '$.deploy.configName',
        DeploymentConfig: deploymentConfig,
      },
    });
  });

  test('refuse a JSONata state, whose fields are Arguments', () => {
    const task = new BlueGreenUpdateEndpoint(new Stack(), 'Update', {
      queryLanguage: sfn.QueryLanguage.JSONATA,
      endpointName: 'detector',
      endpointConfigName: 'config',
      deploymentConfig,
    });

    expect(() => task.toStateJson()).toThrow(/JSONata Arguments/);
  });
});
