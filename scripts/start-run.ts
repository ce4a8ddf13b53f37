/**
 * Starts a pipeline run: finds the state machine from the pipeline stack's `StateMachineArn` output and starts
 * an execution, then prints its ARN and a console link.
 *
 *   npm run start-run                 # train only when something new arrived
 *   npm run start-run -- --force      # train even when nothing is new
 *   npm run start-run -- --stack MyPipelineStack
 */
import './node-version';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { stackOutput } from './stack-output';

/** Parsed command line. */
export interface StartRunOptions {
  readonly stackName: string;
  readonly force: boolean;
}

/** Reads `--stack <name>` and `--force`; throws on anything else. */
export function parseArgs(argv: string[]): StartRunOptions {
  let stackName = 'LogoDetectionPipeline';
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--force') force = true;
    else if (argv[i] === '--stack' && argv[i + 1]) stackName = argv[++i];
    else
      throw new Error(
        `Unknown argument "${argv[i]}". Usage: npm run start-run -- [--force] [--stack <name>]`,
      );
  }
  return { stackName, force };
}

/** The console page of an execution. */
export function consoleLink(executionArn: string): string {
  const region = executionArn.split(':')[3];
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** What {@link startRun} started. */
export interface StartedRun {
  readonly executionArn: string;
  readonly consoleUrl: string;
}

/** Finds the state machine from the stack's `StateMachineArn` output and starts an execution. */
export async function startRun(
  options: StartRunOptions,
  cloudFormation: CloudFormationClient = new CloudFormationClient({}),
  stepFunctions: SFNClient = new SFNClient({}),
): Promise<StartedRun> {
  const arn = await stackOutput(
    cloudFormation,
    options.stackName,
    'StateMachineArn',
    'deploy it first with npx cdk deploy --all, or pass --stack with the name of your pipeline stack',
  );
  const started = await stepFunctions.send(
    new StartExecutionCommand({
      stateMachineArn: arn,
      input: JSON.stringify(options.force ? { force: true } : {}),
    }),
  );
  return { executionArn: started.executionArn!, consoleUrl: consoleLink(started.executionArn!) };
}

if (require.main === module) {
  Promise.resolve()
    .then(() => startRun(parseArgs(process.argv.slice(2))))
    .then((run) => console.log(`Started ${run.executionArn}\n${run.consoleUrl}`))
    .catch((error: Error) => {
      console.error(error.message);
      process.exit(1);
    });
}
