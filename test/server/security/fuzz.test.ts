// Bad input (SPEC §10): every input is validated, a bad one gets INVALID_INPUT naming the field and
// changes nothing. First, for every command, each required field missing or broken and an unknown
// field added; then property-based fuzzing (fast-check) of every command's input, over Socket.IO
// and REST, and of the REST endpoints' JSON bodies, query strings and multipart uploads: wrong
// types, missing and extra fields, huge strings and arrays, deep nesting, __proto__ / constructor /
// prototype keys, odd Unicode (lone surrogates, RTL overrides, NUL, combining marks). Each answer is
// INVALID_INPUT, the node stays up, nothing changes, and nothing reaches Object.prototype.
//
// `npm test` runs 200 inputs per command and endpoint; `npm run fuzz` runs 10,000 (SIGNET_FUZZ_RUNS).
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { SignetNode } from '../../../server/index.js';
import { AcceptInvitationInput } from '../../../server/auth/invitations.js';
import { SetupInput } from '../../../server/auth/organizations.js';
import { commandInputs, type CommandName } from '../../../src/lib/shared/commands.js';
import { command, http, restCommand, snapshot, startNode, testConfig } from '../../helpers/signet.js';
import { jsonOrText } from '../../helpers/signing.js';
import { buildFixture, EXAMPLES, type SecurityFixture, type Who } from './fixture.js';

const RUNS = Number(process.env.SIGNET_FUZZ_RUNS ?? 200);

/**
 * fast-check's parameters for every property here: the runs, and a failure report cut short (a
 * counterexample may be a 40,000-character string).
 */
function runs<T>(extra: Partial<fc.Parameters<T>> = {}): fc.Parameters<T> {
  return {
    numRuns: RUNS,
    ...extra,
    asyncReporter: async (details) => {
      if (!details.failed) return;
      const report = fc.defaultReportMessage(details) ?? 'failed';
      const cause = details.errorInstance instanceof Error ? `\n${details.errorInstance.message.slice(0, 1500)}` : '';
      throw new Error(`${report.length > 3000 ? `${report.slice(0, 3000)} …(cut)` : report}${cause}`);
    },
  };
}
/** Generous: a run is a round trip or two, but the machine may be busy. */
const timeoutFor = (runs: number) => 30_000 + runs * 60;
const COMMAND_NAMES = Object.keys(EXAMPLES) as CommandName[];

let node: SignetNode;
let fx: SecurityFixture;
let artifactDir: string;
/** The owner's key with every permission: only the input stands between a call and its command. */
let token: string;
let owner: Who;
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

/** Everything of record, with the audit log's size (not its entries, which are many). */
async function state(): Promise<Record<string, string>> {
  const { keys } = node.signet;
  return snapshot(
    node,
    (key) => !/:audit($|:target:|:seals$|:checkpoints$|:head$|:unsealed$)/.test(key) && !key.startsWith(`${keys.bullPrefix}:`) && !key.endsWith(':lastUsed') && key !== keys.webhooksPending,
  );
}

async function stillServing(): Promise<void> {
  expect((await http(node, 'GET', '/healthz')).status).toBe(200);
  expect((await command(fx.people.owner.socket, 'me.get')).ok).toBe(true);
}

beforeAll(async () => {
  artifactDir = await mkdtemp(path.join(os.tmpdir(), 'signet-fuzz-'));
  // The default message size limit (1 MB): the inputs below stay within it (abuse.test.ts goes beyond).
  node = await startNode(testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_RATE_LIMIT_PER_MINUTE: '100000000' }));
  fx = await buildFixture(node);
  const everything = (await fx.asOwner('me.get')).permissions as string[];
  token = (await fx.asOwner('apiKey.create', { name: 'fuzzer', permissions: everything })).token;
  owner = { userId: fx.people.owner.userId, permissions: new Set(everything as never[]) };
});

afterAll(async () => {
  fx?.close();
  await node?.close();
  if (artifactDir) await rm(artifactDir, { recursive: true, force: true });
});

// ——— Named fields ———

