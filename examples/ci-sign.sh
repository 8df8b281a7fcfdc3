#!/usr/bin/env bash
# Signs a file with Signet from a CI job: submit, wait for the final status, download the signature.
# It polls, for machines with only bash, curl and python3; where Node.js runs, `signet sign` waits
# live instead and derives the Idempotency-Key without the attempt number (see README.md).
#
#   SIGNET_URL=https://signet.example.com SIGNET_ORG=acme SIGNET_TOKEN=sgn_… \
#     examples/ci-sign.sh app.exe my-project release-signing [artifact-configuration]
#
# Writes the result by the artifact configuration's format — <file>.p7s (detached CMS), <file>.asc
# (detached OpenPGP), or, for Authenticode, the signed file in place of <file> — and exits 0 when the request
# completed; exits 1 with the reason when it was denied, canceled or failed, 2 on bad usage.
# An Idempotency-Key derived from the CI run makes a re-run of the same job reuse its request.
set -euo pipefail

file=${1:?usage: ci-sign.sh FILE PROJECT POLICY [ARTIFACT_CONFIGURATION]}
project=${2:?usage: ci-sign.sh FILE PROJECT POLICY [ARTIFACT_CONFIGURATION]}
policy=${3:?usage: ci-sign.sh FILE PROJECT POLICY [ARTIFACT_CONFIGURATION]}
artifact_configuration=${4:-}
: "${SIGNET_URL:?set SIGNET_URL}" "${SIGNET_ORG:?set SIGNET_ORG}" "${SIGNET_TOKEN:?set SIGNET_TOKEN}"
poll_seconds=${SIGNET_POLL_SECONDS:-2}
timeout_seconds=${SIGNET_TIMEOUT_SECONDS:-3600}
# The job's identity without what a re-run changes (GitHub's attempt number, GitLab's job id).
ci_job=${GITHUB_RUN_ID:+github-$GITHUB_RUN_ID-${GITHUB_JOB:-}}${CI_PIPELINE_ID:+gitlab-$CI_PIPELINE_ID-${CI_JOB_NAME:-}}
ci_job=${ci_job//[^[:graph:]]/_} # job names may hold spaces; the key may not
idempotency_key=${SIGNET_IDEMPOTENCY_KEY:-$ci_job-$policy-$(sha256sum "$file" | cut -c1-16)}

api="$SIGNET_URL/api/v1/orgs/$SIGNET_ORG"
auth=(-H "Authorization: Bearer $SIGNET_TOKEN")
json_field() { python3 -c 'import json,sys; v=json.load(sys.stdin); print(v.get(sys.argv[1]) if v.get(sys.argv[1]) is not None else "")' "$1"; }

form=(-F "projectSlug=$project" -F "signingPolicySlug=$policy" -F "description=${SIGNET_DESCRIPTION:-CI build}")
[ -n "$artifact_configuration" ] && form+=(-F "artifactConfigurationSlug=$artifact_configuration")
[ -n "${SIGNET_ORIGIN_TOKEN:-}" ] && form+=(-F "originToken=$SIGNET_ORIGIN_TOKEN")
form+=(-F "artifact=@$file")

response=$(curl -sS --fail-with-body "${auth[@]}" -H "Idempotency-Key: $idempotency_key" "${form[@]}" "$api/signing-requests") || {
  echo "Submitting failed: $response" >&2
  exit 1
}
id=$(printf '%s' "$response" | json_field id)
echo "Submitted signing request $id"

deadline=$((SECONDS + timeout_seconds))
while :; do
  state=$(curl -sS --fail-with-body "${auth[@]}" "$api/signing-requests/$id")
  status=$(printf '%s' "$state" | json_field workflowStatus)
  final=$(printf '%s' "$state" | json_field isFinalStatus)
  if [ "$final" = "True" ]; then break; fi
  if [ "$SECONDS" -ge "$deadline" ]; then echo "Gave up waiting: the request is still $status" >&2; exit 1; fi
  echo "… $status"
  sleep "$poll_seconds"
done

if [ "$status" != "Completed" ]; then
  echo "Signing request $id ended $status: $(printf '%s' "$state" | json_field failureReason)" >&2
  exit 1
fi
case "$(printf '%s' "$state" | json_field signatureFormat)" in
  authenticode) out=$file ;; # signed in place: the signed file replaces the unsigned one
  openpgp-detached) out=$file.asc ;;
  *) out=$file.p7s ;;
esac
curl -sS --fail-with-body "${auth[@]}" -o "$out.partial" "$api/signing-requests/$id/signed-artifact"
mv "$out.partial" "$out"
echo "Signed: $out"
