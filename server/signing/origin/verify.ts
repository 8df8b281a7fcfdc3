// Origin verification (SPEC §4, §3 Open Source organizations): a signing request to a policy with
// origin verification carries an OIDC ID token from a trusted build system (GitHub Actions, GitLab
// CI, or anything issuing tokens of that shape). verifyOriginToken checks the token — signature
// against the build system's JWKS, issuer, audience, expiry (keys.ts) — and then that it was minted
// for the project's repository and for a branch the policy allows (matching.ts, on what claims.ts
// reads). Every failure is an OriginVerificationError whose message says exactly what failed and
// never contains the token; only what a JWKS URL did (did not answer, was refused, had no matching
// key) reads the same every time, with the cause in `detail`.
import { decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import { fail, quote, quoteList } from './failure.js';
import { ALLOWED_ALGORITHMS, keyResolver, translateJoseError, verifyJwt, type JwksFetcher, type TrustedBuildSystem } from './keys.js';
import { branchMatches, cleanPatterns, normalizeRepositoryUrl, parseRef, repositoryHostForIssuer, repositoryMatches } from './matching.js';
import { buildUrlFromClaims, refFromClaims, repositoryUrlFor, stringClaim } from './claims.js';

export interface OriginExpectation {
  /** The project's repository URL. */
  repositoryUrl: string;
  /** The policy's allowed branch patterns; empty = any branch. */
  branchPatterns: string[];
}

export interface VerifiedOrigin {
  verified: true;
  buildSystemId: string;
  issuer: string;
  subject: string;
  /** As the token names it: "owner/name", a GitLab project path, or a URL. */
  repository: string;
  repositoryUrl: string;
  /** Branch name, or the full ref ("refs/tags/v1") for a tag or other non-branch ref. */
  branch: string;
  commit: string | null;
  buildUrl: string | null;
  /** The verified claims set, as signed by the build system. */
  claims: Record<string, unknown>;
}

const CLOCK_TOLERANCE_SECONDS = 30;
/** Real ID tokens are 1–3 KB; anything this large is not one. */
const MAX_TOKEN_LENGTH = 16_384;

function pickBuildSystem(issuer: string, audience: unknown, buildSystems: readonly TrustedBuildSystem[]): TrustedBuildSystem {
  const normalize = (value: string) => value.trim().replace(/\/+$/, '');
  const candidates = buildSystems.filter((system) => typeof system.issuer === 'string' && normalize(system.issuer) === normalize(issuer));
  if (candidates.length === 0) throw fail('unknown_issuer', `no trusted build system with issuer ${quote(issuer, 300)}`);
  // Several registrations of one issuer differ by audience: prefer the one the token claims (it is
  // verified afterwards like any other).
  const audiences = Array.isArray(audience) ? audience : [audience];
  return candidates.find((system) => audiences.includes(system.audience)) ?? candidates[0]!;
}

/**
 * Verifies an origin ID token against the trusted build systems and the project's repository and
 * the policy's branch patterns. Throws OriginVerificationError on every failure.
 */
export async function verifyOriginToken(
  token: string,
  buildSystems: TrustedBuildSystem[],
  expectation: OriginExpectation,
  fetcher: JwksFetcher,
): Promise<VerifiedOrigin> {
  if (typeof token !== 'string' || token.trim() === '') throw fail('missing_token', 'no origin token was supplied');
  const jwt = token.trim();
  if (jwt.length > MAX_TOKEN_LENGTH) {
    throw fail('malformed_token', `the origin token is too long (${jwt.length} characters; at most ${MAX_TOKEN_LENGTH})`);
  }

  // Untrusted look inside, only to choose the build system and reject unacceptable algorithms early.
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(jwt);
    unverified = decodeJwt(jwt);
  } catch {
    throw fail('malformed_token', 'the origin token is not a well-formed JWT (a signed compact JWS with a JSON claims set)');
  }
  if (typeof header.alg !== 'string' || !(ALLOWED_ALGORITHMS as readonly string[]).includes(header.alg)) {
    throw fail(
      'algorithm_not_allowed',
      `the origin token's algorithm ${quote(header.alg ?? null)} is not allowed (only ${ALLOWED_ALGORITHMS.join(', ')})`,
    );
  }
  if (typeof unverified.iss !== 'string' || unverified.iss.trim() === '') {
    throw fail('missing_claim', 'the origin token has no "iss" (issuer) claim');
  }
  const system = pickBuildSystem(unverified.iss, unverified.aud, buildSystems ?? []);

  let payload: JWTPayload;
  try {
    const getKey = keyResolver(system, fetcher);
    ({ payload } = await verifyJwt(jwt, getKey, {
      issuer: unverified.iss,
      audience: system.audience,
      algorithms: [...ALLOWED_ALGORITHMS],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (error) {
    throw translateJoseError(error, system, header);
  }
  const claims = payload as Record<string, unknown>;
  const issuer = payload.iss!;
  if (typeof payload.sub !== 'string' || payload.sub === '') {
    throw fail('invalid_claim', 'the origin token\'s "sub" claim is not a non-empty string');
  }

  // Repository
  const pathClaim = stringClaim(claims, 'repository') ?? stringClaim(claims, 'project_path');
  const urlClaim = stringClaim(claims, 'repository_url');
  const repository = pathClaim ?? urlClaim;
  if (repository === null) {
    throw fail('missing_claim', 'the origin token names no repository (no "repository", "project_path" or "repository_url" claim)');
  }
  const expectedUrl = typeof expectation?.repositoryUrl === 'string' ? expectation.repositoryUrl.trim() : '';
  if (expectedUrl === '' || normalizeRepositoryUrl(expectedUrl) === null) {
    throw fail('project_repository_missing', 'the project has no valid repository URL to check the origin token against');
  }
  // A path claim like "owner/name" is read relative to the issuer's host; say which host that was.
  const claimedAs = pathClaim !== null ? `${quote(pathClaim)} on ${repositoryHostForIssuer(issuer) ?? 'the issuer\'s host'}` : quote(urlClaim);
  if (!repositoryMatches(repository, expectedUrl, issuer)) {
    throw fail(
      'repository_mismatch',
      `the origin token's repository ${claimedAs} does not match the project's repository ${quote(expectedUrl, 300)}`,
    );
  }

  // Branch
  const ref = refFromClaims(claims);
  if (ref === null) {
    throw fail('missing_claim', 'the origin token names no branch (no "ref", "ref_path", "ref_name" or "branch" claim)');
  }
  const parsed = parseRef(ref);
  if (parsed.kind === 'branch' && parsed.name === '') {
    throw fail('invalid_claim', `the origin token's ref ${quote(ref)} names no branch`);
  }
  const patterns = cleanPatterns(expectation.branchPatterns);
  if (!branchMatches(ref, patterns)) {
    if (parsed.kind === 'other') {
      const kind = parsed.full.startsWith('refs/tags/') ? 'a tag' : 'not a branch';
      throw fail(
        'branch_not_allowed',
        `the origin token's ref ${quote(parsed.full)} is ${kind}, and no allowed pattern starting with "refs/" matches it ` +
          `(allowed: ${patterns.length > 0 ? quoteList(patterns) : 'any branch'})`,
      );
    }
    throw fail(
      'branch_not_allowed',
      `the origin token's branch ${quote(parsed.name)} is not allowed by the policy's branch patterns ${quoteList(patterns)}`,
    );
  }

  // Commit
  const sha = stringClaim(claims, 'sha');
  if (sha !== null && !/^[0-9a-f]{7,64}$/i.test(sha)) {
    throw fail('invalid_claim', `the origin token's "sha" claim ${quote(sha)} is not a commit hash`);
  }

  return {
    verified: true,
    buildSystemId: system.id,
    issuer,
    subject: payload.sub,
    repository,
    repositoryUrl: repositoryUrlFor(repository, issuer),
    branch: parsed.kind === 'branch' ? parsed.name : parsed.full,
    commit: sha === null ? null : sha.toLowerCase(),
    buildUrl: buildUrlFromClaims(claims, issuer),
    claims,
  };
}
