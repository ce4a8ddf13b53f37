import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { endpointNameFor } from '../lib/pipeline-stack';
import { BlueGreenUpdateEndpoint, sageMakerNamePrefix } from '../lib/pipeline-tasks';

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

  test('grant the state machine the statements the stage gives instead of the CDK task’s own', () => {
    const statementsOf = (policyStatements?: iam.PolicyStatement[]) => {
      const stack = new Stack();
      const task = new BlueGreenUpdateEndpoint(stack, 'Update', {
        endpointName: 'detector',
        endpointConfigName: sfn.JsonPath.stringAt('$.deploy.configName'),
        deploymentConfig,
        policyStatements,
      });
      new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(task) });
      const [policy] = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
      return JSON.stringify(policy.Properties.PolicyDocument.Statement);
    };
    // The CDK task allows UpdateEndpoint with every endpoint config of the account, as the name is JSONPath.
    expect(statementsOf()).toMatch(/endpoint-config\/\*/);
    const scoped = statementsOf([
      new iam.PolicyStatement({
        actions: ['sagemaker:UpdateEndpoint'],
        resources: ['arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/run-*'],
      }),
    ]);
    expect(JSON.parse(scoped)).toEqual([
      {
        Action: 'sagemaker:UpdateEndpoint',
        Effect: 'Allow',
        Resource: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/run-*',
      },
    ]);
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

describe('SageMaker names of a pipeline stack', () => {
  const SIMILAR = [
    'LogoDetectionPipeline',
    'LogoDetectionPipeline-Staging',
    'logodetectionpipeline',
    `P${'a'.repeat(126)}1`,
    `P${'a'.repeat(126)}2`,
  ];
  const prefixOf = (stackName: string) =>
    sageMakerNamePrefix(new Stack(new App(), 'Pipeline', { stackName }));
  const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;

  test('stacks whose names share their beginning get different name prefixes', () => {
    const prefixes = SIMILAR.map(prefixOf);
    expect(new Set(prefixes).size).toBe(SIMILAR.length);
  });

  test('no prefix of one stack begins the resource names of another', () => {
    // IAM scopes each stack to `<prefix>-<kind>-*`: another stack's names must never match that pattern.
    const prefixes = SIMILAR.map(prefixOf);
    prefixes.forEach((mine, i) =>
      prefixes.forEach((theirs, j) => {
        if (i !== j) expect(`${theirs}-train-${'0'.repeat(40)}`.startsWith(`${mine}-train-`)).toBe(false);
      }),
    );
  });

  test('every run resource name fits SageMaker’s 63 characters and name pattern, even for the longest stack name', () => {
    for (const stackName of [...SIMILAR, 'A', 'A-b-c', `A${'-'.repeat(127)}`.slice(0, 127) + 'z']) {
      for (const kind of ['train', 'labels', 'model', 'config']) {
        const name = `${prefixOf(stackName)}-${kind}-${'f'.repeat(40)}`;
        expect({ stackName, name, valid: SAGEMAKER_NAME.test(name) && name.length <= 63 }).toEqual({
          stackName,
          name,
          valid: true,
        });
      }
    }
  });

  test('long stack names that share their first 56 characters get endpoints of their own', () => {
    const stackNames = [`P${'a'.repeat(126)}1`, `P${'a'.repeat(126)}2`, 'LogoDetectionPipeline-Staging'];
    const names = stackNames.map(endpointNameFor);
    // SageMaker endpoint names are not case-sensitive.
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(stackNames.length);
    for (const name of names) expect(name).toMatch(SAGEMAKER_NAME);
    expect(endpointNameFor('LogoDetectionPipeline')).toBe('LogoDetectionPipeline-detector');
  });
});
