// The store's modules of people and access (server/store/accounts.ts): reads are scoped to an
// organization, so another organization's key, invitation or CI user reads as absent (a command
// answers NOT_FOUND by construction), and the plans keep every index in step with the records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { actingContext } from '../../../server/store/acting.js';
import { CLI_SOURCE } from '../../../server/audit/entries.js';
import { command, connect, OPERATOR, seedOrg, signIn, startNode, type ClientSocket, type TestOrg } from '../../helpers/signet.js';

let node: SignetNode;
let home: TestOrg;
let other: TestOrg;
let owner: ClientSocket;
let otherOwner: ClientSocket;

beforeAll(async () => {
  node = await startNode();
  [home, other] = [await seedOrg(node), await seedOrg(node)];
  owner = await connect(node, { cookie: await signIn(node, home.users.owner) });
  otherOwner = await connect(node, { cookie: await signIn(node, other.users.owner) });
});

afterAll(async () => {
  owner?.close();
  otherOwner?.close();
  await node?.close();
});

async function ok<R = any>(socket: ClientSocket, name: string, input: unknown): Promise<R> {
  const ack = await command<R>(socket, name, input);
  if (!ack.ok) throw new Error(`${name} failed: ${JSON.stringify(ack.error)}`);
  return ack.result;
}

describe('reads scoped to an organization', () => {
  it("another organization's API key, invitation and CI user read as absent, and its commands answer NOT_FOUND", async () => {
    const { store } = node.signet;
    const created = await ok<{ ciUser: { userId: string }; apiKey: { id: string } }>(owner, 'ciUser.create', { name: 'Scoped Bot' });
    const { invitation } = await ok<{ invitation: { id: string } }>(owner, 'member.invite', { email: 'scoped@example.com', role: 'viewer' });

    expect((await store.apiKeys.get(home.orgId, created.apiKey.id))?.value.id).toBe(created.apiKey.id);
    expect(await store.apiKeys.get(other.orgId, created.apiKey.id)).toBeNull();
    expect((await store.invitations.get(home.orgId, invitation.id))?.value.id).toBe(invitation.id);
    expect(await store.invitations.get(other.orgId, invitation.id)).toBeNull();
    expect((await store.ciUsers.get(home.orgId, created.ciUser.userId))?.value.kind).toBe('ciUser');
    expect(await store.ciUsers.get(other.orgId, created.ciUser.userId)).toBeNull();
    expect(await store.ciUsers.get(home.orgId, home.users.member.userId)).toBeNull();

    for (const [name, input] of [
      ['apiKey.revoke', { keyId: created.apiKey.id }],
      ['invite.revoke', { inviteId: invitation.id }],
      ['ciUser.remove', { userId: created.ciUser.userId }],
    ] as const) {
      const ack = await command(otherOwner, name, input);
      expect(!ack.ok && ack.error.code).toBe('NOT_FOUND');
    }
    expect(await store.apiKeys.get(home.orgId, created.apiKey.id)).not.toBeNull();
    expect(await store.invitations.get(home.orgId, invitation.id)).not.toBeNull();
  });
});

describe('plans that keep indexes in step', () => {
  it("a person's membership ends without their account: they keep their email and their other organizations", async () => {
    const { store } = node.signet;
    const person = home.users.viewer;
    const joined = { ...(await store.members.get(home.orgId, person.userId))!.value, orgId: other.orgId };
    const acting = (orgId: string) => actingContext((plan) => node.signet.apply(plan), { orgId, actor: OPERATOR, source: CLI_SOURCE, action: 'member.add' });
    await acting(other.orgId).commit({ target: { type: 'member', id: person.userId, name: joined.name }, ...store.members.create(joined) });
    expect((await store.users.orgIds(person.userId)).sort()).toEqual([home.orgId, other.orgId].sort());

    await ok(owner, 'member.remove', { userId: person.userId });
    expect(await store.members.get(home.orgId, person.userId)).toBeNull();
    expect(await store.users.idByEmail(person.email)).toBe(person.userId);
    expect(await store.users.orgIds(person.userId)).toEqual([other.orgId]);
    expect((await store.members.list(home.orgId)).map((member) => member.userId)).not.toContain(person.userId);
  });

  it('creating a membership twice is refused by the commit, which writes nothing', async () => {
    const { store } = node.signet;
    const stored = (await store.members.get(home.orgId, home.users.member.userId))!;
    const acting = actingContext((plan) => node.signet.apply(plan), { orgId: home.orgId, actor: OPERATOR, source: CLI_SOURCE, action: 'member.add' });
    await expect(acting.commit({ target: { type: 'member', id: stored.value.userId, name: stored.value.name }, ...store.members.create({ ...stored.value, role: 'admin' }) })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await store.members.get(home.orgId, home.users.member.userId))!.raw).toBe(stored.raw);
  });
});
