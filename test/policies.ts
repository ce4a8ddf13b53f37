import { Template } from 'aws-cdk-lib/assertions';

/** Reading IAM policies in synthesized templates, for the tests that hold permissions to what they should be. */

/** One IAM policy statement as CloudFormation holds it. */
export type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** A statement's actions, always as a list. */
export const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** A statement's resources as text ({@link text}), always as a list. */
export const resources = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map(text);

/**
 * A policy value as text: `Fn::Join`s joined, pseudo parameters as `aws`, `us-east-1`, `123456789012`, any other
 * reference as `<Ref X>`, `<GetAtt X.Arn>` or `<ImportValue X>`.
 */
export function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as Record<string, unknown>;
  if (intrinsic['Fn::Join']) {
    const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
    return parts.map(text).join(separator);
  }
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': 'us-east-1',
    'AWS::AccountId': '123456789012',
  };
  if (typeof intrinsic.Ref === 'string') return pseudo[intrinsic.Ref] ?? `<Ref ${intrinsic.Ref}>`;
  if (intrinsic['Fn::GetAtt']) return `<GetAtt ${(intrinsic['Fn::GetAtt'] as string[]).join('.')}>`;
  if (intrinsic['Fn::ImportValue']) return `<ImportValue ${JSON.stringify(intrinsic['Fn::ImportValue'])}>`;
  return JSON.stringify(value);
}

/** The statements of every policy attached to the role with this logical id. */
export function roleStatements(template: Template, roleLogicalId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) =>
      (p.Properties as { Roles: unknown[] }).Roles.some((r) => (r as { Ref?: string }).Ref === roleLogicalId),
    )
    .flatMap(
      (p) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement,
    );
}
