// While the node drains (SIGTERM), HTTP requests get UNAVAILABLE, changing nothing, and every
// response closes its connection, so keep-alive clients (a CI job sending command after command)
// go to another node instead of holding this one open. Probes still answer (/readyz with 503).
import type { NextFunction, Request, Response } from 'express';
import type { NodeStatus } from '../nodeStatus.js';
import { SHUTTING_DOWN } from '../commands/dispatch.js';
import { sendError } from './requestAuth.js';

const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

export function refuseWhileDraining(status: NodeStatus) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!status.draining) return next();
    res.setHeader('Connection', 'close');
    if (PROBES.has(req.path)) return next();
    sendError(res, SHUTTING_DOWN);
  };
}
