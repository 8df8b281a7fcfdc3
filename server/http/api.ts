// The REST side (SPEC §7, §8): commands at POST /api/v1/commands/{name} with the same envelope as
// over Socket.IO, sign-in and invitations, first-run setup, the published protocol, health and metrics.
import express, { type NextFunction, type Request, type Response } from 'express';
import { serialize as serializeCookie } from 'cookie';
import { z } from 'zod';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { COMMAND_NAMES, CommandOptions, commandDeclarations, ERROR_CODES, type ErrorCode } from '../../src/lib/shared/commands.js';
import { ENTITIES } from '../../src/lib/shared/events.js';
import { SESSION_COOKIE, signIn, signOut, createSessionFor } from '../auth/sessions.js';
import { acceptInvitation } from '../auth/invitations.js';
import { completeSetup } from '../auth/organizations.js';
import { principalOf, requireJsonBody, requireSameOrigin, sendError, sessionIdOf, sourceOf } from './requestAuth.js';
import { CommandFailure, invalidInput, rateLimited } from '../errors.js';
import { toCommandError, type Dispatcher } from '../commands/dispatch.js';
import { withinDeadline } from '../commands/attempt.js';
import type { Signet } from '../signet.js';
import type { Metrics } from '../metrics.js';
import type { NodeStatus } from '../nodeStatus.js';
import { tokenHash as hashSession } from '../auth/secrets.js';
import { openApiDocument } from './openapi.js';
import { servedOverHttps } from './securityHeaders.js';
import { LoginInput, type Health, type Ready, type SetupDone, type SetupStatus, type SignedIn, type SignedOut } from '../../src/lib/shared/rest.js';

