// GET /api/v1/openapi.json: the REST API as OpenAPI 3.1, generated from the same declarations that
// serve it (the command registry and its zod schemas), so it cannot drift from what runs.
import { z } from 'zod';
import { commandInputs, ERROR_CODES, RequestId } from '../../src/lib/shared/commands.js';
import { SIGNATURE_FORMATS, SigningRequest } from '../../src/lib/shared/entities.js';
import { COMMANDS } from '../commands/registry.js';

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } },
});

const requestResponse = (description: string) => ({
  description,
  headers: { Location: { schema: { type: 'string' }, description: 'the request\'s URL' } },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/SigningRequest' } } },
});

const idempotencyKeyParam = {
  name: 'Idempotency-Key',
  in: 'header',
  schema: json(RequestId),
  description:
    'a request id of your choosing: the command is applied at most once, and a retry with the same key (after 503 UNAVAILABLE, whose outcome may be unknown) gets the first answer for 24 hours',
};
const orgParam = { name: 'org', in: 'path', required: true, schema: { type: 'string' }, description: 'organization slug' };
const signPathOrgParam = { name: 'organizationId', in: 'path', required: true, schema: { type: 'string' }, description: "the organization's id (SignPath's OrganizationId) or its slug" };
const signPathResponse = (description: string) => ({
  description,
  headers: { Location: { schema: { type: 'string' }, description: 'the request\'s URL' } },
  content: {
    'application/json': {
      schema: {
        type: 'object',
        description: "SignPath's fields: status (InProgress, WaitingForApproval, Completed, Failed, Denied, Canceled), workflowStatus, isFinalStatus, description, project/artifactConfiguration/signingPolicy Id, Slug and Name, unsignedArtifactLink, signedArtifactLink (null until Completed), origin (verified requests only), parameters",
      },
    },
  },
});
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const commonErrors = {
  '400': errorResponse('INVALID_INPUT: the error names the field'),
  '401': errorResponse('UNAUTHENTICATED'),
  '403': errorResponse('FORBIDDEN'),
  '404': errorResponse('NOT_FOUND'),
  '429': {
    ...errorResponse('RATE_LIMITED (error.retryAfterMs says how long to wait)'),
    headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 }, description: 'seconds to wait before trying again' } },
  },
  '503': errorResponse('UNAVAILABLE'),
};

