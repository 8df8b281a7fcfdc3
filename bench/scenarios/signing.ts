// Scenario 6: signing. A CI client (API key) submits a 1 MB artifact over REST to a policy with no
// manual approval; the time runs until the owner's socket hears the request become Completed
// (upload, checks, commit, queue, worker, CMS signature, commit, broadcast). One at a time for the
// latency percentiles, several at once for jobs/s. The baseline is a bare HTTP server that
// receives the same multipart upload, hashes it to disk and signs the hash with a P-256 key;
// Signet and the baseline alternate.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { closeAll, connectReady, type BenchSocket } from '../lib/clients.js';
import { openSeeder, scenarioPrefix, startBareServers, startSignetNodes, stopAll, type BenchContext } from '../lib/cluster.js';
import type { Progress } from '../lib/progress.js';
import type { ServerProcess } from '../lib/processes.js';
import { ratio, type ScenarioOutcome } from '../lib/report.js';
import { closedLoop as run, round, roundSummary, summarize, withTimeout } from '../lib/stats.js';

const ARTIFACT_BYTES = 1024 * 1024;
const PROJECT = 'bench-app';
const POLICY = 'bench-signing';

interface Completion {
  at: number;
  status: string;
}

/** Watches the owner's socket for requests reaching a final status. */
function completions(socket: BenchSocket) {
  const done = new Map<string, Completion>();
  const waiters = new Map<string, (completion: Completion) => void>();
  socket.on('change', (event: { entity: string; id: string; data?: { workflowStatus?: string; isFinalStatus?: boolean } }) => {
    if (event.entity !== 'signingRequest' || !event.data?.isFinalStatus) return;
    const completion = { at: performance.now(), status: event.data.workflowStatus ?? 'unknown' };
    done.set(event.id, completion);
    waiters.get(event.id)?.(completion);
  });
  return (id: string, timeoutMs = 60_000): Promise<Completion> => {
    const seen = done.get(id);
    if (seen) return Promise.resolve(seen);
    return withTimeout(new Promise<Completion>((resolve) => waiters.set(id, resolve)), timeoutMs, `signing request ${id}`);
  };
}

function form(artifact: Buffer): FormData {
  const body = new FormData();
  body.append('projectSlug', PROJECT);
  body.append('signingPolicySlug', POLICY);
  body.append('description', 'bench');
  body.append('artifact', new Blob([new Uint8Array(artifact)], { type: 'application/octet-stream' }), 'app.bin');
  return body;
}

