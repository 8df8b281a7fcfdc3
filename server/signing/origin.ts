// Origin verification (SPEC §4, §3 Open Source organizations): a signing request to a policy with
// origin verification carries an OIDC ID token from a trusted build system (GitHub Actions, GitLab
// CI, or anything issuing tokens of that shape). This module checks the token — signature against
// the build system's JWKS, issuer, audience, expiry — and then that it was minted for the project's
// repository and for a branch the policy allows. Every failure is an OriginVerificationError whose
// message says exactly what failed and never contains the token; only what a JWKS URL did (did not
// answer, was refused, had no matching key) reads the same every time, with the cause in `detail`.
//
// Rules, kept deliberately simple:
//
// Repository. The token names its repository either as a path ("owner/name" from `repository`,
// "group/sub/project" from GitLab's `project_path`) or as a URL (`repository_url`). Both sides are
// normalized: protocol, user info, query, trailing "/" and ".git" dropped; host and path
// lower-cased; default ports dropped; "git@host:path" accepted. A URL claim must equal the
// project's repository URL after normalization. A path claim matches only a repository on the host
// that corresponds to the token's issuer: the issuer's own host (gitlab.com ↔ gitlab.com, a
// self-managed GitLab or GitHub Enterprise Server on its own host), except for the hosted issuers in
// ISSUER_REPOSITORY_HOSTS (token.actions.githubusercontent.com ↔ github.com). So a github.com
// token can never vouch for a gitlab.com repository with the same path.
//
// Branch. Taken from `ref` ("refs/heads/main" → "main"; GitLab puts the bare name there), else the
// full `ref_path`, else `ref_name` / `branch`; GitLab's `ref_type: "tag"` marks a bare name as a
// tag. Patterns are globs: `*` matches within one path segment, `**` across "/" ("**/" also
// matches no segment at all); everything else is literal and case-sensitive. A plain pattern
// ("main", "release/*") matches branch names. A pattern starting with "refs/" matches the full ref,
// which is the only way to allow a tag ("refs/tags/v*") or another non-branch ref; such refs are
// reported as their full ref in `branch`. An empty pattern list allows any branch, but no tag.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { OutboundError, type OutboundClient } from '../net/outbound.js';

export interface TrustedBuildSystem {
  id: string;
  name: string;
  /** The exact `iss` of the tokens, e.g. https://token.actions.githubusercontent.com */
  issuer: string;
  /** The `aud` the tokens must carry. */
  audience: string;
  /** Exactly one of jwksUrl / jwks is set. */
  jwksUrl: string | null;
  jwks: { keys: object[] } | null;
}

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

export type OriginFailureReason =
  | 'missing_token'
  | 'malformed_token'
  | 'algorithm_not_allowed'
  | 'unknown_issuer'
  | 'invalid_build_system'
  | 'jwks_unavailable'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'missing_claim'
  | 'invalid_claim'
  | 'project_repository_missing'
  | 'repository_mismatch'
  | 'branch_not_allowed'
  | 'verification_failed';

export class OriginVerificationError extends Error {
  override readonly name = 'OriginVerificationError';
  constructor(
    readonly reason: OriginFailureReason,
    message: string,
    /** For the server log only: what `message` deliberately leaves out (never the token). */
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** How JWKS URLs are fetched: the server's outbound client, which refuses addresses it must not reach. */
export type JwksFetcher = Pick<OutboundClient, 'fetch'>;

export const ALLOWED_ALGORITHMS = ['RS256', 'ES256'] as const;
export const CLOCK_TOLERANCE_SECONDS = 30;
/** Real ID tokens are 1–3 KB; anything this large is not one. */
const MAX_TOKEN_LENGTH = 16_384;

/** Hosted issuers whose repositories live on another host than the issuer's. */
const ISSUER_REPOSITORY_HOSTS: Record<string, string> = {
  'token.actions.githubusercontent.com': 'github.com',
};

const fail = (reason: OriginFailureReason, message: string, detail?: string) => new OriginVerificationError(reason, message, detail);

/** Quotes an untrusted value for a message, cut short so a message stays a message. */
function quote(value: unknown, max = 120): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

const quoteList = (values: readonly string[]) => values.map((value) => quote(value)).join(', ');

function stringClaim(claims: Record<string, unknown>, name: string): string | null {
  const value = claims[name];
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

// ---------------------------------------------------------------------------------------------
// Repositories

/**
 * "host/path" for a repository URL ("https://GitHub.com/Acme/Widget.git/" → "github.com/acme/widget"),
 * also accepting "git@host:owner/name.git" and scheme-less "host/owner/name"; null if unparseable.
 */
export function normalizeRepositoryUrl(value: string): string | null {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text === '') return null;
  let host: string;
  let path: string;
  const scp = /^[^@/\s]+@([^:/\s]+):(?!\/)(.+)$/.exec(text);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && scp) {
    host = scp[1]!;
    path = `/${scp[2]!}`;
  } else {
    let url: URL;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
    } catch {
      return null;
    }
    host = url.host;
    path = url.pathname;
  }
  host = host.toLowerCase().replace(/\.$/, '');
  const normalizedPath = normalizeRepositoryPath(path);
  if (host === '' || normalizedPath === null) return null;
  return `${host}/${normalizedPath}`;
}

