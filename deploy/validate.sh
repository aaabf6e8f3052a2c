#!/usr/bin/env bash
# Checks the deployment artefacts without an AWS account or a Docker engine:
#   1. cfn-lint on cloudformation.yaml, once per delivery mode (with that mode's parameters,
#      so conditions and required values are checked as CloudFormation would resolve them)
#   2. cfn-lint on iam-policy.json (wrapped in a throwaway template, placeholders replaced):
#      action names, ARN shapes
#   3. the Dockerfile's syntax (dockerfile-utils, from npm, pinned)
#   4. the Dockerfile's build steps run with the local Go toolchain: the shipped config
#      compiles, and the static binary builds for linux/amd64 and linux/arm64
#   5. the Lambda bootstrap builds (linux/arm64, -tags lambda.norpc)
#
# Usage: deploy/validate.sh            (from anywhere; needs go, python3, cfn-lint, npx)
set -euo pipefail
cd "$(dirname "$0")/.."

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
step() { printf '== %s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*"; fail=1; }

command -v cfn-lint >/dev/null || { echo "cfn-lint not found (pip install cfn-lint)"; exit 1; }

bus="aws.partner/genesys.com/cloud/5f2c8a41-7d3e-4b9a-9c61-2e8f0a4b7d13/genesys-relay"
code="LambdaCodeS3Bucket=example-artifacts LambdaCodeS3Key=genesys-relay/relay-lambda-arm64.zip"
modes=(
  "DeliveryMode=HTTP RelayEndpointUrl=https://relay.example.com/eventbridge ApiKey=0123456789abcdef"
  "DeliveryMode=HTTP RelayEndpointUrl=https://relay.example.com/eventbridge HttpAuth=OAUTH OAuthDomainPrefix=genesys-relay-example"
  "DeliveryMode=SQS"
  "DeliveryMode=SQS StreamMode=ON_DEMAND CreatePartnerEventBus=true DetailTypePrefix= StreamKmsKeyArn=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  "DeliveryMode=LAMBDA_SQS $code"
  "DeliveryMode=LAMBDA_DIRECT $code LambdaArchitecture=x86_64"
)
for m in "${modes[@]}"; do
  step "cfn-lint deploy/cloudformation.yaml ($m)"
  # shellcheck disable=SC2086
  cfn-lint -c I -r us-east-1 eu-west-1 ap-southeast-2 --parameters "PartnerEventBusName=$bus" $m \
    -- deploy/cloudformation.yaml || bad "cfn-lint ($m)"
done

step "cfn-lint deploy/iam-policy.json"
python3 - deploy/iam-policy.json >"$tmp/iam.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
text = json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                   "Resources": {"Policy": {"Type": "AWS::IAM::ManagedPolicy",
                                            "Properties": {"PolicyDocument": doc}}}}, indent=1)
for k, v in {"REGION": "us-east-1", "ACCOUNT": "111122223333",
             "KEY_ID": "1234abcd-12ab-34cd-56ef-1234567890ab"}.items():
    text = text.replace(k, v)
print(text)
EOF
cfn-lint -c I -- "$tmp/iam.json" || bad "iam-policy.json"

step "dockerfile-utils lint deploy/Dockerfile"
if command -v npx >/dev/null; then
  (cd "$tmp" && npx --yes dockerfile-utils@0.16.3 lint "$OLDPWD/deploy/Dockerfile") || bad "Dockerfile lint"
else
  bad "npx not found"
fi

step "Dockerfile build steps (local Go toolchain)"
RELAY_API_KEY=build-check go run ./cmd/genesys-relay check -c deploy/relay.yaml || bad "deploy/relay.yaml does not compile"
for arch in amd64 arm64; do
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "-s -w -X main.Version=validate" \
    -o "$tmp/$arch/genesys-relay" ./cmd/genesys-relay || bad "build linux/$arch"
done
if [[ $(go env GOOS)/$(go env GOARCH) == linux/amd64 ]]; then
  [[ "$("$tmp/amd64/genesys-relay" version)" == "genesys-relay validate" ]] || bad "version stamp"
fi

step "Lambda bootstrap (linux/arm64)"
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags "-s -w" \
  -o "$tmp/lambda/bootstrap" ./cmd/genesys-relay || bad "Lambda bootstrap"

if ((fail)); then
  echo "deploy/validate.sh: FAILED"
  exit 1
fi
echo "deploy/validate.sh: all checks passed"
