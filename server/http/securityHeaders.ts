// Browser security headers on every response, set with helmet before any route runs: the console
// cannot be framed (clickjacking the Approve button), responses are not content-sniffed, no
// referrer leaves for other sites, and over https the browser is told to stay on https.
// The Content-Security-Policy set here is for data (JSON, downloads, errors), which must never run
// or load anything; what reaches the console's handler carries the console's own (svelte.config.js).
import helmet from 'helmet';
import type { RequestHandler } from 'express';
import type { Config } from '../config.js';

/** Served to browsers over https: HSTS is sent and the session cookie is Secure. */
export function servedOverHttps(config: Config): boolean {
  return config.publicUrl.startsWith('https:');
}

const ONE_YEAR_S = 365 * 24 * 60 * 60;

export function securityHeaders(config: Config): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'none'"],
        'frame-ancestors': ["'none'"],
      },
    },
    // For browsers without CSP frame-ancestors.
    xFrameOptions: { action: 'deny' },
    xContentTypeOptions: true,
    // Same-origin requests keep theirs (and their Origin header, which the CSRF check reads).
    referrerPolicy: { policy: 'same-origin' },
    // Only when the console is https: over plain http the header would be ignored, or pin a
    // development host to https.
    strictTransportSecurity: servedOverHttps(config) ? { maxAge: ONE_YEAR_S, includeSubDomains: false } : false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
  }) as RequestHandler;
}

/**
 * Mounted just before the console's handler: its pages set their own policy, and a page's 304 Not
 * Modified must carry none, or the browser would apply the data policy to the cached page (which
 * then could not load its own scripts).
 */
export const consoleSetsItsOwnPolicy: RequestHandler = (_req, res, next) => {
  res.removeHeader('Content-Security-Policy');
  next();
};
