// The REST API for CI (SPEC §8): submit (a streamed multipart upload), read, download, re-submit,
// and the audit log as NDJSON. The same checks as the commands: actor loaded fresh, rate limit,
// permission from the matrix (denials audited), validation that names the field.
import { auditLog } from '../audit/log.js';
import express, { type Request, type Response } from 'express';
import busboy from 'busboy';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import type { Permission } from '../../src/lib/shared/permissions.js';
import { Description, RequestId } from '../../src/lib/shared/commands.js';
import { principalScope, type Actor } from '../auth/actor.js';
import { auditDenial } from '../audit/denial.js';
import { auditOrigin, noteVerifierKey } from '../audit/checkpointNote.js';
import { checkpointFor } from '../commands/audit.js';
import type { NodeServices } from '../commands/define.js';
import { CommandFailure, conflict, forbidden, invalid, invalidInput, notFound } from '../errors.js';
import { toCommandError, type Dispatcher } from '../commands/dispatch.js';
import { resubmit } from '../commands/requests.js';
import type { Signet } from '../signet.js';
import type { RequestRecord } from '../store/records.js';
import type { IdempotencyScope } from '../store/requests.js';
import { artifactPaths, signedPath, storeUpload, UploadTooLarge } from '../signing/artifacts.js';
import { formatOf, signedDownload } from '../../src/lib/shared/formats.js';
import type { RestSigningRequest } from '../../src/lib/shared/rest.js';
import { checkSubmitter, discardUpload, newRequestId, resolveBySlugs, submitSigningRequest } from '../signing/submit.js';
import { principalOf, requireJsonBody, sendError, sourceOf } from './requestAuth.js';

export const SubmitFields = z.strictObject({
  projectSlug: z.string().min(1).max(64),
  signingPolicySlug: z.string().min(1).max(64),
  artifactConfigurationSlug: z.string().min(1).max(64).optional(),
  description: Description.default(''),
  originToken: z.string().max(16_000).optional(),
  parameters: z.record(z.string().regex(/^[\w.-]{1,64}$/), z.string().max(1000)).refine((p) => Object.keys(p).length <= 50, 'at most 50 parameters').default({}),
});

export const ResubmitInput = z.strictObject({
  signingPolicySlug: z.string().min(1).max(64).optional(),
  description: Description.optional(),
  originToken: z.string().max(16_000).optional(),
});

