import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { withRetry } from './pipeline-tasks';

/** Properties of {@link Notifications}. */
export interface NotificationsProps {
  /** Key the topic is encrypted with. */
  readonly key: kms.IKey;
  /**
   * E-mail address subscribed to the topic.
   * @default - no subscription; subscribe to the topic yourself
   */
  readonly email?: string;
}

/**
 * The pipeline's one SNS topic: every outcome of a run is published to it with a subject and a JSON message
 * whose `outcome` and `summary` say what happened.
 */
export class Notifications extends Construct {
  /** KMS-encrypted topic that accepts only TLS publishers. */
  public readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'logo-detection pipeline',
      masterKey: props.key,
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    // EventBridge publishes the timed-out and aborted executions, so it must be able to use the topic's key.
    // No aws:SourceArn/aws:SourceAccount condition here: the SNS developer guide says KMS key policies do not
    // support them for EventBridge-to-encrypted-topic delivery (every notification would be dropped). The topic
    // policy carries them instead (see watch).
    props.key.grant(new iam.ServicePrincipal('events.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
  }

  /** A Task that publishes one outcome; `message` is rendered as a JSON object (JSONPath values allowed). */
  public publish(id: string, subject: string, message: Record<string, unknown>): tasks.SnsPublish {
    if (subject.length > 100) throw new Error(`SNS subject longer than 100 characters: ${subject}`);
    return withRetry(
      tasks.SnsPublish.jsonPath(this, id, {
        topic: this.topic,
        subject,
        message: sfn.TaskInput.fromObject(message),
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );
  }

  /**
   * Publishes executions of `stateMachine` that time out or are aborted: they end without reaching any
   * notification state of their own.
   */
  public watch(stateMachine: sfn.IStateMachine): events.Rule {
    const rule = new events.Rule(this, 'StoppedExecutions', {
      description: 'logo-detection: pipeline executions that timed out or were aborted',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: [stateMachine.stateMachineArn] },
      },
    });
    const message = events.RuleTargetInput.fromObject({
      outcome: events.EventField.fromPath('$.detail.status'),
      summary:
        'The pipeline execution stopped before finishing; its history shows the last state it entered.',
      execution: events.EventField.fromPath('$.detail.executionArn'),
      stoppedAt: events.EventField.fromPath('$.time'),
    });
    // Not targets.SnsTopic: it lets events.amazonaws.com publish on behalf of any rule in any account.
    rule.addTarget({
      bind: () => ({ arn: this.topic.topicArn, input: message, targetResource: this.topic }),
    });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': rule.ruleArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        },
      }),
    );
    return rule;
  }
}
