import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Notifications } from '../lib/notifications';
import { newApp } from './app-context';

type Statement = {
  Effect: string;
  Principal?: { Service?: string | string[] };
  Action: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
};

const fromEventBridge = (s: Statement) =>
  [s.Principal?.Service ?? []].flat().includes('events.amazonaws.com');

/** The pipeline's notifications with the stopped-executions rule watching a state machine. */
function synth(): Template {
  const stack = new Stack(newApp(), 'Notifications', {
    env: { account: '123456789012', region: 'us-east-1' },
  });
  const key = new kms.Key(stack, 'Key');
  const notifications = new Notifications(stack, 'Notifications', { key });
  const machine = new sfn.StateMachine(stack, 'Machine', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')),
  });
  notifications.watch(machine);
  return Template.fromStack(stack);
}

describe('Notifications', () => {
  const template = synth();
  const rules = template.findResources('AWS::Events::Rule');
  const [ruleId] = Object.keys(rules);

  test('lets EventBridge publish to the topic only for its own rule in its own account', () => {
    expect(Object.keys(rules)).toHaveLength(1);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: {
              ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } },
              StringEquals: { 'aws:SourceAccount': '123456789012' },
            },
          }),
        ]),
      },
    });
    const topicStatements = Object.values(template.findResources('AWS::SNS::TopicPolicy')).flatMap(
      (p) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement,
    );
    const unconditioned = topicStatements.filter(
      (s) => s.Effect === 'Allow' && fromEventBridge(s) && s.Condition === undefined,
    );
    expect(unconditioned).toEqual([]);
  });

  test('the rule targets the topic', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('NotificationsTopic') } })],
    });
  });

  // The SNS developer guide (key management, event sources from AWS services) states that aws:SourceAccount
  // and aws:SourceArn are not supported in a KMS key policy for EventBridge-to-encrypted-topic delivery:
  // with either condition every stopped-execution notification would be dropped.
  test('grants EventBridge the topic key without source conditions, which this path does not support', () => {
    const [keyPolicy] = Object.values(template.findResources('AWS::KMS::Key')).map(
      (k) => (k.Properties as { KeyPolicy: { Statement: Statement[] } }).KeyPolicy,
    );
    const grants = keyPolicy.Statement.filter(fromEventBridge);
    expect(grants).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
      }),
    ]);
    expect(JSON.stringify(grants[0].Condition ?? {})).not.toMatch(/aws:Source/i);
  });
});
