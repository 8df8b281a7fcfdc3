// One log line and one latency observation per HTTP request (Socket.IO's own requests are handled
// before Express and are not counted here). Neither ever holds a secret: no headers are logged
// (cookies, bearer tokens), and query values are kept only for parameters known to be harmless, so
// links such as /setup?token=… or /accept-invite?token=… are logged as token=[redacted].
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** Query parameters whose values may appear in logs; every other value is replaced. */
const HARMLESS_QUERY = new Set(['org', 'project', 'policy', 'status', 'submitter', 'next', 'reason', 'setup', 'from', 'to', 'limit', 'cursor', 'before', 'after', 'action']);

/** Load balancer and scraper traffic: logged at debug level, so it does not drown the rest. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

/** The route label for requests the console (SvelteKit) serves: pages and their assets. */
const UI_ROUTE = 'ui';

function redactUrl(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const params = new URLSearchParams(url.slice(at + 1));
  const kept = [...params].map(([name, value]) => [name, HARMLESS_QUERY.has(name) ? value : '[redacted]']);
  return `${url.slice(0, at)}?${kept.map(([name, value]) => `${encodeURIComponent(name!)}=${value === '[redacted]' ? value : encodeURIComponent(value!)}`).join('&')}`;
}

/** The matched route pattern (never the raw path, which holds ids), "ui" for the console, else "unmatched". */
function routeOf(req: Request, res: Response): string {
  if (req.route?.path !== undefined) return `${req.baseUrl}${String(req.route.path)}`;
  return typeof res.locals.route === 'string' ? res.locals.route : 'unmatched';
}

/** Marks what reaches the console's handler, for the route label. Mount right before it. */
export function markUiRoute(_req: Request, res: Response, next: NextFunction): void {
  res.locals.route = UI_ROUTE;
  next();
}

function summary(req: Request, res: Response): string {
  return `${req.method} ${redactUrl(req.originalUrl ?? req.url)} ${res.statusCode}`;
}

export function requestObserver(logger: Logger, metrics: Metrics): RequestHandler {
  const log = pinoHttp({
    logger,
    quietReqLogger: true,
    customLogLevel: (req, res, error) => {
      if (error || res.statusCode >= 500) return 'error';
      return PROBES.has((req as Request).path) ? 'debug' : 'info';
    },
    serializers: {
      req: (req: { method: string; url: string; raw: Request }) => ({ method: req.method, url: redactUrl(req.raw.originalUrl ?? req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customSuccessMessage: (req, res) => summary(req as Request, res as Response),
    customErrorMessage: (req, res) => summary(req as Request, res as Response),
    customSuccessObject: (req, res, value) => ({ ...value, route: routeOf(req as Request, res as Response) }),
    customErrorObject: (req, res, _error, value) => ({ ...value, route: routeOf(req as Request, res as Response) }),
  });
  return (req, res, next) => {
    const stopTimer = metrics.httpSeconds.startTimer();
    res.once('finish', () => stopTimer({ method: req.method, route: routeOf(req, res), status: String(res.statusCode) }));
    log(req, res, next);
  };
}
