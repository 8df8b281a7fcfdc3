// `signet sign FILE …`: the client half of the CLI, for CI machines. It needs nothing of the
// server's: no Redis, no configuration, only the URL and an API key in SIGNET_TOKEN.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { formatOf, signedDownload } from '../../../src/lib/shared/formats.js';
import { ciIdempotencyKey } from './idempotency.js';
import { parseDuration } from './duration.js';
import { EXIT, EXIT_MEANINGS, SignExit } from './exitCodes.js';
import { formatBytes } from '../../../src/lib/shared/bytes.js';
import { createReporter, type Reporter } from './reporter.js';
import { downloadSigned, submitRequest } from './transfer.js';
import { describeStatus, followRequest, viewOf, type RequestView } from './follow.js';

interface SignOptions {
  url: string;
  org: string;
  project: string;
  policy: string;
  artifactConfig?: string;
  description?: string;
  param: string[];
  originToken?: string;
  out?: string;
  timeout?: number;
  idempotencyKey?: string;
  token?: string;
}

const EXIT_BY_STATUS: Record<string, number> = { Denied: EXIT.denied, Canceled: EXIT.canceled, ProcessingFailed: EXIT.failed };

const SIGN_HELP_AFTER = `
The API key is read from SIGNET_TOKEN (never from an option: options show in the process list).

Waits for the request live, without a timeout unless --timeout is given, and survives dropped
connections. Inside GitHub Actions, GitLab CI and Jenkins an Idempotency-Key is derived from the
job (GitHub: repository, run id and job, not the attempt; GitLab: project, pipeline and job name;
Jenkins: BUILD_TAG) and what is signed, so re-running the job follows the request it made instead
of submitting another. Elsewhere give --idempotency-key (or SIGNET_IDEMPOTENCY_KEY).

Writes the signed result beside FILE (or to --out) under the name the server gives it: FILE.p7s
(detached CMS), FILE.asc (OpenPGP), or FILE itself, replaced by the signed file (Authenticode).
Steps go to stderr; the path of the signed file alone goes to stdout.

Exit codes:
${EXIT_MEANINGS.map(([code, meaning]) => `  ${code}  ${meaning}`).join('\n')}
`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function addSignCommand(program: Command): void {
  program
    .command('sign')
    .summary('sign a file: upload, wait live for approval and signing, download the result (for CI)')
    .description('Submits FILE for signing, follows the request live over Socket.IO, and downloads the signed result.')
    .argument('<file>', 'the file to sign')
    .addOption(new Option('--url <url>', 'the Signet server, e.g. https://signet.example.com').env('SIGNET_URL').makeOptionMandatory())
    .addOption(new Option('--org <slug>', 'the organization').env('SIGNET_ORG').makeOptionMandatory())
    .requiredOption('--project <slug>', 'the project')
    .requiredOption('--policy <slug>', 'the signing policy')
    .option('--artifact-config <slug>', "the artifact configuration (default: the project's default)")
    .option('--description <text>', 'shown to approvers, e.g. the version')
    .addOption(new Option('--param <name=value>', 'a parameter of the request (repeatable)').argParser(collect).default([], 'none'))
    .addOption(new Option('--origin-token <token>', "the build system's OIDC ID token, for policies with origin verification").env('SIGNET_ORIGIN_TOKEN'))
    .option('--out <path>', 'where to write the signed result: a file, or an existing directory')
    .addOption(new Option('--timeout <duration>', 'stop waiting for the request after this long (90s, 10m, 2h); default: wait as long as it takes').argParser(parseDuration))
    .addOption(new Option('--idempotency-key <key>', 'the same key again returns the same request (default: derived from the CI job)').env('SIGNET_IDEMPOTENCY_KEY'))
    // Accepted only to refuse it with a reason: a token in argv shows in `ps` and shell history.
    .addOption(new Option('--token <token>').hideHelp())
    .addHelpText('after', SIGN_HELP_AFTER)
    .action(async (file: string, options: SignOptions) => {
      const out = await signFile(file, options, createReporter());
      process.stdout.write(`${out}\n`);
    });
}