interface JsonSchemaProperty {
  type?: string;
  enum?: unknown[];
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  minItems?: number;
  const?: unknown;
}
interface JsonSchema {
  properties?: Record<string, JsonSchemaProperty>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

const jsonSchemaOf = (name: CommandName) => z.toJSONSchema(commandInputs[name], { io: 'input', unrepresentable: 'any' }) as JsonSchema;
const alternativesOf = (schema: JsonSchema) => schema.anyOf ?? schema.oneOf;

/** Values no schema of this property accepts: the wrong type, and each bound overstepped. */
function badValues(property: JsonSchemaProperty): unknown[] {
  const values: unknown[] = [null];
  if (property.type === 'string') {
    values.push(42);
    if (property.maxLength !== undefined) values.push('x'.repeat(property.maxLength + 1));
    if (property.enum) values.push('not-one-of-them');
    if (property.pattern) values.push('Not A Valid Value!');
  } else if (property.type === 'integer' || property.type === 'number') {
    values.push('1');
    if (property.minimum !== undefined) values.push(property.minimum - 1);
  } else if (property.type === 'array') {
    values.push('not a list');
    if (property.minItems) values.push([]);
  } else if (property.type === 'boolean') {
    values.push('yes');
  }
  return values;
}

const names = (issues: Array<{ path: string }> | undefined, field: string) =>
  (issues ?? []).some((issue) => issue.path === field || issue.path.startsWith(`${field}.`) || issue.path.split(',').includes(field));

/** For a choice of shapes (certificate.import's pem / pkcs12), the shape a given input has. */
function shapeOf(schema: JsonSchema, input: Record<string, unknown>): JsonSchema {
  const alternatives = alternativesOf(schema);
  if (!alternatives) return schema;
  const matching = alternatives.filter((alternative) =>
    Object.entries(alternative.properties ?? {}).every(([field, property]) => property.const === undefined || input[field] === property.const),
  );
  return matching.find((alternative) => (alternative.required ?? []).every((field) => field in input)) ?? matching[0] ?? schema;
}

const requiring = COMMAND_NAMES.map((name) => ({ name, schema: jsonSchemaOf(name) })).filter(
  ({ schema }) => (schema.required?.length ?? 0) > 0 || (alternativesOf(schema) ?? []).some((alternative) => (alternative.required?.length ?? 0) > 0),
);

describe('invalid input gets INVALID_INPUT naming the field, and changes nothing', () => {
  it('there are commands with required fields to check (sanity check of the table)', () => {
    expect(requiring.map((c) => c.name)).toEqual(
      expect.arrayContaining(['org.update', 'member.invite', 'member.changeRole', 'apiKey.create', 'project.create', 'certificate.import', 'policy.create', 'request.deny']),
    );
  });

  for (const name of COMMAND_NAMES.filter((n) => !commandInputs[n].safeParse({}).success)) {
    it(`${name} without input names a missing field`, async () => {
      const schema = jsonSchemaOf(name);
      const before = await state();
      const ack = await command(fx.people.owner.socket, name, {});
      expect(ack.error?.code).toBe('INVALID_INPUT');
      // Every required field is named; for a choice of shapes, one field of each shape is.
      const shapes = alternativesOf(schema);
      for (const required of shapes ? shapes.map((alternative) => alternative.required ?? []) : [schema.required ?? []]) {
        if (shapes) expect(required.some((field) => names(ack.error!.issues, field)), `one of ${required.join(', ')} in ${JSON.stringify(ack.error!.issues)}`).toBe(true);
        else for (const field of required) expect(names(ack.error!.issues, field), `${field} in ${JSON.stringify(ack.error!.issues)}`).toBe(true);
      }
      expect(await state()).toEqual(before);
    });
  }

  for (const { name, schema: declared } of requiring) {
    it(`${name} with a bad or missing required field names that field`, async () => {
      const base = await EXAMPLES[name](fx, owner);
      expect(commandInputs[name].safeParse(base).success, JSON.stringify(base).slice(0, 200)).toBe(true);
      const schema = shapeOf(declared, base);
      const before = await state();
      for (const field of schema.required!) {
        const { [field]: _omitted, ...missing } = base;
        for (const input of [missing, ...badValues(schema.properties![field]!).map((value) => ({ ...base, [field]: value }))]) {
          const ack = await command(fx.people.owner.socket, name, input);
          expect(ack.error?.code, `${name} accepted ${JSON.stringify(input).slice(0, 200)}`).toBe('INVALID_INPUT');
          expect(names(ack.error!.issues, field), `${field} in ${JSON.stringify(ack.error!.issues)}`).toBe(true);
          expect(ack.error!.message).toContain(field);
        }
      }
      expect(await state()).toEqual(before);
    });
  }

  for (const name of COMMAND_NAMES) {
    it(`${name} refuses an unknown extra field, naming it`, async () => {
      const base = await EXAMPLES[name](fx, owner);
      const before = await state();
      const ack = await command(fx.people.owner.socket, name, { ...base, unexpectedField: true });
      expect(ack.error?.code).toBe('INVALID_INPUT');
      expect(names(ack.error!.issues, 'unexpectedField'), JSON.stringify(ack.error!.issues)).toBe(true);
      expect(await state()).toEqual(before);
    });
  }

  it('over REST invalid input is HTTP 400 with the same issues', async () => {
    const before = await state();
    const response = await restCommand(node, 'member.invite', { email: 'not an email', role: 'member' }, { token });
    expect(response.status).toBe(400);
    expect(response.body.error?.code).toBe('INVALID_INPUT');
    expect(names(response.body.error?.issues, 'email')).toBe(true);
    expect(await state()).toEqual(before);
  });
});

// ——— Arbitraries ———

/** Strings that have broken parsers, renderers and logs. */
const ODD = [
  '\uD800',
  '\uDFFF',
  'a\uDC00\uD800b',
  '\u202Eexe.bin',
  '\u0000',
  'nul\u0000inside',
  'e\u0301\u0301\u0301\u0301',
  '\uFEFF',
  '\u200B\u200D',
  '\u{10FFFF}',
  '𝕊𝕚𝕘𝕟𝕖𝕥',
  '\r\n\tX-Injected: 1',
  '../../etc/passwd',
  '%00%2e%2e',
  '${7*7}{{7*7}}',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '',
  ' ',
];
const PROPERTY_NAMES = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then', 'toJSON'];

const oddString = fc.oneof(
  fc.constantFrom(...ODD),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.tuple(fc.constantFrom(...ODD), fc.string({ maxLength: 20 }), fc.constantFrom(...ODD)).map((parts) => parts.join('')),
);
/** Longer than any field allows (the longest takes 20,000); three still fit a socket message (a lone surrogate is 6 bytes of JSON). */
const hugeString = fc.tuple(fc.integer({ min: 2_001, max: 25_000 }), fc.constantFrom('x', 'é', '\uD800', '\u0000')).map(([n, c]) => c.repeat(n));
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, -1, 0.5, 1e308, -1e308, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER));
const leaf = fc.oneof(oddString, number, fc.boolean(), fc.constant(null));
const key = fc.oneof(fc.constantFrom(...PROPERTY_NAMES), oddString);