/** GET …/audit: entries after a seq, a page at a time. */
export const AuditExportQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0).describe('entries with a higher seq'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

/** The REST shape of a request (SPEC §8). */
export function presentRequest(signet: Signet, orgSlug: string, request: RequestRecord): RestSigningRequest {
  const self = `${signet.config.publicUrl}/api/v1/orgs/${orgSlug}/signing-requests/${request.id}`;
  return {
    id: request.id,
    status: request.status,
    workflowStatus: request.workflowStatus,
    isFinalStatus: request.isFinalStatus,
    projectSlug: request.projectSlug,
    signingPolicySlug: request.policySlug,
    artifactConfigurationSlug: request.artifactConfigSlug,
    signatureFormat: formatOf(request),
    artifact: request.artifact,
    description: request.description,
    parameters: request.parameters,
    origin: request.origin,
    submitter: { id: request.submitterId, name: request.submitterName },
    requiredApprovals: request.requiredApprovals,
    approvals: request.approvals,
    denials: request.denials,
    preApproval: request.preApproval ?? null,
    breakGlass: request.breakGlass ?? null,
    escalation: request.escalation ?? null,
    failureReason: request.failureReason,
    signature: request.signature,
    resubmittedFromId: request.resubmittedFromId,
    createdAt: request.createdAt,
    updatedAt: request.updatedAt,
    finishedAt: request.finishedAt,
    expiresAt: request.expiresAt,
    links: {
      self,
      signedArtifact: request.workflowStatus === 'Completed' ? `${self}/signed-artifact` : null,
      unsignedArtifact: `${self}/unsigned-artifact`,
      resubmit: `${self}/resubmit`,
      console: `${signet.config.publicUrl}/requests/${request.id}`,
    },
  };
}

/** How a route family names the multipart fields of a submission (native or SignPath's). */
export type FieldNaming = (name: string, isFile: boolean) =>
  | { kind: 'field'; name: string }
  | { kind: 'parameter'; name: string }
  | { kind: 'file' }
  | { kind: 'ignore' }
  | { kind: 'refuse'; message: string };

/** SPEC §8's names: `parameters[name]`, the file in `artifact`, every other field as sent. */
const nativeNaming: FieldNaming = (name, isFile) => {
  if (isFile) return name === 'artifact' ? { kind: 'file' } : { kind: 'refuse', message: 'unexpected file: send exactly one file, in the field "artifact"' };
  const parameter = /^parameters\[(.+)\]$/.exec(name);
  return parameter ? { kind: 'parameter', name: parameter[1]! } : { kind: 'field', name };
};

/**
 * What the REST routes do, once: authenticate and check permissions, submit a streamed upload,
 * read, download and re-submit. The native routes (SPEC §8) and the SignPath-compatible ones
 * (signPathApi.ts) differ only in the names they read and write.
 */
export function signingHandlers(signet: Signet, dispatcher: Dispatcher) {
  /** Authenticates, rate-limits and checks one permission (a denial is audited). */
  async function actorFor(req: Request, orgSlug: string, permission: Permission, action: string): Promise<Actor> {
    const principal = await principalOf(signet, req, orgSlug);
    // The budget and the actor in one call, before anything else: a refused request costs no upload.
    const actor = await dispatcher.countAndLoad(principal, action, sourceOf(req));
    if (!actor.permissions.has(permission)) {
      const reason = `${action} needs the ${permission} permission`;
      await auditDenial(signet, actor, action, reason, sourceOf(req));
      const failure = forbidden(reason);
      failure.audited = true;
      throw failure;
    }
    return actor;
  }

  async function requestFor(actor: Actor, id: string | undefined): Promise<RequestRecord> {
    const stored = id ? await signet.store.requests.get(actor.orgId, id) : null;
    if (!stored) throw notFound(`Signing request ${id}`);
    return stored.value;
  }

  /**
   * A multipart submission. `created` is false when the Idempotency-Key named a request made
   * before: then nothing is uploaded and that request is returned.
   */
  async function submitUpload(req: Request, actor: Actor, naming: FieldNaming): Promise<{ request: RequestRecord; created: boolean }> {
    const source = sourceOf(req);
    const idempotencyHeader = req.header('idempotency-key');
    let idempotency: IdempotencyScope | undefined;
    if (idempotencyHeader !== undefined) {
      const parsed = RequestId.safeParse(idempotencyHeader);
      if (!parsed.success) throw invalid('Idempotency-Key', parsed.error.issues[0]!.message);
      idempotency = { orgId: actor.orgId, scope: principalScope(actor.principal), key: parsed.data };
      const existingId = await signet.store.requests.idempotentId(idempotency);
      if (existingId) {
        // The same key again: the same request, and no second upload.
        req.resume();
        return { request: await requestFor(actor, existingId), created: false };
      }
    }
    if (!req.is('multipart/form-data')) throw invalid('body', 'send multipart/form-data with the file in the field "artifact"');

    const requestId = newRequestId();
    const paths = artifactPaths(signet.config, actor.orgId, requestId);
    const { fields, upload } = await receiveMultipart(req, paths.artifact, signet.config.SIGNET_MAX_UPLOAD_BYTES, naming, async (early) => {
      // When the slugs come before the file (as curl -F sends them in order), refuse early and
      // bound the upload by the artifact configuration's own limit.
      if (!early.projectSlug || !early.signingPolicySlug) return undefined;
      const resolved = await resolveBySlugs(signet, actor.orgId, {
        project: early.projectSlug,
        policy: early.signingPolicySlug,
        artifactConfig: early.artifactConfigurationSlug,
      });
      await checkSubmitter(signet, actor, source, resolved.project, resolved.policy, 'request.submit');
      return resolved.artifactConfig.maxSizeBytes;
    }).catch(async (error) => {
      await discardUpload(paths.dir);
      throw error;
    });
    try {
      const parsed = SubmitFields.safeParse(fields);
      if (!parsed.success) throw invalidInput(parsed.error);
      if (!upload) throw invalid('artifact', 'is missing: send the file in the multipart field "artifact"');
      const input = parsed.data;
      const resolved = await resolveBySlugs(signet, actor.orgId, {
        project: input.projectSlug,
        policy: input.signingPolicySlug,
        artifactConfig: input.artifactConfigurationSlug,
      });
      const request = await submitSigningRequest(signet, actor, source, {
        ...resolved,
        artifact: upload,
        description: input.description,
        parameters: input.parameters,
        originToken: input.originToken,
        requestId,
        artifactPath: paths.artifact,
        idempotency,
      });
      return { request, created: true };
    } catch (error) {
      await discardUpload(paths.dir);
      // Two concurrent uploads with one Idempotency-Key: the loser answers with the winner's request.
      if (idempotency && error instanceof CommandFailure && error.code === 'CONFLICT') {
        const winnerId = await signet.store.requests.idempotentId(idempotency);
        if (winnerId) return { request: await requestFor(actor, winnerId), created: false };
      }
      throw error;
    }
  }

  /** The signed result of a completed request, named by its format. */
  async function sendSigned(res: Response, request: RequestRecord): Promise<void> {
    if (request.workflowStatus !== 'Completed') throw conflict(`The request is ${request.workflowStatus}; there is no signature yet`);
    const format = formatOf(request);
    const download = signedDownload(format, request.artifact.fileName);
    await sendFile(res, signedPath(signet.config, request.orgId, request.id, format), download.contentType, download.fileName);
  }

  async function sendUnsigned(res: Response, request: RequestRecord): Promise<void> {
    const file = artifactPaths(signet.config, request.orgId, request.id).artifact;
    await sendFile(res, file, 'application/octet-stream', request.artifact.fileName);
  }

  /** A new request from a final one, under the same or another policy of its project. */
  async function resubmitRequest(req: Request, actor: Actor, original: RequestRecord, input: z.infer<typeof ResubmitInput>): Promise<RequestRecord> {
    let policyId: string | undefined;
    if (input.signingPolicySlug) {
      policyId = (await signet.store.policies.bySlug(original.orgId, original.projectId, input.signingPolicySlug))?.value.id;
      if (!policyId) throw invalid('signingPolicySlug', `project ${original.projectSlug} has no signing policy "${input.signingPolicySlug}"`);
    }
    return resubmit({ signet, actor, source: sourceOf(req), store: signet.store }, original, {
      policyId,
      description: input.description,
      originToken: input.originToken,
    });
  }

  return { actorFor, requestFor, submitUpload, sendSigned, sendUnsigned, resubmitRequest };
}

/** Runs an async route handler; a failure answers with the protocol's error envelope. */
export function route<P>(signet: Signet, handler: (req: Request<P>, res: Response) => Promise<void>) {
  return (req: Request<P>, res: Response) =>
    handler(req, res).catch((error) => {
      // Unread request bodies must not keep the connection hanging.
      req.resume();
      sendError(res, toCommandError(signet, error, req.path));
    });
}

export function createSigningApi(signet: Signet, dispatcher: Dispatcher, auditWatch: NodeServices['auditWatch']): express.Router {
  const api = express.Router();
  const base = '/api/v1/orgs/:org';
  const { actorFor, requestFor, submitUpload, sendSigned, sendUnsigned, resubmitRequest } = signingHandlers(signet, dispatcher);
  const run = (handler: (req: Request<{ org: string; id?: string }>, res: Response) => Promise<void>) => route(signet, handler);

  api.post(`${base}/signing-requests`, run(async (req, res) => {
    const actor = await actorFor(req, req.params.org, 'signing:submit', 'request.submit');
    const { request, created } = await submitUpload(req, actor, nativeNaming);
    const body = presentRequest(signet, req.params.org, request);
    res.status(created ? 201 : 200).location(body.links.self).json(body);
  }));

  api.get(`${base}/signing-requests/:id`, run(async (req, res) => {
    const actor = await actorFor(req, req.params.org, 'signing:read', 'request.get');
    res.json(presentRequest(signet, req.params.org, await requestFor(actor, req.params.id)));
  }));

  api.get(`${base}/signing-requests/:id/signed-artifact`, run(async (req, res) => {
    const actor = await actorFor(req, req.params.org, 'signing:read', 'request.download');
    await sendSigned(res, await requestFor(actor, req.params.id));
  }));

  api.get(`${base}/signing-requests/:id/unsigned-artifact`, run(async (req, res) => {
    const actor = await actorFor(req, req.params.org, 'signing:read', 'request.download');
    await sendUnsigned(res, await requestFor(actor, req.params.id));
  }));

  api.post(`${base}/signing-requests/:id/resubmit`, express.json({ limit: '64kb' }), run(async (req, res) => {
    requireJsonBody(req);
    const actor = await actorFor(req, req.params.org, 'signing:submit', 'request.resubmit');
    const original = await requestFor(actor, req.params.id);
    const parsed = ResubmitInput.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error);
    const body = presentRequest(signet, req.params.org, await resubmitRequest(req, actor, original, parsed.data));
    res.status(201).location(body.links.self).json(body);
  }));

  api.get(`${base}/audit`, run(async (req, res) => {
    const actor = await actorFor(req, req.params.org, 'audit:read', 'audit.export');
    const query = AuditExportQuery.safeParse(req.query);
    if (!query.success) throw invalidInput(query.error);
    const entries = await auditLog(signet.store).after(actor.orgId, query.data.after, query.data.limit);
    res.type('application/x-ndjson');
    let last = query.data.after;
    const lines: string[] = [];
    for (const entry of entries) {
      last = entry.seq;
      lines.push(JSON.stringify(entry));
    }
    // The cursor for the next page, for clients that do not parse the last line.
    res.setHeader('X-Signet-Next-After', String(last));
    res.send(lines.length ? `${lines.join('\n')}\n` : '');
  }));

  // The current signed checkpoint (a C2SP note), for a monitor outside Signet to keep and compare
  // (or to save for `signet audit verify --checkpoint`). The header names the key that signs it.
  api.get(`${base}/audit/checkpoint`, run(async (req, res) => {
    const actor = await actorFor(req, req.params.org, 'audit:read', 'audit.checkpoint');
    const note = await checkpointFor(signet, auditWatch, actor.orgId);
    if (!note) throw new CommandFailure('NOT_FOUND', 'The audit log has no signed checkpoint yet');
    res.setHeader('X-Signet-Note-Verifier-Key', noteVerifierKey(auditOrigin(signet.config.publicUrl, actor.orgId), signet.auditKey.publicKey));
    res.type('text/plain; charset=utf-8').send(note);
  }));

  return api;
}

