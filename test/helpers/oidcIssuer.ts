// A real OIDC-style token issuer on loopback for tests: serves a discovery document and a JWKS over
// node:http and signs GitHub-Actions-like ID tokens with freshly generated RS256 and ES256 keys.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export type TestAlg = 'RS256' | 'ES256';

export interface SignOptions {
  /** Seconds from now (negative = already expired), or a jose duration string ("10m", "-2h"). Default 5 min. */
  expiresIn?: string | number;
  /** Seconds from now for "nbf" (positive = not valid yet). Default: a few seconds ago. */
  notBefore?: number;
  /** Default: the issuer's `audience`. */
  audience?: string;
  /** Default RS256. */
  alg?: TestAlg;
  /** Default: the kid of this issuer's key for `alg`. */
  kid?: string;
  /** Sign with another key instead of this issuer's own (e.g. to forge a signature). */
  privateKey?: CryptoKey;
}

export interface TestIssuer {
  /** http://127.0.0.1:PORT */
  issuer: string;
  jwksUrl: string;
  /** The public keys, as served at jwksUrl. */
  jwks: { keys: JWK[] };
  /** The default audience of signed tokens. */
  audience: string;
  kids: Record<TestAlg, string>;
  /** GitHub-Actions-like claims every token gets unless overridden. */
  defaultClaims(): Record<string, unknown>;
  /**
   * Signs an ID token. `claims` override everything, including iss, aud, exp; a claim set to
   * undefined is left out of the token.
   */
  sign(claims?: object, options?: SignOptions): Promise<string>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  close(): Promise<void>;
}

export const TEST_SHA = '2f1e3d4c5b6a79880123456789abcdef01234567';

export async function startTestIssuer(): Promise<TestIssuer> {
  const pairs = {
    RS256: await generateKeyPair('RS256'),
    ES256: await generateKeyPair('ES256'),
  };
  const suffix = randomUUID().slice(0, 8);
  const kids: Record<TestAlg, string> = { RS256: `rs-${suffix}`, ES256: `es-${suffix}` };
  const keys: JWK[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    keys.push({ ...(await exportJWK(pairs[alg].publicKey)), kid: kids[alg], alg, use: 'sig' });
  }
  const jwks = { keys };
  let fetches = 0;

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
    if (path === '/.well-known/openid-configuration') {
      return send(200, {
        issuer,
        jwks_uri: jwksUrl,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        scopes_supported: ['openid'],
        claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'sha', 'repository', 'repository_owner', 'run_id'],
      });
    }
    if (path === '/jwks') {
      fetches += 1;
      return send(200, jwks);
    }
    return send(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const jwksUrl = `${issuer}/jwks`;
  const audience = 'signet';

  const defaultClaims = (): Record<string, unknown> => ({
    jti: randomUUID(),
    sub: 'repo:acme/widget:ref:refs/heads/main',
    ref: 'refs/heads/main',
    ref_type: 'branch',
    sha: TEST_SHA,
    repository: 'acme/widget',
    repository_id: '100200',
    repository_owner: 'acme',
    repository_owner_id: '100',
    repository_visibility: 'public',
    actor: 'octocat',
    actor_id: '583231',
    workflow: 'release',
    workflow_ref: 'acme/widget/.github/workflows/release.yml@refs/heads/main',
    job_workflow_ref: 'acme/widget/.github/workflows/release.yml@refs/heads/main',
    event_name: 'push',
    run_id: '9876543210',
    run_number: '42',
    run_attempt: '1',
    runner_environment: 'github-hosted',
    server_url: issuer,
  });

  return {
    issuer,
    jwksUrl,
    jwks,
    audience,
    kids,
    defaultClaims,
    jwksFetches: () => fetches,
    async sign(claims = {}, options = {}) {
      const alg = options.alg ?? 'RS256';
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        iss: issuer,
        aud: options.audience ?? audience,
        iat: now,
        nbf: now - 5 + (options.notBefore ?? 0),
        ...defaultClaims(),
      };
      const expiresIn = options.expiresIn ?? 300;
      if (typeof expiresIn === 'number') {
        payload.exp = now + expiresIn;
        payload.iat = Math.min(now, now + expiresIn - 60);
        if (options.notBefore === undefined) payload.nbf = (payload.iat as number) - 5;
      }
      Object.assign(payload, claims);
      for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
      const jwt = new SignJWT(payload).setProtectedHeader({ alg, kid: options.kid ?? kids[alg], typ: 'JWT' });
      if (typeof expiresIn === 'string' && !('exp' in claims)) jwt.setExpirationTime(expiresIn);
      return jwt.sign(options.privateKey ?? pairs[alg].privateKey);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
