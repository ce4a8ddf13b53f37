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

/** What `npm run start-run -- --help` prints. */
export const USAGE = `Usage: npm run start-run -- [--force] [--stack <name>]

Starts a pipeline run: reads the state machine from the pipeline stack's StateMachineArn output, starts an
execution and prints its ARN and console link. Uses your AWS credentials and region (AWS_PROFILE, AWS_REGION).

Options:
  --force        train even when nothing new arrived (e.g. after changing a hyperparameter)
  --stack NAME   the pipeline stack (default LogoDetectionPipeline)
  -h, --help     this help

Example:
  AWS_REGION=eu-west-1 npm run start-run -- --force`;

/** Parsed command line. */
export interface StartRunOptions {
  readonly stackName: string;
  readonly force: boolean;
  /** `--help` (or `-h`): print {@link USAGE} and start nothing. */
  readonly help?: true;
}

/** Reads `--stack <name>`, `--force` and `--help`; throws on anything else. */
export function parseArgs(argv: string[]): StartRunOptions {
  let stackName = 'LogoDetectionPipeline';
  let force = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--force') force = true;
    else if (argv[i] === '--help' || argv[i] === '-h') help = true;
    else if (argv[i] === '--stack' && argv[i + 1]) stackName = argv[++i];
    else
      throw new Error(
        `Unknown argument "${argv[i]}". Usage: npm run start-run -- [--force] [--stack <name>] (--help for more)`,
      );
  }
  return { stackName, force, ...(help ? { help: true as const } : {}) };
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
    .then(async () => {
      const options = parseArgs(process.argv.slice(2));
      if (options.help) return console.log(USAGE);
      const run = await startRun(options);
      console.log(`Started ${run.executionArn}\n${run.consoleUrl}`);
    })
    .catch((error: Error) => {
      console.error(error.message);
      process.exit(1);
    });
}