/** "Owner/Name.git/" → "owner/name"; null for an empty path or one with "." / ".." / empty segments. */
function normalizeRepositoryPath(path: string): string | null {
  let text = path.trim().toLowerCase();
  for (;;) {
    const next = text.replace(/\/+$/, '').replace(/\.git$/, '');
    if (next === text) break;
    text = next;
  }
  text = text.replace(/^\/+/, '');
  if (text === '') return null;
  const segments = text.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) return null;
  return segments.join('/');
}

/** The repository host (with port, if any) that an issuer vouches for: see the header comment. */
export function repositoryHostForIssuer(issuer: string): string | null {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return null;
  }
  const hostname = url.hostname.toLowerCase();
  return ISSUER_REPOSITORY_HOSTS[hostname] ?? url.host.toLowerCase();
}

function repositoryBaseForIssuer(issuer: string): string | null {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return null;
  }
  const mapped = ISSUER_REPOSITORY_HOSTS[url.hostname.toLowerCase()];
  return mapped ? `https://${mapped}` : url.origin;
}

const hasScheme = (value: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim());
const isScpLike = (value: string) => /^[^@/\s]+@[^:/\s]+:(?!\/)/.test(value.trim());

/**
 * Whether the repository a token names is the project's repository.
 * `claimed` is a URL (with a scheme, or "git@host:path") or a path ("owner/name"); a path only
 * matches a repository on the host corresponding to `issuer` (see repositoryHostForIssuer).
 */
export function repositoryMatches(claimed: string, repositoryUrl: string, issuer: string): boolean {
  const expected = normalizeRepositoryUrl(repositoryUrl);
  if (expected === null || typeof claimed !== 'string') return false;
  if (hasScheme(claimed) || isScpLike(claimed)) {
    return normalizeRepositoryUrl(claimed) === expected;
  }
  const host = repositoryHostForIssuer(issuer);
  const path = normalizeRepositoryPath(claimed);
  if (host === null || path === null) return false;
  return `${host}/${path}` === expected;
}

// ---------------------------------------------------------------------------------------------
// Branches

type GitRef = { kind: 'branch'; name: string; full: string } | { kind: 'other'; full: string };

function parseRef(value: string): GitRef {
  if (value.startsWith('refs/heads/')) return { kind: 'branch', name: value.slice('refs/heads/'.length), full: value };
  if (value.startsWith('refs/')) return { kind: 'other', full: value };
  return { kind: 'branch', name: value, full: `refs/heads/${value}` };
}

const globCache = new Map<string, RegExp>();

/** `*` within a segment, `**` across "/", "**\/" also zero segments; the rest literal. */
export function globToRegExp(pattern: string): RegExp {
  const cached = globCache.get(pattern);
  if (cached) return cached;
  let source = '';
  for (let i = 0; i < pattern.length; ) {
    if (pattern.startsWith('**/', i)) {
      source += '(?:.*/)?';
      i += 3;
    } else if (pattern.startsWith('**', i)) {
      source += '.*';
      i += 2;
    } else if (pattern[i] === '*') {
      source += '[^/]*';
      i += 1;
    } else {
      source += pattern[i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      i += 1;
    }
  }
  const regexp = new RegExp(`^${source}$`);
  if (globCache.size < 1000) globCache.set(pattern, regexp);
  return regexp;
}

function cleanPatterns(patterns: readonly string[] | undefined): string[] {
  if (!Array.isArray(patterns)) return [];
  return patterns
    .filter((pattern): pattern is string => typeof pattern === 'string')
    .map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== '');
}

