// Scenario 7: signing per format. For each signature format (detached CMS, Authenticode, detached
// OpenPGP) a CI client submits a 1 MB artifact of that kind over REST to a policy without approval,
// through the artifact configuration of that format; the time runs until the owner's socket hears
// Completed. The baseline is the bare tool making the same signature of the same file in the same
// run (openssl cms -sign, osslsigncode sign, gpg --detach-sign), Signet and the tool alternating.
// Rows are per format and custody (software-sealed keys and keys in the embedded SoftHSM2 token).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SignatureFormat } from '../../src/lib/shared/entities.js';
import { minimalPe } from '../../test/helpers/pe.js';
import { closeAll, connectReady, type BenchSocket } from '../lib/clients.js';
import { openSeeder, scenarioPrefix, startSignetNodes, stopAll, type BenchContext } from '../lib/cluster.js';
import type { Progress } from '../lib/progress.js';
import type { ServerProcess } from '../lib/processes.js';
import { ratio, type FigureRow, type ScenarioOutcome } from '../lib/report.js';
import { closedLoop, round, roundSummary, summarize, withTimeout } from '../lib/stats.js';

const ARTIFACT_BYTES = 1024 * 1024;
const PROJECT = 'bench-formats';
const POLICY = 'bench-formats';

/** How each custody's certificate is made; the custody helper adds `token` (certificate.generate in the PKCS#11 token). */
export const CUSTODIES: Record<string, { keySuffix: string; generate: Record<string, unknown> }> = {
  software: { keySuffix: '', generate: {} },
  pkcs11: { keySuffix: '-token', generate: { custody: 'pkcs11' } },
};

interface FormatCase {
  format: SignatureFormat;
  key: string;
  label: string;
  fileName: string;
  artifact: () => Buffer;
  tool: string;
}

const FORMATS: FormatCase[] = [
  { format: 'cms-detached', key: 'cmsDetached', label: 'detached CMS', fileName: 'app.bin', artifact: () => randomBytes(ARTIFACT_BYTES), tool: 'openssl cms -sign' },
  { format: 'authenticode', key: 'authenticode', label: 'Authenticode', fileName: 'app.exe', artifact: () => minimalPe(ARTIFACT_BYTES), tool: 'osslsigncode sign' },
  { format: 'openpgp-detached', key: 'openpgpDetached', label: 'OpenPGP', fileName: 'app.tar.gz', artifact: () => randomBytes(ARTIFACT_BYTES), tool: 'gpg --detach-sign' },
];

