#!/usr/bin/env bash
# Lints every synthesized template with cfn-lint, for the default configuration and for the alternative
# modes (Ground Truth labeling, API keys, dev buckets, schedule, e-mail, full execution logs, a serverless endpoint), so both branches of
# each choice are checked.
# Warnings are printed; errors fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/py-env.sh

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

npx cdk synth --quiet --output "$out/default" >/dev/null
npx cdk synth --quiet --output "$out/alternative" \
  -c workteamArn=arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers \
  -c apiAuth=apiKey -c dev=true -c schedule='rate(1 day)' -c notificationEmail=ops@example.com \
  -c apiCorsOrigins=https://app.example.com -c trainingUseSpot=false -c executionLogLevel=ALL \
  -c endpointMode=serverless -c serverlessProvisionedConcurrency=1 >/dev/null

for dir in "$out/default" "$out/alternative"; do
  echo "cfn-lint: $(basename "$dir") configuration"
  # W3005 (a DependsOn already implied by a GetAtt) is emitted by CDK itself for its custom-resource providers.
  .venv/bin/cfn-lint --non-zero-exit-code error --ignore-checks W3005 --format parseable -- "$dir"/*.template.json
done
echo "cfn-lint: no errors"
