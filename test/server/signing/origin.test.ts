// Origin verification against a real issuer on loopback (test/helpers/oidcIssuer.ts): tokens are
// signed with real keys and the JWKS is fetched over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, generateKeyPair, SignJWT } from 'jose';
import { OriginVerificationError, type OriginFailureReason } from '../../../server/signing/origin/failure.js';
import { branchMatches, normalizeRepositoryUrl, repositoryMatches } from '../../../server/signing/origin/matching.js';
import type { TrustedBuildSystem } from '../../../server/signing/origin/keys.js';
import { verifyOriginToken as verifyWith, type OriginExpectation } from '../../../server/signing/origin/verify.js';
import { startTestIssuer, TEST_SHA, type TestIssuer } from '../../helpers/oidcIssuer.js';
import { createOutboundClient } from '../../../server/net/outbound.js';
import { parseAllowedCidrs } from '../../../server/net/addresses.js';

// The issuer listens on 127.0.0.1, which the server reaches only when an operator allows it.
const outbound = createOutboundClient({ allowedCidrs: parseAllowedCidrs('127.0.0.1/32') });
const verifyOriginToken = (token: string, systems: TrustedBuildSystem[], expectation: OriginExpectation) =>
  verifyWith(token, systems, expectation, outbound);

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

let idp: TestIssuer;
let remote: TrustedBuildSystem;
let repoUrl: string;

beforeAll(async () => {
  idp = await startTestIssuer();
  remote = { id: 'bs-remote', name: 'Forge CI', issuer: idp.issuer, audience: idp.audience, jwksUrl: idp.jwksUrl, jwks: null };
  repoUrl = `${idp.issuer}/acme/widget`;
});

afterAll(async () => {
  await idp?.close();
});

function inline(issuer: string, overrides: Partial<TrustedBuildSystem> = {}): TrustedBuildSystem {
  return { id: 'bs-inline', name: 'Inline CI', issuer, audience: idp.audience, jwksUrl: null, jwks: idp.jwks, ...overrides };
}