/**
 * Whether a branch ("main", "refs/heads/main") or other ref ("refs/tags/v1") is allowed by the
 * patterns. Blank patterns are ignored; no patterns at all allow any branch but no other ref.
 */
export function branchMatches(branch: string, patterns: readonly string[]): boolean {
  if (typeof branch !== 'string' || branch === '') return false;
  const ref = parseRef(branch);
  if (ref.kind === 'branch' && ref.name === '') return false;
  const effective = cleanPatterns(patterns);
  if (effective.length === 0) return ref.kind === 'branch';
  return effective.some((pattern) => {
    if (pattern.startsWith('refs/')) return globToRegExp(pattern).test(ref.full);
    return ref.kind === 'branch' && globToRegExp(pattern).test(ref.name);
  });
}

/** The ref a token was minted for, as "refs/..." or a bare branch name; null if it names none. */
function refFromClaims(claims: Record<string, unknown>): string | null {
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

// ---------------------------------------------------------------------------------------------
// Keys

/** Errors from fetching or importing the build system's keys, as opposed to verifying with them. */
class KeySourceError extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof OutboundError ? original.detail : original instanceof Error ? original.message : String(original));
  }
}

/** Remote JWKS getters per outbound client (each node's rules apply to its own fetches), by URL. */
let remoteJwks = new WeakMap<JwksFetcher, Map<string, ReturnType<typeof createRemoteJWKSet>>>();

/** Forgets the cached remote JWKS getters (e.g. after a build system's JWKS URL changed). */
export function clearJwksCache(): void {
  remoteJwks = new WeakMap();
}

function describeKeySource(system: TrustedBuildSystem): string {
  return system.jwksUrl ? `the JWKS at ${quote(system.jwksUrl, 300)}` : 'its inline JWKS';
}

