// The Idempotency-Key `signet sign` sends, derived from the CI job it runs in, so that a re-run of
// that job finds the request the first run made instead of submitting another.
//
// What identifies "the same job" must stay the same when the job is run again, so attempt numbers
// and per-attempt ids are left out:
//   GitHub Actions  GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_JOB (not GITHUB_RUN_ATTEMPT: "Re-run jobs" keeps the run id and raises the attempt)
//   GitLab CI       CI_PROJECT_ID, CI_PIPELINE_ID, CI_JOB_NAME (not CI_JOB_ID: a retried job gets a new one)
//   Jenkins         BUILD_TAG (jenkins-JOB-BUILDNUMBER; a rebuild is a new build, and signs anew)
// plus what is signed: project, policy, artifact configuration and the file's SHA-256, so two
// files (or one file under two policies) in one job stay two requests.
import { createHash } from 'node:crypto';

export interface SignedThing {
  project: string;
  policy: string;
  artifactConfig?: string;
  fileSha256: string;
}

/** The CI system this runs in and the values naming its job, or null outside a known CI. */
function ciJob(env: NodeJS.ProcessEnv): { ci: string; parts: string[] } | null {
  if (env.GITHUB_ACTIONS === 'true' && env.GITHUB_RUN_ID) {
    return { ci: 'github', parts: [env.GITHUB_SERVER_URL ?? '', env.GITHUB_REPOSITORY ?? '', env.GITHUB_RUN_ID, env.GITHUB_JOB ?? ''] };
  }
  if (env.GITLAB_CI === 'true' && env.CI_PIPELINE_ID) {
    return { ci: 'gitlab', parts: [env.CI_SERVER_URL ?? '', env.CI_PROJECT_ID ?? '', env.CI_PIPELINE_ID, env.CI_JOB_NAME ?? ''] };
  }
  if (env.JENKINS_URL && env.BUILD_TAG) {
    return { ci: 'jenkins', parts: [env.JENKINS_URL, env.BUILD_TAG] };
  }
  return null;
}

/** `signet-<ci>-<hash>`, or null outside a known CI (then only --idempotency-key gives one). */
export function ciIdempotencyKey(env: NodeJS.ProcessEnv, signed: SignedThing): string | null {
  const job = ciJob(env);
  if (!job) return null;
  const digest = createHash('sha256')
    .update(JSON.stringify([...job.parts, signed.project, signed.policy, signed.artifactConfig ?? '', signed.fileSha256]))
    .digest('hex');
  return `signet-${job.ci}-${digest.slice(0, 40)}`;
}