/** An object with own properties only, `__proto__` included (as JSON.parse makes them). */
function withOwn(target: object, entries: Array<[string, unknown]>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...target };
  for (const [k, v] of entries) Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
  return copy;
}

const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((entries) => withOwn({}, entries)),
  ),
})).value;

/** Nesting far beyond any shape: arrays, objects, or objects of __proto__. */
const deep = fc.tuple(fc.integer({ min: 50, max: 1_000 }), fc.constantFrom('array', 'object', '__proto__')).map(([depth, kind]) => {
  let nested: unknown = 'bottom';
  for (let i = 0; i < depth; i++) nested = kind === 'array' ? [nested] : withOwn({}, [[kind === 'object' ? 'a' : '__proto__', nested]]);
  return nested;
});
const hugeArray = fc.tuple(fc.integer({ min: 101, max: 2_000 }), fc.constantFrom(1, 'x', null, true, '\u202E')).map(([n, item]) => Array.from({ length: n }, () => item));
/** Mostly small values; the huge and deep ones cost the most to send, so they come one time in eight. */
const anything = fc.oneof({ weight: 14, arbitrary: value }, { weight: 1, arbitrary: hugeString }, { weight: 1, arbitrary: deep }, { weight: 1, arbitrary: hugeArray });

/** Inputs made from a valid one by one or more mutations, each of which may make it invalid. */
function mutationsOf(base: Record<string, unknown>, declared: string[]): fc.Arbitrary<unknown> {
  type Mutate = (input: Record<string, unknown>) => Record<string, unknown>;
  const fields = declared.length ? declared : ['field'];
  const mutation: fc.Arbitrary<Mutate> = fc.oneof(
    // An extra field (JavaScript's own property names among them).
    fc.tuple(key.filter((k) => !declared.includes(k)), anything).map(([k, v]): Mutate => (input) => withOwn(input, [[k, v]])),
    // A declared field set to anything at all.
    fc.tuple(fc.constantFrom(...fields), anything).map(([k, v]): Mutate => (input) => withOwn(input, [[k, v]])),
    // A field left out.
    fc.constantFrom(...fields).map((k): Mutate => (input) => Object.fromEntries(Object.entries(input).filter(([field]) => field !== k))),
  );
  return fc.oneof(
    { weight: 8, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }).map((steps) => steps.reduce((input, step) => step(input), base)) },
    // Not an object at all.
    { weight: 1, arbitrary: fc.oneof(leaf, fc.array(value, { maxLength: 3 }), deep, hugeArray) },
  );
}