async function sendFile(res: Response, file: string, type: string, downloadName: string): Promise<void> {
  const info = await stat(file).catch(() => null);
  if (!info) throw new CommandFailure('NOT_FOUND', 'The file is missing from storage');
  res.status(200);
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', String(info.size));
  res.setHeader('Content-Disposition', `attachment; filename="${downloadName.replace(/[^\w.-]/g, '_')}"`);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on('error', reject).pipe(res).on('finish', resolve).on('error', reject);
  });
}

/** A form without files (multipart or URL-encoded), its fields named by `naming`. */
export async function receiveFields(req: Request, naming: FieldNaming): Promise<Record<string, unknown>> {
  if (!req.is('multipart/form-data') && !req.is('application/x-www-form-urlencoded')) {
    throw invalid('body', 'send multipart/form-data or application/x-www-form-urlencoded');
  }
  const fieldsOnly: FieldNaming = (name, isFile) => (isFile ? { kind: 'refuse', message: 'unexpected file: this request takes no file' } : naming(name, false));
  const { fields } = await receiveMultipart(req, '', 0, fieldsOnly, async () => undefined);
  return fields;
}

interface ReceivedMultipart {
  fields: Record<string, unknown>;
  upload: { fileName: string; size: number; sha256: string } | null;
}

/**
 * Streams a multipart body: fields are collected under the names `naming` gives them (parameters
 * into one object), the artifact's file goes straight to disk with its SHA-256 computed on the way.
 * `beforeFile` sees the fields that came before the file and may return a tighter size limit (or
 * throw to refuse).
 */
