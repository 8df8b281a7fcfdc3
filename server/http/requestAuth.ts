// Who an HTTP request comes from: a Bearer API key, or the session cookie from an allowed Origin.
import type { Request, Response } from 'express';
import { parse as parseCookie } from 'cookie';
import type { CommandError } from '../../src/lib/shared/commands.js';
import { SESSION_COOKIE } from '../auth/sessions.js';
import { authenticateApiKey, authenticateSession, type Principal } from '../auth/actor.js';
import { CommandFailure, HTTP_STATUS } from '../errors.js';
import type { AuditSource } from '../audit/entries.js';
import type { Signet } from '../signet.js';

export function sourceOf(req: Request): AuditSource {
  return { via: 'rest', ip: req.ip, userAgent: String(req.headers['user-agent'] ?? '').slice(0, 300) };
}

export function sendError(res: Response, error: CommandError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = HTTP_STATUS[error.code];
  // Every 429 says when to come back (SPEC §8), in whole seconds, never 0.
  if (status === 429) res.setHeader('Retry-After', String(Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000))));
  res.status(status).json({ ok: false, error });
}

/**
 * A body that is not JSON is refused rather than read as no input at all (which would run the
 * command with its defaults). No body is fine: it stands for an empty input.
 */
export function requireJsonBody(req: Request): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.is('application/json')) {
    throw new CommandFailure('INVALID_INPUT', 'body: send the input as JSON (Content-Type: application/json)', {
      issues: [{ path: 'body', message: 'send the input as JSON (Content-Type: application/json)' }],
    });
  }
}

export function sessionIdOf(req: Request): string | undefined {
  return parseCookie(req.headers.cookie ?? '')[SESSION_COOKIE];
}

/** Cookie-authenticated requests must come from an allowed Origin (no cross-site request forgery). */
export function requireSameOrigin(signet: Signet, req: Request): void {
  const origin = req.headers.origin;
  const allowed = signet.config.allowedOrigins;
  if (!origin || !allowed.includes(origin)) {
    throw new CommandFailure('FORBIDDEN', `Requests with the session cookie must come from ${allowed.join(' or ')}`);
  }
}

/**
 * The principal of a request. `orgSlug` (from the path) must be the API key's organization, or the
 * organization the signed-in user acts in; without it the X-Signet-Org header or ?org= chooses.
 */
export async function principalOf(signet: Signet, req: Request, orgSlug?: string): Promise<Principal> {
  const authorization = req.headers.authorization;
  if (authorization?.startsWith('Bearer ')) {
    const principal = await authenticateApiKey(signet.store, authorization.slice('Bearer '.length).trim());
    if (orgSlug !== undefined && (await signet.store.organizations.idBySlug(orgSlug)) !== principal.orgId) {
      throw new CommandFailure('NOT_FOUND', `Organization "${orgSlug}" was not found for this API key`);
    }
    return principal;
  }
  const sessionId = sessionIdOf(req);
  if (!sessionId) throw new CommandFailure('UNAUTHENTICATED', 'Send an API key as "Authorization: Bearer sgn_…" or sign in');
  // Reads too: a cross-site page must not even fetch with the cookie (downloads, audit export).
  requireSameOriginOrSafeNavigation(signet, req);
  const org = orgSlug ?? req.header('x-signet-org') ?? (typeof req.query.org === 'string' ? req.query.org : undefined);
  return authenticateSession(signet.store, sessionId, org);
}

/** GET navigations (a download link clicked in the console) carry no Origin; everything else must. */
function requireSameOriginOrSafeNavigation(signet: Signet, req: Request): void {
  if (req.method === 'GET' && !req.headers.origin && req.headers['sec-fetch-site'] !== 'cross-site') return;
  requireSameOrigin(signet, req);
}
