// request.list pages through requests newest first with a cursor that neither skips nor repeats,
// even when many requests were created in the same millisecond.
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { command, testConfig } from '../../helpers/signet.js';
import { createApiKey, createPolicy, createProject, generateCertificate, ok, randomArtifact, submitOk } from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

const fx = useSignet({
  config: () => {
    const artifactDir: string = fx.tempDir('signet-list-');
    return testConfig({ SIGNET_ARTIFACT_DIR: artifactDir, SIGNET_RATE_LIMIT_PER_MINUTE: '100000' });
  },
});
const { who: everyone } = fx;
let orgId: string;
const ids: string[] = [];

beforeAll(async () => {
  const { node, org } = fx;
  orgId = org.orgId;
  const project = await createProject(everyone.owner.socket, 'listed');
  const certificate = await generateCertificate(everyone.owner.socket, 'listed-cert');
  await createPolicy(everyone.owner.socket, {
    projectId: project.id,
    slug: 'held',
    certificateId: certificate.id,
    submitters: [everyone.member.userId],
    approvers: [everyone.admin.userId],
    requiredApprovals: 1,
  });
  const token = await createApiKey(everyone.member.socket);
  for (let i = 0; i < 23; i++) {
    const submitted = await submitOk(node, org.slug, token, { projectSlug: 'listed', signingPolicySlug: 'held', artifact: randomArtifact(64), fileName: `app-${i}.bin` });
    ids.push(submitted.id);
  }
  // Make them all share one creation millisecond in the index, the hard case for a time cursor.
  const sameMs = Date.now();
  for (const id of ids) await node.signet.redis.zadd(node.signet.keys.requests(orgId), sameMs, id);
});

describe('request.list', () => {
  it('pages through requests created in the same millisecond, each exactly once', async () => {
    const seen: string[] = [];
    let before: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await ok<{ requests: Array<{ id: string }>; nextBefore: string | null }>(
        command(everyone.viewer.socket, 'request.list', { limit: 5, ...(before ? { before } : {}) }),
      );
      seen.push(...result.requests.map((r) => r.id));
      if (!result.nextBefore) break;
      before = result.nextBefore;
    }
    expect(seen).toHaveLength(ids.length);
    expect(new Set(seen)).toEqual(new Set(ids));
  });

  it('lists what waits for my approval, with the total', async () => {
    const mine = await ok(command(everyone.admin.socket, 'request.list', { awaitingMyApproval: true, limit: 10 }));
    expect(mine.requests).toHaveLength(10);
    expect(mine.total).toBe(ids.length);
    const notMine = await ok(command(everyone.owner.socket, 'request.list', { awaitingMyApproval: true }));
    expect(notMine.total).toBe(0);
  });

  it('refuses a malformed cursor, naming it', async () => {
    const refused = await command(everyone.viewer.socket, 'request.list', { before: 'yesterday' });
    expect(refused.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'before' }] });
  });
});
