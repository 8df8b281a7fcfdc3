// What a verified origin token's claims say: the repository, the ref it was minted for, the build
// that ran, in the claim names GitHub Actions and GitLab CI use (see matching.ts for the rules).
import { fail, quote } from './failure.js';
import { hasScheme, isScpLike, ISSUER_REPOSITORY_HOSTS, normalizeRepositoryUrl, repositoryBaseForIssuer } from './matching.js';

export function stringClaim(claims: Record<string, unknown>, name: string): string | null {
  const value = claims[name];
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/** The ref a token was minted for, as "refs/..." or a bare branch name; null if it names none. */
export function refFromClaims(claims: Record<string, unknown>): string | null {
  const ref = stringClaim(claims, 'ref');
  if (ref?.startsWith('refs/')) return ref;
  const refPath = stringClaim(claims, 'ref_path');
  if (refPath?.startsWith('refs/')) return refPath;
  const name = ref ?? stringClaim(claims, 'ref_name') ?? stringClaim(claims, 'branch');
  if (name === null) return null;
  const refType = stringClaim(claims, 'ref_type');
  if (refType === 'tag') return `refs/tags/${name}`;
  if (refType !== null && refType !== 'branch') {
    throw fail('invalid_claim', `the origin token's "ref_type" claim ${quote(refType)} is neither "branch" nor "tag"`);
  }
  return name;
}

function httpUrlOrNull(value: string | null): string | null {
  if (value === null) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

export function buildUrlFromClaims(claims: Record<string, unknown>, issuer: string): string | null {
  const runUrl = httpUrlOrNull(stringClaim(claims, 'run_url'));
  if (runUrl) return runUrl;
  const repository = stringClaim(claims, 'repository');
  const runId = stringClaim(claims, 'run_id');
  if (repository && runId) {
    const serverUrl =
      httpUrlOrNull(stringClaim(claims, 'server_url')) ??
      (ISSUER_REPOSITORY_HOSTS[hostnameOf(issuer)] ? repositoryBaseForIssuer(issuer) : null);
    if (serverUrl) {
      const attempt = stringClaim(claims, 'run_attempt');
      const base = `${serverUrl.replace(/\/+$/, '')}/${repository}/actions/runs/${encodeURIComponent(runId)}`;
      return httpUrlOrNull(attempt && attempt !== '1' ? `${base}/attempts/${encodeURIComponent(attempt)}` : base);
    }
  }
  const pipelineUrl = httpUrlOrNull(stringClaim(claims, 'pipeline_url'));
  if (pipelineUrl) return pipelineUrl;
  const projectPath = stringClaim(claims, 'project_path');
  const pipelineId = stringClaim(claims, 'pipeline_id');
  const base = repositoryBaseForIssuer(issuer);
  if (projectPath && pipelineId && base) {
    return httpUrlOrNull(`${base}/${projectPath}/-/pipelines/${encodeURIComponent(pipelineId)}`);
  }
  return null;
}

function hostnameOf(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
}

export function repositoryUrlFor(claimed: string, issuer: string): string {
  const trimmed = claimed.trim().replace(/\/+$/, '').replace(/\.git$/i, '');
  if (hasScheme(trimmed) || isScpLike(trimmed)) {
    if (/^https?:\/\//i.test(trimmed)) return trimmed;
    const normalized = normalizeRepositoryUrl(trimmed);
    return normalized ? `https://${normalized}` : trimmed;
  }
  const base = repositoryBaseForIssuer(issuer);
  return base ? `${base}/${trimmed.replace(/^\/+/, '')}` : trimmed;
}