function exec(program: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${program} ${args.join(' ')}: ${code} ${stderr.trim()}`))));
  });
}

/** The bare tools, each with its own key (made here, as an administrator would). */
async function prepareTools(dir: string) {
  mkdirSync(dir, { recursive: true });
  const gnupg = path.join(dir, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  const gpgEnv = { ...process.env, GNUPGHOME: gnupg };
  await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=bench tool', '-days', '2',
    '-addext', 'extendedKeyUsage=codeSigning', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
  await exec('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Signet bench <bench@example.invalid>', 'ed25519', 'sign', 'never'], gpgEnv);
  let n = 0;
  return async (format: SignatureFormat, input: string): Promise<number> => {
    const output = path.join(dir, `out-${++n}-${path.basename(input)}`);
    const startedAt = performance.now();
    if (format === 'cms-detached') {
      await exec('openssl', ['cms', '-sign', '-binary', '-md', 'sha256', '-in', input, '-signer', path.join(dir, 'cert.pem'), '-inkey', path.join(dir, 'key.pem'), '-outform', 'DER', '-out', output]);
    } else if (format === 'authenticode') {
      await exec('osslsigncode', ['sign', '-certs', path.join(dir, 'cert.pem'), '-key', path.join(dir, 'key.pem'), '-h', 'sha256', '-in', input, '-out', output]);
    } else {
      await exec('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', '--detach-sign', '--armor', '--output', output, input], gpgEnv);
    }
    const elapsed = performance.now() - startedAt;
    rmSync(output, { force: true });
    return elapsed;
  };
}

/** Resolves when the owner's socket hears a request reach a final status. */
function completions(socket: BenchSocket) {
  const done = new Map<string, { at: number; status: string; reason?: string }>();
  const waiters = new Map<string, () => void>();
  socket.on('change', (event: { entity: string; id: string; data?: { workflowStatus?: string; isFinalStatus?: boolean; failureReason?: string } }) => {
    if (event.entity !== 'signingRequest' || !event.data?.isFinalStatus) return;
    done.set(event.id, { at: performance.now(), status: event.data.workflowStatus ?? 'unknown', reason: event.data.failureReason });
    waiters.get(event.id)?.();
  });
  return async (id: string) => {
    if (!done.has(id)) await withTimeout(new Promise<void>((resolve) => waiters.set(id, resolve)), 60_000, `signing request ${id}`);
    return done.get(id)!;
  };
}

export async function signingFormats(ctx: BenchContext, progress: Progress): Promise<ScenarioOutcome> {
  const sequential = ctx.quick ? 6 : 30;
  const concurrentTotal = ctx.quick ? 8 : 40;
  const concurrency = 4;
  const cases = Object.entries(CUSTODIES).flatMap(([custody, how]) => FORMATS.map((format) => ({ custody, how, ...format })));
  const weights: Record<string, number> = { setup: 1, ...Object.fromEntries(cases.map((c) => [`${c.key}${c.how.keySuffix}`, 2])) };
  const phase = progress.phases<string>(weights);
  const prefix = scenarioPrefix('formats');
  const seeder = await openSeeder(ctx, prefix);
  const toolDir = path.join(ctx.tmpDir, 'format-tools');
  let servers: ServerProcess[] = [];
  const sockets: BenchSocket[] = [];
  try {
    phase('setup', 0, 'project, configurations, certificates, policies and the bare tools');
    const org = await seeder.createOrgWithOwner('bench-formats');
    const { project } = await seeder.asOwner<{ project: { id: string } }>(org.orgId, 'project.create', { slug: PROJECT, name: 'Bench formats', repositoryUrl: 'https://example.com/bench/formats' });
    for (const format of FORMATS) {
      await seeder.asOwner(org.orgId, 'artifactConfig.create', { projectId: project.id, slug: format.key.toLowerCase(), name: format.label, signatureFormat: format.format });
    }
    for (const [custody, how] of Object.entries(CUSTODIES)) {
      const certificate = await seeder.asOwner<{ id: string }>(org.orgId, 'certificate.generate', {
        slug: `bench-${custody}`, name: `Bench ${custody}`, type: 'test', algorithm: 'ECDSA-P256', commonName: 'Signet bench', validDays: 30, ...how.generate,
      });
      await seeder.asOwner(org.orgId, 'policy.create', {
        projectId: project.id, slug: `${POLICY}-${custody}`, name: `Bench ${custody}`, certificateId: certificate.id, submitters: [org.ownerId], approvers: [], requiredApprovals: 0,
      });
    }
    const { token } = await seeder.asOwner<{ token: string }>(org.orgId, 'apiKey.create', { name: 'bench ci', permissions: ['signing:submit', 'signing:read'] });
    const tool = await prepareTools(toolDir);
    servers = await startSignetNodes(ctx, prefix, 1, { scenario: 'formats' });
    const node = servers[0]!;
    const owner = await connectReady(node.url, { cookie: org.cookie, origin: node.url });
    sockets.push(owner);
    const completed = completions(owner);

    const rows: FigureRow[] = [];
    const details: Record<string, unknown> = { artifactBytes: ARTIFACT_BYTES, sequential, concurrentTotal, concurrency };
    for (const c of cases) {
      const name = `${c.key}${c.how.keySuffix}`;
      const artifact = c.artifact();
      const file = path.join(toolDir, c.fileName);
      writeFileSync(file, artifact);
      const submitAndWait = async (): Promise<number> => {
        const body = new FormData();
        body.append('projectSlug', PROJECT);
        body.append('signingPolicySlug', `${POLICY}-${c.custody}`);
        body.append('artifactConfigurationSlug', c.key.toLowerCase());
        body.append('artifact', new Blob([new Uint8Array(artifact)]), c.fileName);
        const startedAt = performance.now();
        const response = await fetch(`${node.url}/api/v1/orgs/${org.slug}/signing-requests`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
        const answer = (await response.json()) as { id?: string };
        if (response.status !== 201 || !answer.id) throw new Error(`${c.format} submission failed: ${response.status} ${JSON.stringify(answer)}`);
        const completion = await completed(answer.id);
        if (completion.status !== 'Completed') throw new Error(`${c.format} request ${answer.id}: ${completion.status} ${completion.reason ?? ''}`);
        return completion.at - startedAt;
      };
      const bare = () => tool(c.format, file);

      await submitAndWait();
      await bare();
      const signetLatencies: number[] = [];
      const toolLatencies: number[] = [];
      for (let i = 0; i < sequential; i += 1) {
        signetLatencies.push(await submitAndWait());
        toolLatencies.push(await bare());
        phase(name, (i + 1) / (sequential * 2), `${c.label} (${c.custody}) ${i + 1}/${sequential} one at a time`);
      }
      const half = Math.ceil(concurrentTotal / 2);
      const signetBlocks = [];
      const toolBlocks = [];
      for (let block = 0; block < 2; block += 1) {
        signetBlocks.push(await closedLoop(half, concurrency, submitAndWait));
        toolBlocks.push(await closedLoop(half, concurrency, bare));
        phase(name, 0.5 + (block + 1) / 4, `${c.label} (${c.custody}) ${concurrency} in flight`);
      }
      const perSecond = (blocks: Array<{ latencies: number[]; seconds: number }>) =>
        blocks.reduce((n, b) => n + b.latencies.length, 0) / blocks.reduce((s, b) => s + b.seconds, 0);
      const latency = roundSummary(summarize(signetLatencies));
      const toolLatency = roundSummary(summarize(toolLatencies));
      const jobs = perSecond(signetBlocks);
      const toolJobs = perSecond(toolBlocks);
      details[name] = { custody: c.custody, signet: { latency, jobsPerSecond: round(jobs) }, tool: { name: c.tool, latency: toolLatency, jobsPerSecond: round(toolJobs) } };
      const scale = `1 MB, ${c.custody} key`;
      rows.push(
        { key: `${name}P50Ms`, label: `${c.label} submit → Completed p50, ${scale} (${sequential})`, value: latency.p50, unit: 'ms', baseline: toolLatency.p50, baselineLabel: c.tool, ratio: ratio(latency.p50, toolLatency.p50) },
        { key: `${name}P99Ms`, label: `${c.label} submit → Completed p99, ${scale} (${sequential})`, value: latency.p99, unit: 'ms', baseline: toolLatency.p99, baselineLabel: c.tool, ratio: ratio(latency.p99, toolLatency.p99) },
        { key: `${name}JobsPerSecond`, label: `${c.label} jobs/s, ${scale}, ${concurrency} in flight (${concurrentTotal})`, value: jobs, unit: '/s', baseline: toolJobs, baselineLabel: c.tool, ratio: ratio(jobs, toolJobs) },
      );
    }
    return { rows, details };
  } finally {
    await stopAll(servers);
    closeAll(sockets);
    seeder.close();
    await exec('gpgconf', ['--kill', 'all'], { ...process.env, GNUPGHOME: path.join(toolDir, 'gnupg') }).catch(() => undefined);
    rmSync(toolDir, { recursive: true, force: true });
  }
}