function keyResolver(system: TrustedBuildSystem, fetcher: JwksFetcher): JWTVerifyGetKey {
  const hasUrl = typeof system.jwksUrl === 'string' && system.jwksUrl.trim() !== '';
  const hasInline = system.jwks !== null && system.jwks !== undefined;
  if (hasUrl === hasInline) {
    throw fail(
      'invalid_build_system',
      `build system ${quote(system.name)} must have exactly one of a JWKS URL or inline JWKS keys`,
    );
  }
  let resolve: JWTVerifyGetKey;
  if (hasUrl) {
    let url: URL;
    try {
      url = new URL(system.jwksUrl!.trim());
    } catch {
      throw fail('invalid_build_system', `build system ${quote(system.name)} has an invalid JWKS URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw fail('invalid_build_system', `build system ${quote(system.name)} has a JWKS URL that is not http(s)`);
    }
    let cache = remoteJwks.get(fetcher);
    if (!cache) remoteJwks.set(fetcher, (cache = new Map()));
    let remote = cache.get(url.href);
    if (!remote) {
      remote = createRemoteJWKSet(url, {
        timeoutDuration: 5_000,
        cooldownDuration: 30_000,
        cacheMaxAge: 600_000,
        [customFetch]: (href, init) => fetcher.fetch(href, init),
      });
      cache.set(url.href, remote);
    }
    resolve = remote;
  } else {
    try {
      resolve = createLocalJWKSet(system.jwks as unknown as JSONWebKeySet);
    } catch (error) {
      throw fail(
        'invalid_build_system',
        `build system ${quote(system.name)} has invalid inline JWKS keys: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  return async (header, token) => {
    try {
      return await resolve(header, token);
    } catch (error) {
      // Key selection outcomes are handled by the caller; anything else is the key source failing.
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new KeySourceError(error);
    }
  };
}

async function verifyJwt(token: string, getKey: JWTVerifyGetKey, options: JWTVerifyOptions) {
  try {
    return await jwtVerify(token, getKey, options);
  } catch (error) {
    // Several keys fit the header (typically: no kid): the token is good if any of them verifies it.
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    for await (const key of error) {
      try {
        return await jwtVerify(token, key, options);
      } catch (inner) {
        if (inner instanceof errors.JWSSignatureVerificationFailed) continue;
        throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/** What the keys said about the token; with a JWKS URL, none of it may be told apart. */
const KEY_OUTCOMES: ReadonlySet<OriginFailureReason> = new Set(['jwks_unavailable', 'unknown_key', 'bad_signature', 'verification_failed']);

function translateJoseError(error: unknown, system: TrustedBuildSystem, header: { alg?: unknown; kid?: unknown }): OriginVerificationError {
  const translated = describeJoseError(error, system, header);
  // With keys fetched from a URL, a refused address, a closed port, an answer that is no JWKS and
  // keys that do not match the token read the same: otherwise the message would tell whoever can
  // register a build system which addresses and ports answer. The log gets the difference.
  if (system.jwksUrl && KEY_OUTCOMES.has(translated.reason)) {
    return fail(translated.reason, `the origin token could not be verified with the keys of build system ${quote(system.name)}`, translated.message);
  }
  return translated;
}

function describeJoseError(error: unknown, system: TrustedBuildSystem, header: { alg?: unknown; kid?: unknown }): OriginVerificationError {
  const who = `build system ${quote(system.name)}`;
  if (error instanceof OriginVerificationError) return error;
  if (error instanceof KeySourceError) {
    return fail('jwks_unavailable', `could not load the signing keys of ${who} from ${describeKeySource(system)}: ${error.message}`);
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    const kid = typeof header.kid === 'string' ? `key id ${quote(header.kid)}` : 'no key id';
    return fail('unknown_key', `no key in ${describeKeySource(system)} of ${who} matches the origin token (${kid}, algorithm ${quote(header.alg)})`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return fail('bad_signature', `the origin token's signature does not verify against the keys of ${who}`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return fail('algorithm_not_allowed', `the origin token's algorithm ${quote(header.alg)} is not allowed (only ${ALLOWED_ALGORITHMS.join(', ')})`);
  }
  if (error instanceof errors.JWTExpired) {
    const exp = error.payload?.exp;
    const when = typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : '';
    return fail('expired', `the origin token expired${when} (issued by ${who})`);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const payload = error.payload ?? {};
    if (error.reason === 'missing') {
      return fail('missing_claim', `the origin token has no ${quote(error.claim)} claim`);
    }
    if (error.claim === 'aud') {
      return fail(
        'wrong_audience',
        `the origin token's audience ${quote(payload.aud ?? null)} does not include ${quote(system.audience)}, the audience of ${who}`,
      );
    }
    if (error.claim === 'nbf') {
      const nbf = typeof payload.nbf === 'number' ? ` until ${new Date(payload.nbf * 1000).toISOString()}` : '';
      return fail('not_yet_valid', `the origin token is not valid yet${nbf}`);
    }
    if (error.claim === 'iss') {
      return fail('unknown_issuer', `the origin token's issuer ${quote(payload.iss ?? null)} is not ${quote(system.issuer)}`);
    }
    return fail('invalid_claim', `the origin token's ${quote(error.claim)} claim is invalid`);
  }
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) {
    return fail('malformed_token', `the origin token is not a valid JWT: ${error.message}`);
  }
  return fail('verification_failed', `the origin token could not be verified against ${who}`);
}

// ---------------------------------------------------------------------------------------------
// Origin data

function httpUrlOrNull(value: string | null): string | null {
  if (value === null) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

function buildUrlFromClaims(claims: Record<string, unknown>, issuer: string): string | null {
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

function repositoryUrlFor(claimed: string, issuer: string): string {
  const trimmed = claimed.trim().replace(/\/+$/, '').replace(/\.git$/i, '');
  if (hasScheme(trimmed) || isScpLike(trimmed)) {
    if (/^https?:\/\//i.test(trimmed)) return trimmed;
    const normalized = normalizeRepositoryUrl(trimmed);
    return normalized ? `https://${normalized}` : trimmed;
  }
  const base = repositoryBaseForIssuer(issuer);
  return base ? `${base}/${trimmed.replace(/^\/+/, '')}` : trimmed;
}

// ---------------------------------------------------------------------------------------------
// Verification

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
