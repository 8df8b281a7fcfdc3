// A build system's signing keys (a JWKS URL, fetched through the outbound client and cached, or
// inline keys) and the token's signature and registered claims checked against them (jose). What
// jose says goes back as an OriginVerificationError; with keys from a URL, every key outcome reads
// the same (see translateJoseError).
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { OutboundError, type OutboundClient } from '../../net/outbound.js';
import { fail, OriginVerificationError, quote, type OriginFailureReason } from './failure.js';

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

/** How JWKS URLs are fetched: the server's outbound client, which refuses addresses it must not reach. */
export type JwksFetcher = Pick<OutboundClient, 'fetch'>;

export const ALLOWED_ALGORITHMS = ['RS256', 'ES256'] as const;

/** Errors from fetching or importing the build system's keys, as opposed to verifying with them. */
class KeySourceError extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof OutboundError ? original.detail : original instanceof Error ? original.message : String(original));
  }
}

/** Remote JWKS getters per outbound client (each node's rules apply to its own fetches), by URL. */
const remoteJwks = new WeakMap<JwksFetcher, Map<string, ReturnType<typeof createRemoteJWKSet>>>();

function describeKeySource(system: TrustedBuildSystem): string {
  return system.jwksUrl ? `the JWKS at ${quote(system.jwksUrl, 300)}` : 'its inline JWKS';
}

export function keyResolver(system: TrustedBuildSystem, fetcher: JwksFetcher): JWTVerifyGetKey {
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

export async function verifyJwt(token: string, getKey: JWTVerifyGetKey, options: JWTVerifyOptions) {
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

export function translateJoseError(error: unknown, system: TrustedBuildSystem, header: { alg?: unknown; kid?: unknown }): OriginVerificationError {
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
