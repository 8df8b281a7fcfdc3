// Resuming while the organization keeps committing (SPEC §7, issue 13): a socket that comes back with
// the last sequence number it saw receives what it missed in order, then the live events, with
// nothing twice and nothing left out — on the wire, not only after the console's de-duplication.
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { connect, signIn, type ClientSocket, type TestOrg } from '../../helpers/signet.js';
import { seenThrough, sequenced, startAuditWriter } from '../../helpers/realtimeLoad.js';
import { useSignet } from '../../helpers/signetFixture.js';

const fx = useSignet({ signIn: false });
let nodeA: SignetNode;
let nodeB: SignetNode;
let org: TestOrg;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  ({ node: nodeA, org } = fx);
  fx.onClose(() => sockets.forEach((socket) => socket.close()));
  nodeB = await fx.startNode({ ...nodeA.signet.config, nodeId: 'node-b' });
});

/** The sequence numbers of the organization's events an admin may see, from the stream itself. */
async function auditSeqsInStream(node: SignetNode, after: number, through: number): Promise<number[]> {
  const entries = (await node.signet.redis.xrange(node.signet.keys.events(org.orgId), `${after + 1}-0`, `${through}-0`)) as Array<[string, string[]]>;
  return entries.filter(([, fields]) => fields[fields.indexOf('k') + 1] === 'audit').map(([id]) => Number(id.split('-')[0]));
}

describe('resuming from a number the server did not hand out', () => {
  // Runs first: a bad number must not make the node believe it delivered events it has not (the
  // test under load below would then see duplicates).
  it('a number beyond the stream (events a failover lost) is no resume: the client reloads, from the current number, and live events follow', async () => {
    const cookie = await signIn(nodeA, org.users.admin);
    const ahead = await connect(nodeA, { cookie, lastSeq: 1_000_000_000 });
    sockets.push(ahead);
    const current = Number(await nodeA.signet.redis.get(nodeA.signet.keys.eventSeq(org.orgId)));
    expect(ahead.ready).toMatchObject({ resumed: false, replayed: 0 });
    expect(ahead.ready.seq).toBeGreaterThanOrEqual(current);
    expect(ahead.ready.seq).toBeLessThan(1_000_000_000);
    const writer = startAuditWriter(nodeB, org.orgId, 1);
    await writer.after(5);
    await writer.stop();
    await seenThrough(ahead, Number(await nodeA.signet.redis.get(nodeA.signet.keys.eventSeq(org.orgId))), 20_000);
    ahead.close();
  });
});

describe('resuming under load', () => {
  it('a resuming admin receives the missed events and then the live ones strictly in order, each once, with no gap', async () => {
    const cookie = await signIn(nodeA, org.users.admin);
    for (let round = 0; round < 3; round += 1) {
      const first = await connect(nodeA, { cookie });
      sockets.push(first);
      const writer = startAuditWriter(nodeB, org.orgId);
      await writer.after(20);
      first.close();
      const lastSeq = Math.max(first.ready.seq, ...sequenced(first).map((e) => e.seq));
      // Missed while away: a few hundred entries, then the resume happens in the middle of the load.
      await writer.after(300);
      const resumed = await connect(nodeA, { cookie, lastSeq });
      sockets.push(resumed);
      expect(resumed.ready.resumed).toBe(true);
      await writer.after(300);
      await writer.stop();
      const through = Number(await nodeA.signet.redis.get(nodeA.signet.keys.eventSeq(org.orgId)));
      // 20 s: delivery on a loaded 2-core machine, not a performance bound.
      await seenThrough(resumed, through, 20_000);

      const seqs = sequenced(resumed).map((e) => e.seq);
      const outOfOrder = seqs.filter((seq, i) => i > 0 && seq <= seqs[i - 1]!).length;
      const duplicates = seqs.length - new Set(seqs).size;
      expect({ outOfOrder, duplicates }).toEqual({ outOfOrder: 0, duplicates: 0 });
      // Exactly the audit entries committed after lastSeq, every one of them: the writer's.
      expect(seqs).toEqual(await auditSeqsInStream(nodeA, lastSeq, through));
      expect(seqs.length).toBeGreaterThanOrEqual(600);
      // `ready` marks the switch from replay to live: replayed events come before it, and it
      // numbers the last of them.
      const readyAt = resumed.received.findIndex((r) => r.event === 'ready');
      const replayed = resumed.received.slice(0, readyAt).filter((r) => r.event === 'audit');
      expect(replayed.length).toBe(resumed.ready.replayed);
      expect(resumed.ready.seq).toBeGreaterThanOrEqual(replayed.at(-1)?.data.seq ?? lastSeq);
      const live = resumed.received.slice(readyAt + 1).filter((r) => r.event === 'audit');
      expect(live.filter((r) => r.data.seq <= resumed.ready.seq)).toEqual([]);
      resumed.close();
    }
  });
});