export function openApiDocument(publicUrl: string) {
  const restRequest = SigningRequest.pick({
    id: true,
    status: true,
    workflowStatus: true,
    isFinalStatus: true,
    artifact: true,
    description: true,
    parameters: true,
    origin: true,
    approvals: true,
    denials: true,
    preApproval: true,
    breakGlass: true,
    escalation: true,
    failureReason: true,
    signature: true,
    resubmittedFromId: true,
    createdAt: true,
    updatedAt: true,
    finishedAt: true,
    expiresAt: true,
  }).extend({
    projectSlug: z.string(),
    signingPolicySlug: z.string(),
    artifactConfigurationSlug: z.string(),
    signatureFormat: z.enum(SIGNATURE_FORMATS),
    links: z.object({ self: z.string(), signedArtifact: z.string().nullable(), unsignedArtifact: z.string(), resubmit: z.string() }),
  });

  const commandPaths = Object.fromEntries(
    COMMANDS.map((command) => [
      `/api/v1/commands/${command.name}`,
      {
        post: {
          operationId: command.name,
          summary: `${command.name}${command.permission ? ` (needs ${command.permission})` : ''}`,
          tags: ['commands'],
          parameters: [idempotencyKeyParam],
          requestBody: { required: true, content: { 'application/json': { schema: json(commandInputs[command.name]) } } },
          responses: {
            '200': {
              description: '{ ok: true, result } (with `replayed: true` and the header Idempotent-Replayed when it is the answer of an earlier attempt with this Idempotency-Key)',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
            ...commonErrors,
            '409': errorResponse('CONFLICT (a stale version carries the current entity)'),
          },
        },
      },
    ]),
  );

  return {
    openapi: '3.1.0',
    info: { title: 'Signet', version: '1', description: 'Self-hosted code signing: the REST API for CI systems and the command API.' },
    servers: [{ url: publicUrl }],
    security: [{ apiKey: [] }, { session: [] }],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'an API key, sgn_…' },
        session: { type: 'apiKey', in: 'cookie', name: 'signet_session', description: 'browsers; requests need an allowed Origin' },
      },
      schemas: {
        ErrorEnvelope: {
          type: 'object',
          properties: {
            ok: { const: false },
            error: {
              type: 'object',
              properties: {
                code: { enum: [...ERROR_CODES] },
                message: { type: 'string' },
                issues: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
                retryAfterMs: { type: 'integer', minimum: 0, description: 'with RATE_LIMITED: how long to wait before trying again' },
              },
              required: ['code', 'message'],
            },
          },
        },
        SigningRequest: z.toJSONSchema(restRequest, { target: 'draft-2020-12' }),
      },
    },
    paths: {
      '/api/v1/orgs/{org}/signing-requests': {
        post: {
          operationId: 'submitSigningRequest',
          summary: 'Submit an artifact for signing (needs signing:submit and to be a submitter of the policy)',
          parameters: [orgParam, { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 200 }, description: 'the same key again returns the same request' }],
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['projectSlug', 'signingPolicySlug', 'artifact'],
                  properties: {
                    projectSlug: { type: 'string' },
                    signingPolicySlug: { type: 'string' },
                    artifactConfigurationSlug: { type: 'string', description: 'default: the project\'s default' },
                    description: { type: 'string' },
                    'parameters[name]': { type: 'string', description: 'any number of parameters[NAME]=VALUE fields' },
                    originToken: { type: 'string', description: 'the build system\'s OIDC ID token, for policies with origin verification' },
                    artifact: { type: 'string', format: 'binary' },
                  },
                },
              },
            },
          },
          responses: { '201': requestResponse('created'), '200': requestResponse('the request this Idempotency-Key created before'), ...commonErrors, '409': errorResponse('CONFLICT (inactive project)') },
        },
      },
      '/api/v1/orgs/{org}/signing-requests/{id}': {
        get: { operationId: 'getSigningRequest', parameters: [orgParam, idParam], responses: { '200': requestResponse('the request'), ...commonErrors } },
      },
      '/api/v1/orgs/{org}/signing-requests/{id}/signed-artifact': {
        get: {
          operationId: 'downloadSignature',
          summary: "The signed result, by the artifact configuration's format: cms-detached: the detached CMS/PKCS#7 signature (DER, <file>.p7s); authenticode: the signed file itself, under its own name; openpgp-detached: the ASCII-armored signature (<file>.asc)",
          parameters: [orgParam, idParam],
          responses: {
            '200': {
              description: 'the signature, or the signed file',
              content: {
                'application/pkcs7-signature': { schema: { type: 'string', format: 'binary' } },
                'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
                'application/pgp-signature': { schema: { type: 'string' } },
              },
            },
            ...commonErrors,
            '409': errorResponse('not Completed'),
          },
        },
      },
      '/api/v1/orgs/{org}/signing-requests/{id}/unsigned-artifact': {
        get: {
          operationId: 'downloadArtifact',
          parameters: [orgParam, idParam],
          responses: { '200': { description: 'the uploaded file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, ...commonErrors },
        },
      },
      '/api/v1/orgs/{org}/signing-requests/{id}/resubmit': {
        post: {
          operationId: 'resubmitSigningRequest',
          parameters: [orgParam, idParam],
          requestBody: {
            content: {
              'application/json': {
                schema: { type: 'object', properties: { signingPolicySlug: { type: 'string' }, description: { type: 'string' }, originToken: { type: 'string' } }, additionalProperties: false },
              },
            },
          },
          responses: { '201': requestResponse('the new request'), ...commonErrors, '409': errorResponse('the original is not final') },
        },
      },
      '/api/v1/{organizationId}/SigningRequests': {
        post: {
          operationId: 'signPathSubmit',
          summary: "SignPath-compatible submission (also at …/SigningRequests/SubmitWithArtifact): SignPath's field names, matched without regard to case; the same checks and signing as submitSigningRequest",
          tags: ['signpath'],
          parameters: [signPathOrgParam],
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['ProjectSlug', 'SigningPolicySlug', 'Artifact'],
                  properties: {
                    ProjectSlug: { type: 'string' },
                    SigningPolicySlug: { type: 'string' },
                    ArtifactConfigurationSlug: { type: 'string' },
                    Description: { type: 'string' },
                    'Parameters[name]': { type: 'string', description: 'or Parameters.NAME' },
                    OriginToken: { type: 'string', description: "Signet's addition: the build system's OIDC ID token. Origin.* fields are ignored" },
                    Artifact: { type: 'string', format: 'binary' },
                  },
                },
              },
            },
          },
          responses: { '201': signPathResponse('created; Location is the request'), '200': signPathResponse('the request this Idempotency-Key created before'), ...commonErrors },
        },
      },
      '/api/v1/{organizationId}/SigningRequests/{id}': {
        get: { operationId: 'signPathGet', tags: ['signpath'], parameters: [signPathOrgParam, idParam], responses: { '200': signPathResponse("SignPath's signing request data"), ...commonErrors } },
      },
      '/api/v1/{organizationId}/SigningRequests/{id}/SignedArtifact': {
        get: { operationId: 'signPathSignedArtifact', tags: ['signpath'], parameters: [signPathOrgParam, idParam], responses: { '200': { description: 'as downloadSignature' }, ...commonErrors, '409': errorResponse('not Completed') } },
      },
      '/api/v1/{organizationId}/SigningRequests/{id}/UnsignedArtifact': {
        get: { operationId: 'signPathUnsignedArtifact', tags: ['signpath'], parameters: [signPathOrgParam, idParam], responses: { '200': { description: 'the uploaded file' }, ...commonErrors } },
      },
      '/api/v1/{organizationId}/SigningRequests/Resubmit': {
        post: {
          operationId: 'signPathResubmit',
          tags: ['signpath'],
          parameters: [signPathOrgParam],
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: { type: 'object', required: ['OriginalSigningRequestId'], properties: { OriginalSigningRequestId: { type: 'string' }, SigningPolicySlug: { type: 'string' }, Description: { type: 'string' } } },
              },
            },
          },
          responses: { '201': signPathResponse('the new request'), ...commonErrors, '409': errorResponse('the original is not final') },
        },
      },
      '/api/v1/orgs/{org}/audit': {
        get: {
          operationId: 'exportAudit',
          summary: 'The audit log as NDJSON, oldest first (needs audit:read)',
          parameters: [
            orgParam,
            { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'entries with a higher seq' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000 } },
          ],
          responses: { '200': { description: 'one audit entry per line', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...commonErrors },
        },
      },
      '/api/v1/orgs/{org}/audit/checkpoint': {
        get: {
          operationId: 'auditCheckpoint',
          summary: 'The audit log\'s current signed checkpoint, a C2SP signed note (needs audit:read); keep it to detect a rollback later',
          parameters: [orgParam],
          responses: {
            '200': {
              description: 'origin, size and chain head, then the signature line; the X-Signet-Note-Verifier-Key header names the signing key',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
            ...commonErrors,
          },
        },
      },
      '/api/v1/auth/login': { post: { operationId: 'login', tags: ['auth'], responses: { '200': { description: 'signed in; sets the session cookie' }, ...commonErrors } } },
      '/api/v1/auth/logout': { post: { operationId: 'logout', tags: ['auth'], responses: { '200': { description: 'signed out' } } } },
      '/api/v1/auth/accept-invite': { post: { operationId: 'acceptInvite', tags: ['auth'], responses: { '200': { description: 'joined and signed in' }, ...commonErrors } } },
      '/api/v1/protocol.json': { get: { operationId: 'protocol', responses: { '200': { description: 'every command with its permission and input JSON Schema' } } } },
      '/healthz': { get: { operationId: 'health', responses: { '200': { description: 'the process is up' } } } },
      '/readyz': { get: { operationId: 'ready', responses: { '200': { description: 'Redis answers' }, '503': errorResponse('UNAVAILABLE') } } },
      '/metrics': { get: { operationId: 'metrics', responses: { '200': { description: 'Prometheus metrics' } } } },
      ...commandPaths,
    },
  };
}