export function createApi(signet: Signet, dispatcher: Dispatcher, metrics: Metrics, status: NodeStatus): express.Router {
  const { config } = signet;
  const api = express.Router();
  const secureCookie = servedOverHttps(config);

  const setSessionCookie = (res: Response, sessionId: string) =>
    res.setHeader(
      'Set-Cookie',
      serializeCookie(SESSION_COOKIE, sessionId, {
        httpOnly: true,
        sameSite: 'lax',
        secure: secureCookie,
        path: '/',
        maxAge: config.SIGNET_SESSION_TTL_HOURS * 3600,
      }),
    );
  const requireCookieOrigin = (req: Request) => requireSameOrigin(signet, req);

  const run = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response) =>
    handler(req, res).catch((error) => sendError(res, toCommandError(signet, error, req.path)));

  api.get('/healthz', (_req, res) => {
    res.json({ ok: true, node: config.nodeId } satisfies Health);
  });
  api.get('/readyz', run(async (_req, res) => {
    // A draining node takes nothing new: load balancers move its traffic elsewhere.
    if (status.draining) throw new CommandFailure('UNAVAILABLE', 'This node is shutting down');
    await withinDeadline(signet.store.ping(), config.SIGNET_COMMAND_DEADLINE_MS);
    res.json({ ok: true } satisfies Ready);
  }));
  api.get('/metrics', run(async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  }));

  api.get('/api/v1/protocol.json', (_req, res) => {
    res.json(protocolDocument());
  });
  const openApi = openApiDocument(config.publicUrl);
  api.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openApi);
  });

  api.use('/api/v1', express.json({ limit: '256kb' }));

  // Password guessing. Failed attempts are counted per address and account (10 lock that account
  // for that address), and per address over all accounts (SIGNET_LOGIN_FAILURES_PER_ADDRESS:
  // password spraying, one guess each at many accounts), for 15 minutes, on all nodes. A locked
  // attempt is refused before the password is checked (argon2id costs CPU) and is not audited.
  const LOGIN_FAILURES_ALLOWED = 10;
  const LOGIN_WINDOW_SECONDS = 15 * 60;
  const failuresPerAccount = signet.store.rateLimits.failureCounter('login', LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW_SECONDS);
  const failuresPerAddress = signet.store.rateLimits.failureCounter('login-address', config.SIGNET_LOGIN_FAILURES_PER_ADDRESS, LOGIN_WINDOW_SECONDS);

  /** Runs a password check unless a count is at its limit; a failure (UNAUTHENTICATED or `alsoFailed`) counts in both. */
  async function guarded<T>(req: Request, accountKey: string, what: string, attempt: () => Promise<T>, alsoFailed: ErrorCode[] = []): Promise<T> {
    const address = String(req.ip);
    const counts: Array<[RateLimiterRedis, string, string]> = [
      [failuresPerAccount, `${address}:${accountKey}`, `Too many failed ${what}`],
      [failuresPerAddress, address, `Too many failed ${what} from this address`],
    ];
    const seen = await Promise.all(counts.map(([counter, key]) => counter.get(key)));
    counts.forEach(([counter, , message], i) => {
      const failures = seen[i];
      if (failures && failures.consumedPoints >= counter.points) {
        throw rateLimited(`${message}; try again in ${Math.ceil(failures.msBeforeNext / 60_000)} min`, failures.msBeforeNext);
      }
    });
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof CommandFailure && (error.code === 'UNAUTHENTICATED' || alsoFailed.includes(error.code))) {
        await Promise.all(
          counts.map(([counter, key]) =>
            counter.consume(key).catch((rejection) => {
              if (!(rejection instanceof RateLimiterRes)) throw rejection;
            }),
          ),
        );
      }
      throw error;
    }
  }

  api.post('/api/v1/auth/login', run(async (req, res) => {
    requireOriginWhenSent(req);
    const parsed = LoginInput.safeParse(req.body);
    if (!parsed.success) throw invalidInput(parsed.error);
    const email = parsed.data.email.toLowerCase();
    const signedIn = await guarded(req, email, 'sign-ins', () => signIn(signet, parsed.data.email, parsed.data.password, sourceOf(req)));
    // Success forgives this account's failures from this address, not the address's over all accounts.
    await failuresPerAccount.delete(`${String(req.ip)}:${email}`);
    setSessionCookie(res, signedIn.sessionId);
    res.json({ ok: true, result: { user: presentUser(signedIn.user), orgs: signedIn.orgs } satisfies SignedIn });
  }));

  api.post('/api/v1/auth/logout', run(async (req, res) => {
    const sessionId = sessionIdOf(req);
    if (sessionId) {
      requireCookieOrigin(req);
      await signOut(signet, sessionId, sourceOf(req));
    }
    res.setHeader('Set-Cookie', serializeCookie(SESSION_COOKIE, '', { httpOnly: true, path: '/', maxAge: 0 }));
    res.json({ ok: true, result: { signedOut: true } satisfies SignedOut });
  }));

  api.post('/api/v1/auth/accept-invite', run(async (req, res) => {
    requireOriginWhenSent(req);
    // Accepting for an existing account checks its password: limited like sign-in. An unknown or
    // expired link counts as a failure too (guessing links), for the address.
    const token: unknown = req.body?.token;
    const invitation = `invite:${hashSession(typeof token === 'string' ? token : '')}`;
    const user = await guarded(req, invitation, 'attempts', () => acceptInvitation(signet, req.body, sourceOf(req)), ['NOT_FOUND']);
    const session = await createSessionFor(signet, user, sourceOf(req));
    setSessionCookie(res, session.sessionId);
    res.json({ ok: true, result: { user: presentUser(user), orgs: session.orgs } satisfies SignedIn });
  }));

  api.get('/api/v1/auth/session', run(async (req, res) => {
    const sessionId = sessionIdOf(req);
    if (!sessionId) throw new CommandFailure('UNAUTHENTICATED', 'Not signed in');
    const session = await signet.store.sessions.get(hashSession(sessionId));
    const user = session ? (await signet.store.users.get(session.value.userId))?.value : null;
    if (!user) throw new CommandFailure('UNAUTHENTICATED', 'Not signed in');
    const orgs = await orgsOf(user.id);
    res.json({ ok: true, result: { user: presentUser(user), orgs } satisfies SignedIn });
  }));

  api.get('/api/v1/setup', run(async (_req, res) => {
    res.json({ ok: true, result: { needed: await signet.store.organizations.setupToken.pending() } satisfies SetupStatus });
  }));
  api.post('/api/v1/setup', run(async (req, res) => {
    requireOriginWhenSent(req);
    const created = await completeSetup(signet, req.body, sourceOf(req));
    res.status(201).json({ ok: true, result: { org: created.org } satisfies SetupDone });
  }));

  api.post('/api/v1/commands/:name', run(async (req, res) => {
    requireJsonBody(req);
    const principal = () => principalOf(signet, req);
    const requestId = req.header('idempotency-key');
    const envelope = requestId === undefined ? undefined : { options: { requestId }, requestIdField: 'Idempotency-Key' };
    const ack = await dispatcher.run(principal, req.params.name, req.body, sourceOf(req), undefined, envelope);
    if (ack.replayed) res.setHeader('Idempotent-Replayed', 'true');
    if (ack.ok) res.json(ack);
    else sendError(res, ack.error);
  }));

  // Malformed JSON bodies and the like.
  api.use('/api/v1', (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!error) return next();
    const status = (error as { status?: number }).status;
    const refuse = (problem: string) => sendError(res, { code: 'INVALID_INPUT', message: `body: ${problem}`, issues: [{ path: 'body', message: problem }] });
    if (status === 413) return refuse('is too large');
    if (status === 400) return refuse('is not valid JSON (an object, or nothing)');
    sendError(res, toCommandError(signet, error, 'http'));
  });

  function requireOriginWhenSent(req: Request) {
    if (req.headers.origin) requireCookieOrigin(req);
  }

  async function orgsOf(userId: string) {
    const orgIds = await signet.store.users.orgIds(userId);
    const rows = await Promise.all(
      orgIds.map(async (orgId) => {
        const [org, member] = await Promise.all([signet.store.organizations.get(orgId), signet.store.members.get(orgId, userId)]);
        return org && member && !org.value.deletedAt ? { slug: org.value.slug, name: org.value.name, role: member.value.role } : null;
      }),
    );
    return rows.filter((row) => row !== null);
  }

  return api;
}


function presentUser(user: { id: string; email: string; name: string; operator: boolean }) {
  return { id: user.id, email: user.email, name: user.name, operator: user.operator };
}

/** The protocol as data: every command's name, permission, input and result as JSON Schema, and the entity-change events. */
export function protocolDocument() {
  const schema = (type: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(type, { io, unrepresentable: 'any' });
  return {
    protocol: 'signet',
    version: 1,
    transport: {
      socketIo: { path: '/socket.io', command: 'socket.emit("command", name, input, ack) or socket.emit("command", name, input, options, ack)' },
      rest: 'POST /api/v1/commands/{name} with the input as JSON body; options.requestId as the Idempotency-Key header',
    },
    /** A command's options: with a request id it is applied at most once, and a retry with the same id gets the first answer. */
    commandOptions: schema(CommandOptions, 'input'),
    errorCodes: ERROR_CODES,
    commands: COMMAND_NAMES.map((name) => {
      const { permission, input, result } = commandDeclarations[name];
      return { name, permission, input: schema(input, 'input'), result: schema(result, 'output') };
    }),
    /** `change` events: { seq, entity, id, op, data?, version? }, where `data` (absent for deleted) is the entity as it is now. */
    entities: Object.fromEntries(Object.entries(ENTITIES).map(([entity, data]) => [entity, schema(data, 'output')])),
  };
}