/** What the node receives: the input after the JSON round trip of either transport (absent input stands for {}). */
const onTheWire = (input: unknown) => (input === undefined || input === null ? {} : JSON.parse(JSON.stringify(input)));

function declaredFields(name: CommandName): string[] {
  const schema = jsonSchemaOf(name);
  return [...new Set([schema, ...(alternativesOf(schema) ?? [])].flatMap((shape) => Object.keys(shape.properties ?? {})))];
}

/** A REST call costs about three times a socket command: one run in four goes over REST (both share the dispatcher). */
const transport = fc.oneof({ weight: 3, arbitrary: fc.constant('socket' as const) }, { weight: 1, arbitrary: fc.constant('rest' as const) });

function expectInvalidInput(error: { code?: string; issues?: Array<{ path: unknown; message: unknown }> } | undefined, what: string) {
  expect(error?.code, what).toBe('INVALID_INPUT');
  expect(error!.issues?.length, what).toBeGreaterThan(0);
  for (const issue of error!.issues!) {
    expect(typeof issue.path, `${what}: ${JSON.stringify(issue).slice(0, 300)}`).toBe('string');
    expect(typeof issue.message, `${what}: ${JSON.stringify(issue).slice(0, 300)}`).toBe('string');
  }
}

describe(`fuzzing every command's input (${RUNS} runs each, over Socket.IO and REST)`, () => {
  for (const name of COMMAND_NAMES) {
    it(
      `${name}: anything its schema refuses is INVALID_INPUT, and changes nothing`,
      async () => {
        const base = await EXAMPLES[name](fx, owner);
        const schema = commandInputs[name];
        const before = await state();
        await fc.assert(
          fc.asyncProperty(mutationsOf(base, declaredFields(name)), transport, async (input, transport) => {
            fc.pre(!schema.safeParse(onTheWire(input)).success);
            const what = `${name} over ${transport}: ${JSON.stringify(input)?.slice(0, 300)}`;
            if (transport === 'socket') {
              expectInvalidInput((await command(fx.people.owner.socket, name, input)).error, what);
            } else {
              const response = await http(node, 'POST', `/api/v1/commands/${name}`, { body: JSON.stringify(input ?? {}), token });
              expect(response.status, what).toBe(400);
              expectInvalidInput(response.body.error, what);
            }
          }),
          runs({ maxSkipsPerRun: 20 }),
        );
        await stillServing();
        expect(await state()).toEqual(before);
      },
      timeoutFor(RUNS),
    );
  }
});