/** Expects a failure with this reason, and checks the token appears nowhere in the error. */
async function expectFailure(
  token: string,
  systems: TrustedBuildSystem[],
  expectation: { repositoryUrl: string; branchPatterns: string[] },
  reason: OriginFailureReason,
): Promise<OriginVerificationError> {
  let caught: unknown;
  try {
    await verifyOriginToken(token, systems, expectation);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(OriginVerificationError);
  const error = caught as OriginVerificationError;
  expect(error.reason, error.message).toBe(reason);
  const everything = `${error.message}\n${error.stack}\n${JSON.stringify(error)}\n${String(error.cause ?? '')}`;
  if (token.length > 0) expect(everything).not.toContain(token);
  for (const part of token.split('.')) if (part.length > 16) expect(everything).not.toContain(part);
  return error;
}

describe('verifyOriginToken: valid tokens', () => {
  it('verifies a GitHub-style token through the JWKS URL', async () => {
    const token = await idp.sign();
    const origin = await verifyOriginToken(token, [remote], { repositoryUrl: repoUrl, branchPatterns: ['main'] });
    expect(origin).toMatchObject({
      verified: true,
      buildSystemId: 'bs-remote',
      issuer: idp.issuer,
      subject: 'repo:acme/widget:ref:refs/heads/main',
      repository: 'acme/widget',
      repositoryUrl: `${idp.issuer}/acme/widget`,
      branch: 'main',
      commit: TEST_SHA,
      buildUrl: `${idp.issuer}/acme/widget/actions/runs/9876543210`,
    });
    expect(origin.claims).toMatchObject({ repository_owner: 'acme', run_id: '9876543210', aud: 'signet' });
  });

  it('verifies a token from token.actions.githubusercontent.com with inline keys, for a github.com repository', async () => {
    const token = await idp.sign({ iss: GITHUB_ISSUER, server_url: undefined }, { alg: 'ES256' });
    const origin = await verifyOriginToken(token, [remote, inline(GITHUB_ISSUER)], {
      repositoryUrl: 'https://GitHub.com/Acme/Widget.git',
      branchPatterns: ['main', 'release/*'],
    });
    expect(origin).toMatchObject({
      buildSystemId: 'bs-inline',
      issuer: GITHUB_ISSUER,
      repositoryUrl: 'https://github.com/acme/widget',
      branch: 'main',
      buildUrl: 'https://github.com/acme/widget/actions/runs/9876543210',
    });
  });

  it('fetches a JWKS URL once and reuses it', async () => {
    const other = await startTestIssuer();
    try {
      const system: TrustedBuildSystem = { ...remote, issuer: other.issuer, jwksUrl: other.jwksUrl };
      for (let i = 0; i < 3; i++) {
        await verifyOriginToken(await other.sign({}, { alg: i % 2 ? 'ES256' : 'RS256' }), [system], {
          repositoryUrl: `${other.issuer}/acme/widget`,
          branchPatterns: [],
        });
      }
      expect(other.jwksFetches()).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('tolerates 30 seconds of clock skew on exp and nbf', async () => {
    const expectation = { repositoryUrl: repoUrl, branchPatterns: ['main'] };
    await expect(verifyOriginToken(await idp.sign({}, { expiresIn: -10 }), [remote], expectation)).resolves.toMatchObject({ verified: true });
    await expect(verifyOriginToken(await idp.sign({}, { notBefore: 15 }), [remote], expectation)).resolves.toMatchObject({ verified: true });
  });

  it('reads GitLab CI claims: project_path, ref_name, pipeline_url', async () => {
    const gitlabClaims = {
      repository: undefined,
      ref: undefined,
      ref_type: 'branch',
      run_id: undefined,
      server_url: undefined,
      sub: 'project_path:group/sub/widget:ref_type:branch:ref:release/2.0',
      project_path: 'group/sub/widget',
      project_id: '4242',
      namespace_path: 'group/sub',
      ref_name: 'release/2.0',
      pipeline_id: '777',
      pipeline_url: 'https://gitlab.com/group/sub/widget/-/pipelines/777',
    };
    const selfManaged = await verifyOriginToken(await idp.sign(gitlabClaims), [remote], {
      repositoryUrl: `${idp.issuer}/Group/Sub/Widget/`,
      branchPatterns: ['release/*'],
    });
    expect(selfManaged).toMatchObject({
      repository: 'group/sub/widget',
      repositoryUrl: `${idp.issuer}/group/sub/widget`,
      branch: 'release/2.0',
      buildUrl: 'https://gitlab.com/group/sub/widget/-/pipelines/777',
    });

    // gitlab.com itself, GitLab's real shape: a bare branch name in "ref", no pipeline_url.
    const token = await idp.sign({
      ...gitlabClaims,
      iss: 'https://gitlab.com',
      ref: 'main',
      ref_name: undefined,
      ref_path: 'refs/heads/main',
      pipeline_url: undefined,
    });
    const hosted = await verifyOriginToken(token, [inline('https://gitlab.com')], {
      repositoryUrl: 'git@gitlab.com:group/sub/widget.git',
      branchPatterns: ['main'],
    });
    expect(hosted).toMatchObject({
      issuer: 'https://gitlab.com',
      repositoryUrl: 'https://gitlab.com/group/sub/widget',
      branch: 'main',
      buildUrl: 'https://gitlab.com/group/sub/widget/-/pipelines/777',
    });
  });

  it('accepts a repository_url claim compared as a URL', async () => {
    const token = await idp.sign({ repository: undefined, repository_url: 'https://git.example.org/acme/widget.git' });
    const origin = await verifyOriginToken(token, [remote], { repositoryUrl: 'https://git.example.org/ACME/widget', branchPatterns: [] });
    expect(origin).toMatchObject({ repository: 'https://git.example.org/acme/widget.git', repositoryUrl: 'https://git.example.org/acme/widget' });
  });

  it('picks, among build systems with the same issuer, the one with the token audience', async () => {
    const token = await idp.sign({}, { audience: 'signet-release' });
    const origin = await verifyOriginToken(
      token,
      [remote, { ...remote, id: 'bs-release', audience: 'signet-release' }],
      { repositoryUrl: repoUrl, branchPatterns: [] },
    );
    expect(origin.buildSystemId).toBe('bs-release');
  });

  it('allows tags only through a refs/tags/ pattern', async () => {
    const token = await idp.sign({ ref: 'refs/tags/v1.2.0', ref_type: 'tag' });
    const origin = await verifyOriginToken(token, [remote], { repositoryUrl: repoUrl, branchPatterns: ['main', 'refs/tags/v*'] });
    expect(origin.branch).toBe('refs/tags/v1.2.0');
    const error = await expectFailure(token, [remote], { repositoryUrl: repoUrl, branchPatterns: ['main', 'v*'] }, 'branch_not_allowed');
    expect(error.message).toContain('refs/tags/v1.2.0');
    expect(error.message).toContain('is a tag');
    await expectFailure(token, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'branch_not_allowed');
  });
});

describe('verifyOriginToken: rejected tokens', () => {
  it('rejects a branch outside the patterns, naming branch and patterns', async () => {
    const token = await idp.sign({ ref: 'refs/heads/feature/x' });
    const error = await expectFailure(token, [remote], { repositoryUrl: repoUrl, branchPatterns: ['main', 'release/*'] }, 'branch_not_allowed');
    expect(error.message).toContain('"feature/x"');
    expect(error.message).toContain('"main", "release/*"');
  });

  it('rejects another repository, naming both', async () => {
    const token = await idp.sign({ repository: 'acme/gadget' });
    const error = await expectFailure(token, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'repository_mismatch');
    expect(error.message).toContain('"acme/gadget"');
    expect(error.message).toContain(repoUrl);
  });

  it('rejects an owner/name path on a host that does not correspond to the issuer', async () => {
    const github = await idp.sign({ iss: GITHUB_ISSUER });
    const error = await expectFailure(github, [inline(GITHUB_ISSUER)], { repositoryUrl: 'https://gitlab.com/acme/widget', branchPatterns: [] }, 'repository_mismatch');
    expect(error.message).toContain('on github.com');
    await expectFailure(await idp.sign(), [remote], { repositoryUrl: 'https://github.com/acme/widget', branchPatterns: [] }, 'repository_mismatch');
  });

  it('rejects an expired token', async () => {
    const token = await idp.sign({}, { expiresIn: -120 });
    const error = await expectFailure(token, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'expired');
    expect(error.message).toMatch(/expired at \d{4}-/);
  });

  it('rejects a token that is not valid yet', async () => {
    const token = await idp.sign({}, { notBefore: 300 });
    await expectFailure(token, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'not_yet_valid');
  });

  it('rejects a wrong audience', async () => {
    const token = await idp.sign({}, { audience: 'someone-else' });
    const error = await expectFailure(token, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'wrong_audience');
    expect(error.message).toContain('"someone-else"');
    expect(error.message).toContain('"signet"');
  });

  it('rejects an unknown issuer', async () => {
    const token = await idp.sign({ iss: 'https://ci.evil.example' });
    const error = await expectFailure(token, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'unknown_issuer');
    expect(error.message).toBe('no trusted build system with issuer "https://ci.evil.example"');
  });

  it('rejects a token signed by another key under the same kid', async () => {
    const forger = await generateKeyPair('RS256');
    const token = await idp.sign({}, { privateKey: forger.privateKey, kid: idp.kids.RS256 });
    await expectFailure(token, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'bad_signature');
    await expectFailure(token, [inline(idp.issuer)], { repositoryUrl: repoUrl, branchPatterns: [] }, 'bad_signature');
  });

  it('rejects a kid the JWKS does not have', async () => {
    const token = await idp.sign({}, { kid: 'no-such-key' });
    const error = await expectFailure(token, [inline(idp.issuer)], { repositoryUrl: repoUrl, branchPatterns: [] }, 'unknown_key');
    expect(error.message).toContain('"no-such-key"');
  });

  it('rejects alg none and HS256 tokens', async () => {
    const claims = { ...idp.defaultClaims(), iss: idp.issuer, aud: idp.audience, exp: Math.floor(Date.now() / 1000) + 300 };
    const unsigned = [
      base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' })),
      base64url.encode(JSON.stringify(claims)),
      '',
    ].join('.');
    const none = await expectFailure(unsigned, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'algorithm_not_allowed');
    expect(none.message).toContain('"none"');

    const hs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: idp.kids.RS256 })
      .sign(new TextEncoder().encode('a shared secret that is long enough to be used'));
    const hs = await expectFailure(hs256, [remote, inline(idp.issuer)], { repositoryUrl: repoUrl, branchPatterns: [] }, 'algorithm_not_allowed');
    expect(hs.message).toContain('"HS256"');
  });

  it('rejects missing repository and branch claims', async () => {
    const noRepo = await idp.sign({ repository: undefined });
    const a = await expectFailure(noRepo, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'missing_claim');
    expect(a.message).toContain('repository');
    const noRef = await idp.sign({ ref: undefined });
    const b = await expectFailure(noRef, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'missing_claim');
    expect(b.message).toContain('branch');
    const noSub = await idp.sign({ sub: undefined });
    await expectFailure(noSub, [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'missing_claim');
  });

  it('rejects garbage, and reports an unreachable JWKS or a misconfigured build system', async () => {
    await expectFailure('not-a-jwt', [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'malformed_token');
    await expectFailure('', [remote], { repositoryUrl: repoUrl, branchPatterns: [] }, 'missing_token');

    const gone = await startTestIssuer();
    const token = await gone.sign();
    const system: TrustedBuildSystem = { ...remote, issuer: gone.issuer, jwksUrl: gone.jwksUrl };
    await gone.close();
    const error = await expectFailure(token, [system], { repositoryUrl: `${gone.issuer}/acme/widget`, branchPatterns: [] }, 'jwks_unavailable');
    // Said the same way as keys that do not match (test/server/security/ssrf.test.ts); the log has the cause.
    expect(error.message).toBe('the origin token could not be verified with the keys of build system "Forge CI"');
    expect(error.detail).toContain(gone.jwksUrl);

    const both = { ...remote, jwks: idp.jwks };
    await expectFailure(await idp.sign(), [both], { repositoryUrl: repoUrl, branchPatterns: [] }, 'invalid_build_system');
  });
});

describe('branchMatches', () => {
  it('matches globs: * within a segment, ** across segments', () => {
    expect(branchMatches('main', ['main'])).toBe(true);
    expect(branchMatches('refs/heads/main', ['main'])).toBe(true);
    expect(branchMatches('mainline', ['main'])).toBe(false);
    expect(branchMatches('release/1.2', ['release/*'])).toBe(true);
    expect(branchMatches('release/1/2', ['release/*'])).toBe(false);
    expect(branchMatches('release/1/2', ['release/**'])).toBe(true);
    expect(branchMatches('release', ['release/**'])).toBe(false);
    expect(branchMatches('a/b/hotfix', ['**/hotfix'])).toBe(true);
    expect(branchMatches('hotfix', ['**/hotfix'])).toBe(true);
    expect(branchMatches('release-1.x', ['release-1.*'])).toBe(true);
    expect(branchMatches('release-1x', ['release-1.*'])).toBe(false); // "." is literal
    expect(branchMatches('Main', ['main'])).toBe(false);
  });

  it('allows any branch but no tag without patterns; full refs through refs/ patterns', () => {
    expect(branchMatches('anything/at/all', [])).toBe(true);
    expect(branchMatches('anything', ['  '])).toBe(true);
    expect(branchMatches('refs/tags/v1', [])).toBe(false);
    expect(branchMatches('refs/tags/v1', ['*'])).toBe(false);
    expect(branchMatches('refs/tags/v1', ['refs/tags/*'])).toBe(true);
    expect(branchMatches('main', ['refs/heads/main'])).toBe(true);
    expect(branchMatches('refs/pull/1/merge', ['**'])).toBe(false);
    expect(branchMatches('', [])).toBe(false);
  });
});

describe('repositoryMatches', () => {
  it('normalizes protocol, case, trailing ".git" and "/", scp syntax', () => {
    expect(normalizeRepositoryUrl('https://GitHub.com/Acme/Widget.git/')).toBe('github.com/acme/widget');
    expect(normalizeRepositoryUrl('git@github.com:acme/widget.git')).toBe('github.com/acme/widget');
    expect(normalizeRepositoryUrl('github.com/acme/widget')).toBe('github.com/acme/widget');
    expect(normalizeRepositoryUrl('https://github.com:443/acme/widget')).toBe('github.com/acme/widget');
    expect(normalizeRepositoryUrl('https://github.com/')).toBeNull();
    expect(repositoryMatches('https://github.com/acme/widget', 'http://GITHUB.com/acme/widget.git', GITHUB_ISSUER)).toBe(true);
    expect(repositoryMatches('https://github.com/acme/widget', 'https://github.com/acme/widget2', GITHUB_ISSUER)).toBe(false);
  });

  it('matches owner/name only on the host that corresponds to the issuer', () => {
    expect(repositoryMatches('acme/widget', 'https://github.com/acme/widget', GITHUB_ISSUER)).toBe(true);
    expect(repositoryMatches('Acme/Widget', 'https://github.com/acme/widget.git', GITHUB_ISSUER)).toBe(true);
    expect(repositoryMatches('acme/widget', 'https://gitlab.com/acme/widget', GITHUB_ISSUER)).toBe(false);
    expect(repositoryMatches('acme/widget', 'https://gitlab.com/acme/widget', 'https://gitlab.com')).toBe(true);
    expect(repositoryMatches('acme/widget', 'https://github.com/acme/widget', 'https://gitlab.com')).toBe(false);
    expect(repositoryMatches('acme/widget', 'https://ghes.corp.example/acme/widget', 'https://ghes.corp.example/_services/token')).toBe(true);
    expect(repositoryMatches('acme/../widget', 'https://github.com/widget', GITHUB_ISSUER)).toBe(false);
  });
});