function fail(code: number, message: string): never {
  throw new SignExit(code, message);
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function parseParams(params: string[]): Array<[string, string]> {
  return params.map((param) => {
    const at = param.indexOf('=');
    const name = at > 0 ? param.slice(0, at) : '';
    if (!/^[\w.-]{1,64}$/.test(name)) fail(EXIT.usage, `--param ${param}: give NAME=VALUE, the name of letters, digits, ".", "_" or "-"`);
    return [`parameters[${name}]`, param.slice(at + 1)];
  });
}

/** Where the signed result goes: --out (a file, or a directory to put it in), else beside FILE. */
async function outputPathOf(file: string, outOption: string | undefined, downloadName: string): Promise<string> {
  if (outOption === undefined) return path.join(path.dirname(file), downloadName);
  const info = await stat(outOption).catch(() => null);
  return info?.isDirectory() ? path.join(outOption, downloadName) : outOption;
}

async function checkOutOption(outOption: string | undefined): Promise<void> {
  if (outOption === undefined) return;
  const info = await stat(outOption).catch(() => null);
  if (info?.isDirectory()) return;
  const parent = await stat(path.dirname(path.resolve(outOption))).catch(() => null);
  if (!parent?.isDirectory()) fail(EXIT.usage, `--out ${outOption}: the directory ${path.dirname(outOption)} does not exist`);
}

/** The whole run; returns the path of the signed result. Failures are SignExit with their code. */
async function signFile(file: string, options: SignOptions, reporter: Reporter, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (options.token !== undefined) {
    fail(EXIT.usage, '--token is not accepted: an option shows in the process list and shell history. Put the API key in the SIGNET_TOKEN environment variable');
  }
  const token = env.SIGNET_TOKEN?.trim();
  if (!token) fail(EXIT.auth, 'SIGNET_TOKEN is not set: put the API key (sgn_…) in it, from your CI system\'s secrets');
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    fail(EXIT.usage, `--url ${options.url}: not a URL (give e.g. https://signet.example.com)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(EXIT.usage, `--url ${options.url}: use http or https`);
  const base = url.href.replace(/\/+$/, '');
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) fail(EXIT.usage, `${file}: no such file`);
  const parameters = parseParams(options.param);
  await checkOutOption(options.out);

  let idempotencyKey = options.idempotencyKey;
  if (idempotencyKey === undefined) {
    const derived = ciIdempotencyKey(env, { project: options.project, policy: options.policy, artifactConfig: options.artifactConfig, fileSha256: await sha256Of(file) });
    if (derived) idempotencyKey = derived;
  }

  const fields: Array<[string, string]> = [
    ['projectSlug', options.project],
    ['signingPolicySlug', options.policy],
  ];
  if (options.artifactConfig) fields.push(['artifactConfigurationSlug', options.artifactConfig]);
  if (options.description) fields.push(['description', options.description]);
  if (options.originToken) fields.push(['originToken', options.originToken]);
  fields.push(...parameters);

  const fileName = path.basename(file);
  const { request, reused } = await submitRequest(
    { url: base, org: options.org, token, file, fileName, size: info.size, fields, idempotencyKey },
    reporter,
  );
  const link = request.links?.console ? ` (${request.links.console})` : '';
  reporter.step(reused ? `found signing request ${request.id}, submitted earlier with the same idempotency key${link}` : `submitted signing request ${request.id}${link}`);

  let final: RequestView = viewOf(request);
  if (final.isFinalStatus) reporter.step(describeStatus(final));
  else {
    if (final.workflowStatus !== 'Submitted') reporter.step(describeStatus(final));
    final = await followRequest({ url: base, token, initial: request, reporter, timeoutMs: options.timeout });
  }

  if (final.workflowStatus !== 'Completed') {
    fail(EXIT_BY_STATUS[final.workflowStatus] ?? EXIT.failed, `Signing request ${final.id} ended ${final.workflowStatus}: ${describeStatus(final)}`);
  }
  const downloadName = final.signature?.fileName ?? signedDownload(formatOf(final), fileName).fileName;
  const out = await outputPathOf(file, options.out, downloadName);
  await downloadSigned({ url: base, org: options.org, token, requestId: final.id, out, sha256: final.signature?.sha256 }, reporter);
  reporter.step(`signed: ${out}${final.signature ? ` (${formatBytes(final.signature.size)})` : ''}`);
  return out;
}
