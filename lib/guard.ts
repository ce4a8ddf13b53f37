import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { withRetry } from './pipeline-tasks';
import { openBranch, PipelineStage } from './stage';

/** The key of the run lock, the table's one item. */
const LOCK_KEY = { id: tasks.DynamoAttributeValue.fromString('pipeline-run') };
/** What a conditional write that found the lock in another state fails with. */
const LOCK_CONFLICT = 'DynamoDB.ConditionalCheckFailedException';
/** What DescribeExecution fails with for an execution Step Functions does not know (or not yet). */
const NO_SUCH_EXECUTION = 'Sfn.ExecutionDoesNotExistException';

/**
 * The guard stage: one run at a time, by a lock that only one execution can hold. The first state writes the
 * lock item (`holder`: this execution's ARN) with a conditional PutItem that fails when the item exists, so of
 * two runs started together exactly one gets it. A run that finds the lock taken asks Step Functions whether the
 * holder still runs: if it does, the run leaves at {@link alreadyRunning}; if the holder has ended without
 * releasing it (stopped by hand, timed out), the run takes the lock over with a write conditional on that same
 * holder. A lock therefore lasts as long as its holder runs, which the state machine's timeout bounds.
 *
 * Every outcome but "Already running" releases the lock ({@link releaseLock}).
 */
export class Guard extends PipelineStage {
  public readonly startState: sfn.State;
  public readonly endStates: sfn.INextable[];
  /** Left when another execution of the state machine holds the lock and runs: this run should stop at once. */
  public readonly alreadyRunning: sfn.INextable;
  /** The table of the run lock: one item, whose `holder` is the ARN of the execution that runs. */
  private readonly lockTable: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id, 'guard');
    this.lockTable = new dynamodb.Table(this, 'RunLock', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // A lock is only worth anything while its holder runs: there is nothing to keep.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.lockTable).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        'The table holds one item, the run lock, valid only while its holder execution runs; a point-in-time ' +
        'restore could only bring back a stale lock, so there is nothing to recover.',
    });

    const lock = {
      ...LOCK_KEY,
      holder: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.executionId),
      execution: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.executionName),
      since: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.executionStartTime),
    };
    const take = withRetry(
      tasks.DynamoPutItem.jsonPath(this, 'Take run lock', {
        table: this.lockTable,
        item: lock,
        conditionExpression: 'attribute_not_exists(#id)',
        expressionAttributeNames: { '#id': 'id' },
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );
    const read = withRetry(
      tasks.DynamoGetItem.jsonPath(this, 'Read run lock', {
        table: this.lockTable,
        key: LOCK_KEY,
        consistentRead: true,
        resultPath: '$.guard.lock',
      }),
    );
    const stillHeld = new sfn.Choice(this, 'Run lock still held?');
    // The state machine cannot name its own ARN in its definition's IAM without a cycle; the permission is a
    // separate policy (see grantStateMachine).
    const checkHolder = withRetry(
      new sfn.CustomState(this, 'Check lock holder', {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${Aws.PARTITION}:states:::aws-sdk:sfn:describeExecution`,
          Parameters: { 'ExecutionArn.$': '$.guard.lock.Item.holder.S' },
          ResultSelector: { 'status.$': '$.Status' },
          ResultPath: '$.guard.holder',
        },
      }),
    );
    // DescribeExecution is eventually consistent: a holder that has just started may not be visible yet. One
    // that stays unknown for minutes ended so long ago that Step Functions has forgotten it.
    checkHolder.addRetry({
      errors: [NO_SUCH_EXECUTION],
      interval: Duration.seconds(10),
      backoffRate: 3,
      maxAttempts: 3,
    });
    const holderRunning = new sfn.Choice(this, 'Lock holder running?');
    const takeOver = withRetry(
      tasks.DynamoPutItem.jsonPath(this, 'Take over run lock', {
        table: this.lockTable,
        item: lock,
        conditionExpression: '#holder = :ended',
        expressionAttributeNames: { '#holder': 'holder' },
        expressionAttributeValues: {
          ':ended': tasks.DynamoAttributeValue.fromString(
            sfn.JsonPath.stringAt('$.guard.lock.Item.holder.S'),
          ),
        },
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );

    // A conflict sends the run back to read the lock again: the holder released it, or another run took it.
    take.addCatch(read, { errors: [LOCK_CONFLICT], resultPath: '$.guard.conflict' });
    takeOver.addCatch(take, { errors: [LOCK_CONFLICT], resultPath: '$.guard.conflict' });
    checkHolder.addCatch(takeOver, { errors: [NO_SUCH_EXECUTION], resultPath: '$.guard.holder' });
    this.catchFailures(take, read, checkHolder, takeOver);
    read.next(stillHeld);
    stillHeld.when(sfn.Condition.isPresent('$.guard.lock.Item'), checkHolder).otherwise(take);
    checkHolder.next(holderRunning);
    holderRunning.otherwise(takeOver);

    this.startState = take;
    this.endStates = [take, takeOver];
    this.alreadyRunning = openBranch(
      holderRunning,
      sfn.Condition.stringEquals('$.guard.holder.status', 'RUNNING'),
    );
  }

  /**
   * A state that releases the run lock if this execution holds it (a DeleteItem conditional on `holder`), then
   * goes on to `next`. It goes on to `next` also when the release fails: the lock is then not this run's (the
   * guard failed before taking it), or DynamoDB failed, and the next run takes over a lock whose holder has ended.
   */
  public releaseLock(scope: Construct, id: string, next: sfn.IChainable): sfn.Chain {
    const release = withRetry(
      tasks.DynamoDeleteItem.jsonPath(scope, id, {
        table: this.lockTable,
        key: LOCK_KEY,
        conditionExpression: '#holder = :me',
        expressionAttributeNames: { '#holder': 'holder' },
        expressionAttributeValues: { ':me': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.executionId) },
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );
    release.addCatch(next, { resultPath: '$.lockRelease' });
    return release.next(next);
  }

  /**
   * Lets the state machine describe its own executions (the lock's holder), in a policy of its own created after
   * the state machine: the role's default policy must exist before the state machine (CloudFormation makes it a
   * dependency), so it cannot name the state machine.
   */
  public override grantStateMachine(stateMachine: sfn.StateMachine): void {
    new iam.Policy(this, 'Policy', {
      roles: [stateMachine.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution'],
          resources: [
            Stack.of(this).formatArn({
              service: 'states',
              resource: 'execution',
              resourceName: `${stateMachine.stateMachineName}:*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
      ],
    });
  }
}