export async function signing(ctx: BenchContext, progress: Progress): Promise<ScenarioOutcome> {
  const sequential = ctx.quick ? 10 : 60;
  const concurrentTotal = ctx.quick ? 16 : 96;
  const concurrency = 8;
  const phase = progress.phases({ setup: 1, sequential: 3, concurrent: 3 });
  const prefix = scenarioPrefix('sign');
  const seeder = await openSeeder(ctx, prefix);
  let servers: ServerProcess[] = [];
  const sockets: BenchSocket[] = [];
  try {
    phase('setup', 0, 'project, certificate, policy and API key');
    const org = await seeder.createOrgWithOwner('bench-signing');
    const { project } = await seeder.asOwner<{ project: { id: string } }>(org.orgId, 'project.create', {
      slug: PROJECT,
      name: 'Bench App',
      repositoryUrl: 'https://example.com/bench/app',
    });
    const certificate = await seeder.asOwner<{ id: string }>(org.orgId, 'certificate.generate', {
      slug: 'bench-cert',
      name: 'Bench certificate',
      type: 'test',
      algorithm: 'ECDSA-P256',
      commonName: 'Signet bench',
      validDays: 30,
    });
    await seeder.asOwner(org.orgId, 'policy.create', {
      projectId: project.id,
      slug: POLICY,
      name: 'Bench signing',
      certificateId: certificate.id,
      submitters: [org.ownerId],
      approvers: [],
      requiredApprovals: 0,
    });
    const { token } = await seeder.asOwner<{ token: string }>(org.orgId, 'apiKey.create', {
      name: 'bench ci',
      permissions: ['signing:submit', 'signing:read'],
    });
    servers = await startSignetNodes(ctx, prefix, 1, { scenario: 'signing' });
    const node = servers[0]!;
    const owner = await connectReady(node.url, { cookie: org.cookie, origin: node.url });
    sockets.push(owner);
    const completed = completions(owner);
    const artifact = randomBytes(ARTIFACT_BYTES);
    const failures: string[] = [];

    const submitAndWait = async (): Promise<number> => {
      const startedAt = performance.now();
      const response = await fetch(`${node.url}/api/v1/orgs/${org.slug}/signing-requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: form(artifact),
      });
      const body = (await response.json()) as { id?: string; error?: { message: string } };
      if (response.status !== 201 || !body.id) throw new Error(`submission failed: ${response.status} ${JSON.stringify(body)}`);
      const completion = await completed(body.id);
      if (completion.status !== 'Completed') failures.push(`${body.id}: ${completion.status}`);
      return completion.at - startedAt;
    };

    servers.push(...(await startBareServers(ctx, 1)));
    const bare = servers[1]!;
    const uploadAndSign = async (): Promise<number> => {
      const startedAt = performance.now();
      const response = await fetch(`${bare.url}/upload`, { method: 'POST', body: form(artifact) });
      await response.arrayBuffer();
      if (response.status !== 201) throw new Error(`bare upload failed: ${response.status}`);
      return performance.now() - startedAt;
    };

    phase('setup', 0.9, 'warming up');
    for (let i = 0; i < 2; i += 1) {
      await submitAndWait();
      await uploadAndSign();
    }
    // One at a time, Signet and the baseline alternating (the machine's noise falls on both alike).
    const signetLatencies: number[] = [];
    const bareLatencies: number[] = [];
    for (let i = 0; i < sequential; i += 1) {
      await node.request('markLoad', { label: 'sequential' });
      signetLatencies.push(await submitAndWait());
      await node.request('load');
      bareLatencies.push(await uploadAndSign());
      phase('sequential', (i + 1) / sequential, `${i + 1}/${sequential} signed`);
    }
    // Several in flight, in alternating halves.
    const half = Math.ceil(concurrentTotal / 2);
    const signetBlocks: Array<Awaited<ReturnType<typeof run>>> = [];
    const bareBlocks: Array<Awaited<ReturnType<typeof run>>> = [];
    let signedConcurrently = 0;
    for (let block = 0; block < 2; block += 1) {
      await node.request('markLoad', { label: 'concurrent' });
      signetBlocks.push(
        await run(half, concurrency, submitAndWait, () => {
          signedConcurrently += 1;
          phase('concurrent', signedConcurrently / (half * 2), `${signedConcurrently}/${half * 2} signed, ${concurrency} in flight`);
        }),
      );
      await node.request('load');
      bareBlocks.push(await run(half, concurrency, uploadAndSign, () => {}));
    }
    if (failures.length) throw new Error(`requests did not complete: ${failures.slice(0, 3).join('; ')}`);
    const combine = (blocks: typeof signetBlocks) => ({
      latencies: blocks.flatMap((block) => block.latencies),
      seconds: blocks.reduce((sum, block) => sum + block.seconds, 0),
    });
    const signetConcurrent = combine(signetBlocks);
    const bareConcurrent = combine(bareBlocks);
    const signetSequential = { latencies: signetLatencies };
    const bareSequential = { latencies: bareLatencies };

    const latency = roundSummary(summarize(signetSequential.latencies));
    const bareLatency = roundSummary(summarize(bareSequential.latencies));
    const jobsPerSecond = signetConcurrent.latencies.length / signetConcurrent.seconds;
    const bareJobsPerSecond = bareConcurrent.latencies.length / bareConcurrent.seconds;
    return {
      details: {
        artifactBytes: ARTIFACT_BYTES,
        sequential,
        concurrentTotal,
        concurrency,
        workerConcurrency: 2,
        signet: {
          latency,
          concurrentLatency: roundSummary(summarize(signetConcurrent.latencies)),
          jobsPerSecond: round(jobsPerSecond),
        },
        baseline: {
          latency: bareLatency,
          concurrentLatency: roundSummary(summarize(bareConcurrent.latencies)),
          jobsPerSecond: round(bareJobsPerSecond),
        },
      },
      rows: [
        { key: 'signingP50Ms', label: `submit → Completed p50, 1 MB, one at a time (${sequential})`, value: latency.p50, unit: 'ms', baseline: bareLatency.p50, baselineLabel: 'bare upload+sign', ratio: ratio(latency.p50, bareLatency.p50) },
        { key: 'signingP99Ms', label: `submit → Completed p99, 1 MB, one at a time (${sequential})`, value: latency.p99, unit: 'ms', baseline: bareLatency.p99, baselineLabel: 'bare upload+sign', ratio: ratio(latency.p99, bareLatency.p99) },
        { key: 'signingJobsPerSecond', label: `signing jobs/s, 1 MB, ${concurrency} in flight (${concurrentTotal})`, value: jobsPerSecond, unit: '/s', baseline: bareJobsPerSecond, baselineLabel: 'bare upload+sign', ratio: ratio(jobsPerSecond, bareJobsPerSecond) },
      ],
    };
  } finally {
    await stopAll(servers);
    closeAll(sockets);
    seeder.close();
  }
}