function receiveMultipart(
  req: Request,
  target: string,
  maxBytes: number,
  naming: FieldNaming,
  beforeFile: (fields: Record<string, string | undefined>) => Promise<number | undefined>,
): Promise<ReceivedMultipart> {
  return new Promise((resolve, reject) => {
    // Without a prototype, a field named __proto__ is a field like any other (refused as unknown),
    // not a silently ignored assignment.
    const fields: Record<string, unknown> = Object.create(null);
    const parameters: Record<string, string> = Object.create(null);
    let upload: Promise<ReceivedMultipart['upload']> = Promise.resolve(null);
    let files = 0;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume();
      // Ends a file still being received, so that its write stops and its file is removed; the
      // refusal is answered once that is done, so that the caller's cleanup comes after it.
      parser.destroy();
      void upload.then(() => reject(error), () => reject(error));
    };
    let parser: busboy.Busboy;
    try {
      // Two files at most: the artifact, and a file the naming ignores (SignPath's build settings).
      parser = busboy({ headers: req.headers, limits: { fields: 100, fieldSize: 20_000, files: 2, parts: 120 } });
    } catch {
      return reject(invalid('body', 'is not valid multipart/form-data'));
    }
    // busboy gives an empty name as undefined; refusals name the field as sent.
    const fieldName = (name: string | undefined) => name || '(a field without a name)';
    const oneFile = () => invalid('artifact', 'send exactly one file, in the field "artifact"');
    parser.on('field', (rawName, value, info) => {
      if (failed) return;
      const name = fieldName(rawName);
      if (info.nameTruncated || info.valueTruncated) return fail(invalid(name, 'is too long'));
      const named = naming(name, false);
      // A record drops this name without a word; say so instead.
      if (named.kind === 'parameter' && named.name === '__proto__') return fail(invalid(name, 'is not a usable parameter name'));
      if (named.kind === 'parameter') parameters[named.name] = value;
      else if (named.kind === 'field') fields[named.name] = value;
      else if (named.kind === 'refuse') fail(invalid(name, named.message));
    });
    parser.on('file', (rawName, stream, info) => {
      const name = fieldName(rawName);
      // A file cut short (by fail() below, or by the client) errors; storing it reports that, and
      // nothing else may see it as an unhandled error.
      stream.on('error', () => {});
      // busboy may still hand out a part of the chunk it was parsing when the upload was refused:
      // nothing of it is stored (the refusal's cleanup may already have run).
      if (failed) return void stream.resume();
      const named = naming(name, true);
      if (named.kind === 'ignore') return void stream.resume();
      if (files > 0) {
        stream.resume();
        return fail(oneFile());
      }
      if (named.kind !== 'file') {
        stream.resume();
        return fail(invalid(name, named.kind === 'refuse' ? named.message : 'unexpected file: send exactly one file, in the field "artifact"'));
      }
      files += 1;
      upload = (async () => {
        const limit = (await beforeFile(fields as Record<string, string | undefined>)) ?? maxBytes;
        const stored = await storeUpload(stream, target, Math.min(limit, maxBytes));
        return { fileName: info.filename ?? '', size: stored.size, sha256: stored.sha256 };
      })();
      upload.catch((error) => {
        stream.resume();
        fail(error instanceof UploadTooLarge ? invalid('artifact', error.message) : error);
      });
    });
    parser.on('filesLimit', () => fail(oneFile()));
    parser.on('partsLimit', () => fail(invalid('body', 'has too many parts')));
    parser.on('fieldsLimit', () => fail(invalid('body', 'has too many fields')));
    parser.on('error', (error) => fail(invalid('body', `is not valid multipart/form-data (${(error as Error).message})`)));
    parser.on('close', () => {
      upload.then(
        (stored) => {
          if (failed) return;
          if (Object.keys(parameters).length) fields.parameters = parameters;
          resolve({ fields, upload: stored });
        },
        fail,
      );
    });
    // A client that goes away mid-upload must not leave the request (and its file) hanging.
    req.on('close', () => {
      if (!req.complete) fail(invalid('body', 'the upload was interrupted'));
    });
    req.pipe(parser);
  });
}