describe(`fuzzing the REST endpoints (${RUNS} runs each)`, () => {
  const LoginInput = z.strictObject({ email: z.string().max(254), password: z.string().max(256) });
  const ResubmitInput = z.strictObject({ signingPolicySlug: z.string().min(1).max(64).optional(), description: z.string().max(2000).optional(), originToken: z.string().max(16_000).optional() });

  const jsonEndpoints: Array<{ title: string; path: () => string; schema: z.ZodType; base: () => Record<string, unknown>; auth?: boolean }> = [
    { title: '/api/v1/auth/login', path: () => '/api/v1/auth/login', schema: LoginInput, base: () => ({ email: 'someone@example.com', password: 'a password of some length' }) },
    { title: '/api/v1/auth/accept-invite', path: () => '/api/v1/auth/accept-invite', schema: AcceptInvitationInput, base: () => ({ token: 'x'.repeat(43), name: 'New Person', password: 'a password of some length' }) },
    {
      title: '/api/v1/setup',
      path: () => '/api/v1/setup',
      schema: SetupInput,
      base: () => ({ token: 'x'.repeat(43), orgSlug: 'first', orgName: 'First', ownerEmail: 'first@example.com', ownerName: 'First Owner', ownerPassword: 'a password of some length' }),
    },
    {
      title: '/api/v1/orgs/{org}/signing-requests/{id}/resubmit',
      path: () => `/api/v1/orgs/${fx.org.slug}/signing-requests/${fx.standing.completedRequestId}/resubmit`, schema: ResubmitInput, base: () => ({ description: 'again' }), auth: true },
  ];

  for (const endpoint of jsonEndpoints) {
    it(
      `POST ${endpoint.title}: anything its schema refuses is 400 INVALID_INPUT, and changes nothing`,
      async () => {
        const before = await state();
        const base = endpoint.base();
        await fc.assert(
          fc.asyncProperty(mutationsOf(base, Object.keys(base)), async (input) => {
            fc.pre(!endpoint.schema.safeParse(onTheWire(input)).success);
            const response = await http(node, 'POST', endpoint.path(), { body: JSON.stringify(input ?? {}), token: endpoint.auth ? token : undefined });
            const what = JSON.stringify(input)?.slice(0, 300);
            expect(response.status, what).toBe(400);
            expectInvalidInput(response.body.error, what!);
          }),
          runs({ maxSkipsPerRun: 20 }),
        );
        await stillServing();
        expect(await state()).toEqual(before);
      },
      timeoutFor(RUNS),
    );
  }

  it(
    'GET /audit with any query string answers 200 or 400 INVALID_INPUT, never an error of its own',
    async () => {
      // Values kept short enough for Node's own URL limit (16 KB of headers), which would answer 431 first.
      const param = fc.tuple(fc.oneof(fc.constantFrom('after', 'limit', 'after[]', 'limit[x]'), key), fc.oneof(oddString, number.map(String), hugeString.map((s) => s.slice(0, 300))));
      await fc.assert(
        fc.asyncProperty(fc.array(param, { maxLength: 4 }), async (params) => {
          const query = new URLSearchParams(params.map(([k, v]) => [k.toWellFormed(), v.toWellFormed()]));
          const response = await fetch(`${node.url}/api/v1/orgs/${fx.org.slug}/audit?${query}`, { headers: { authorization: `Bearer ${token}` } });
          const body = await response.text();
          expect([200, 400], `${query}: ${body.slice(0, 200)}`).toContain(response.status);
          if (response.status === 400) expectInvalidInput(JSON.parse(body).error, String(query));
        }),
        runs(),
      );
      await stillServing();
    },
    timeoutFor(RUNS),
  );

  it(
    'POST /signing-requests with a broken multipart form is 400 INVALID_INPUT: no request, no file kept',
    async () => {
      const requestDirs = () => (existsSync(path.join(artifactDir, fx.org.orgId)) ? readdirSync(path.join(artifactDir, fx.org.orgId)).length : 0);
      type Form = Array<[name: string, value: string | { file: Uint8Array; name: string }]>;
      const valid = (): Form => [
        ['projectSlug', fx.standing.projectSlug],
        ['signingPolicySlug', fx.standing.policySlug],
        ['artifact', { file: new TextEncoder().encode('fuzzed artifact\n'), name: 'app.bin' }],
      ];
      const known = ['projectSlug', 'signingPolicySlug', 'artifactConfigurationSlug', 'description', 'originToken', 'artifact'];
      const text = fc.oneof(oddString, hugeString.map((s) => s.slice(0, 30_000)));
      type Break = (form: Form) => Form;
      const breaks: fc.Arbitrary<Break> = fc.oneof(
        // An unknown field.
        fc.tuple(key.filter((k) => !known.includes(k) && !k.startsWith('parameters[')), text).map(([k, v]): Break => (form) => [...form, [k, v]]),
        // A required part left out.
        fc.constantFrom('projectSlug', 'signingPolicySlug', 'artifact').map((k): Break => (form) => form.filter(([name]) => name !== k)),
        // A slug that names nothing.
        fc.tuple(fc.constantFrom('projectSlug', 'signingPolicySlug', 'artifactConfigurationSlug'), oddString).map(([k, v]): Break => (form) => [...form.filter(([name]) => name !== k), [k, `${v}\u0000nothing`]]),
        // A parameter whose name is not one, or whose value is too long.
        oddString.filter((n) => !/^[\w.-]{1,64}$/.test(n)).map((n): Break => (form) => [...form, [`parameters[${n}]`, 'v']]),
        fc.integer({ min: 1001, max: 19_000 }).map((n): Break => (form) => [...form, ['parameters[version]', 'v'.repeat(n)]]),
        fc.integer({ min: 51, max: 90 }).map((n): Break => (form) => [...form, ...Array.from({ length: n }, (_, i): [string, string] => [`parameters[p${i}]`, 'v'])]),
        // A description over 2,000 characters.
        fc.integer({ min: 2001, max: 30_000 }).map((n): Break => (form) => [...form, ['description', 'd'.repeat(n)]]),
        // A second file (in "artifact" only while there is a first), or a file in another field.
        fc.constantFrom('artifact', 'other', '__proto__').map((k): Break => (form) => {
          const hasFile = form.some(([name, v]) => name === 'artifact' && typeof v !== 'string');
          return [...form, [k === 'artifact' && !hasFile ? 'other' : k, { file: new Uint8Array(16), name: 'second.bin' }]];
        }),
      );
      const before = await state();
      const dirsBefore = requestDirs();
      await fc.assert(
        fc.asyncProperty(fc.array(breaks, { minLength: 1, maxLength: 3 }), async (steps) => {
          const parts = steps.reduce((form, step) => step(form), valid());
          const form = new FormData();
          for (const [name, v] of parts) {
            if (typeof v === 'string') form.append(name.toWellFormed(), v.toWellFormed());
            else form.append(name.toWellFormed(), new Blob([new Uint8Array(v.file)]), v.name);
          }
          const response = await fetch(`${node.url}/api/v1/orgs/${fx.org.slug}/signing-requests`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
          const body = await jsonOrText(response);
          const what = JSON.stringify(parts.map(([name, v]) => [name.slice(0, 40), typeof v === 'string' ? v.slice(0, 40) : v.name]));
          expect(response.status, `${what}: ${JSON.stringify(body).slice(0, 300)}`).toBe(400);
          expectInvalidInput(body.error, what);
        }),
        runs(),
      );
      await stillServing();
      expect(requestDirs()).toBe(dirsBefore);
      expect(await state()).toEqual(before);
    },
    timeoutFor(RUNS),
  );
});

it('nothing reached Object.prototype in this process (which ran the node)', () => {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.toString.call([])).toBe('[object Array]');
});
