// Whether an origin token's repository and branch are the ones a project and policy allow. The
// rules, kept deliberately simple:
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

/** Hosted issuers whose repositories live on another host than the issuer's. */
export const ISSUER_REPOSITORY_HOSTS: Record<string, string> = {
  'token.actions.githubusercontent.com': 'github.com',
};

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

function issuerUrl(issuer: string): URL | null {
  try {
    return new URL(issuer);
  } catch {
    return null;
  }
}

/** The repository host (with port, if any) that an issuer vouches for: see the header comment. */
export function repositoryHostForIssuer(issuer: string): string | null {
  const url = issuerUrl(issuer);
  return url && (ISSUER_REPOSITORY_HOSTS[url.hostname.toLowerCase()] ?? url.host.toLowerCase());
}

export function repositoryBaseForIssuer(issuer: string): string | null {
  const url = issuerUrl(issuer);
  if (!url) return null;
  const mapped = ISSUER_REPOSITORY_HOSTS[url.hostname.toLowerCase()];
  return mapped ? `https://${mapped}` : url.origin;
}

export const hasScheme = (value: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim());
export const isScpLike = (value: string) => /^[^@/\s]+@[^:/\s]+:(?!\/)/.test(value.trim());

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

// Branches

export type GitRef = { kind: 'branch'; name: string; full: string } | { kind: 'other'; full: string };

export function parseRef(value: string): GitRef {
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

export function cleanPatterns(patterns: readonly string[] | undefined): string[] {
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
