import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { USAGE, consoleLink, parseArgs, startRun } from '../scripts/start-run';

const cloudFormation = mockClient(CloudFormationClient);
const stepFunctions = mockClient(SFNClient);
const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:PipelineStateMachine-abc';
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:PipelineStateMachine-abc:run-1';

beforeEach(() => {
  cloudFormation.reset();
  stepFunctions.reset();
});

describe('npm run start-run', () => {
  test('starts the state machine named by the stack output and links to the execution', async () => {
    cloudFormation.on(DescribeStacksCommand, { StackName: 'LogoDetectionPipeline' }).resolves({
      Stacks: [
        {
          StackName: 'LogoDetectionPipeline',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [{ OutputKey: 'StateMachineArn', OutputValue: STATE_MACHINE }],
        },
      ],
    });
    stepFunctions.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });

    const run = await startRun(parseArgs(['--force']), new CloudFormationClient({}), new SFNClient({}));

    expect(stepFunctions.commandCalls(StartExecutionCommand)[0].args[0].input).toEqual({
      stateMachineArn: STATE_MACHINE,
      input: '{"force":true}',
    });
    expect(run).toEqual({
      executionArn: EXECUTION,
      consoleUrl: `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION}`,
    });
  });

  test('a stack without the output is named in the error, and nothing starts', async () => {
    cloudFormation.on(DescribeStacksCommand).resolves({ Stacks: [] });
    await expect(
      startRun(parseArgs(['--stack', 'Other']), new CloudFormationClient({}), new SFNClient({})),
    ).rejects.toThrow(/Stack Other has no StateMachineArn output/);
    expect(stepFunctions.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  test('a stack that cannot be read is named with what to do, and nothing starts', async () => {
    cloudFormation
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id Other does not exist'), { name: 'ValidationError' }));
    await expect(
      startRun(parseArgs(['--stack', 'Other']), new CloudFormationClient({}), new SFNClient({})),
    ).rejects.toThrow(
      /^Cannot read stack Other \(Stack with id Other does not exist\); deploy it first with npx cdk deploy --all/,
    );
    expect(stepFunctions.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  test('unknown arguments are refused with the usage', () => {
    expect(() => parseArgs(['--frce'])).toThrow(
      /Unknown argument "--frce". Usage: npm run start-run -- \[--force\]/,
    );
    expect(parseArgs([])).toEqual({ stackName: 'LogoDetectionPipeline', force: false });
    expect(consoleLink(EXECUTION)).toContain('region=eu-west-1');
  });

  test('--help (or -h) asks for the usage, which lists the options and an example', () => {
    expect(parseArgs(['--help'])).toMatchObject({ help: true });
    expect(parseArgs(['-h', '--force'])).toMatchObject({ help: true, force: true });
    expect(USAGE).toMatch(/^Usage: npm run start-run -- \[--force\] \[--stack <name>\]/);
    expect(USAGE).toContain('--stack NAME');
    expect(USAGE).toMatch(/Example:\n {2}AWS_REGION=eu-west-1 npm run start-run -- --force/);
  });
});
