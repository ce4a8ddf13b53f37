import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { rules } from 'cdk-nag';
import { IConstruct } from 'constructs';

/** Why one kind of IAM finding is acceptable; `finding` matches cdk-nag's finding text, e.g. `Action::s3:List*`. */
export interface FindingReason {
  readonly rule: 'IAM4' | 'IAM5';
  readonly finding: RegExp;
  readonly reason: string;
  /**
   * For `Resource::*`: the only actions the reason covers. The finding is acknowledged only when every action of
   * the policy's statements on `*` is one of them, so a new action on every resource is still reported.
   * @default - any action
   */
  readonly actions?: readonly string[];
}

const RULES = {
  IAM4: rules.iam.IAMNoManagedPolicies,
  IAM5: rules.iam.IAMNoWildcardPermissions,
};

/** The actions of a policy's statements whose resource is `*` (every action, when it is not a policy). */
function actionsOnEveryResource(node: CfnResource): string[] | undefined {
  if (!(node instanceof iam.CfnPolicy)) return undefined;
  const document = Stack.of(node).resolve(node.policyDocument) as {
    Statement?: { Action?: string | string[]; Resource?: unknown }[];
  };
  return (document.Statement ?? [])
    .filter((s) => s.Resource === '*' || (Array.isArray(s.Resource) && s.Resource.includes('*')))
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action ?? '']));
}

const covers = (reason: FindingReason, node: CfnResource): boolean => {
  if (!reason.actions) return true;
  const actions = actionsOnEveryResource(node);
  return actions !== undefined && actions.every((a) => reason.actions!.includes(a));
};

function acknowledgeResource(node: IConstruct, reasons: readonly FindingReason[]): void {
  if (!CfnResource.isCfnResource(node)) return;
  for (const [rule, check] of Object.entries(RULES)) {
    const findings = check(node);
    if (!Array.isArray(findings)) continue;
    for (const finding of findings) {
      const match = reasons.find((r) => r.rule === rule && r.finding.test(finding) && covers(r, node));
      if (match)
        Validations.of(node).acknowledge({ id: `AwsSolutions-${rule}[${finding}]`, reason: match.reason });
    }
  }
}

/**
 * Acknowledges the IAM findings (AwsSolutions-IAM4, -IAM5) under `scope` that match one of `reasons`, one
 * finding at a time, so a new wildcard that matches no reason is still reported.
 *
 * cdk-nag names a finding by the resolved resource, which differs before and after CloudFormation's
 * cross-stack references are resolved, so this runs twice: now (for checks on the construct tree) and as a
 * construct validation, which synthesis runs after resolving references and before the validation plugins.
 */
export function acknowledgeIamFindings(scope: IConstruct, reasons: readonly FindingReason[]): void {
  const acknowledgeAll = () => scope.node.findAll().forEach((node) => acknowledgeResource(node, reasons));
  acknowledgeAll();
  scope.node.addValidation({
    validate: () => {
      acknowledgeAll();
      return [];
    },
  });
}
