// The support user (SPEC §2): an instance operator enters an organization only while its owner or an
// admin has authorized support, then acts with administrator rights, audited as support.
// Disabling support ends the operator's live sockets before it is acknowledged (SPEC §7).
import { beforeAll, describe, expect, it } from 'vitest';
import { createOperator } from '../../../server/cli/operator.js';
import { auditLog, command, http, nextEvent, restCommand } from '../../helpers/signet.js';
import { useSignet } from '../../helpers/signetFixture.js';

const fx = useSignet();
const { as, open } = fx;
let operator: { email: string; password: string; userId: string; cookie: string };

const operatorSocket = () => open({ cookie: operator.cookie, org: fx.org.slug });
const serverSocketsOf = (userId: string) => [...fx.node.io.of('/').sockets.values()].filter((s) => s.data?.userId === userId);

beforeAll(async () => {
  const credentials = await createOperator(fx.node.signet, `support-${fx.org.slug}@vendor.example.com`, 'Sam Support');
  const login = await http(fx.node, 'POST', '/api/v1/auth/login', { body: credentials });
  if (login.status !== 200) throw new Error(`operator sign-in failed: ${JSON.stringify(login.body)}`);
  operator = { ...credentials, userId: login.body.result.user.id, cookie: login.headers.get('set-cookie')!.split(';')[0]! };
});

describe('support access', () => {
  it('an operator signs in over REST, as an operator who belongs to no organization', async () => {
    const login = await http(fx.node, 'POST', '/api/v1/auth/login', { body: { email: operator.email, password: operator.password } });
    expect(login.status).toBe(200);
    expect(login.body.result.user).toMatchObject({ id: operator.userId, email: operator.email, operator: true });
    expect(login.body.result.orgs).toEqual([]);
  });

  it('before support is authorized, the operator\'s handshake for the organization is refused', async () => {
    const current = await command<any>(as.owner, 'org.get');
    expect(current.ok && current.result.supportAuthorized).toBe(false);
    await expect(operatorSocket()).rejects.toThrow(/not authorized/);
    const rest = await restCommand(fx.node, 'member.list', {}, { cookie: operator.cookie, org: fx.org.slug });
    expect(rest.status).toBe(401);
    expect(rest.body.error?.code).toBe('UNAUTHENTICATED');
  });

  it('members and viewers cannot authorize support', async () => {
    for (const role of ['member', 'viewer'] as const) {
      const ack = await command(as[role], 'support.authorize');
      expect(ack.ok).toBe(false);
      expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    }
    const current = await command<any>(as.owner, 'org.get');
    expect(current.ok && current.result.supportAuthorized).toBe(false);
    await expect(operatorSocket()).rejects.toThrow(/not authorized/);
  });

  it('once the owner authorizes support, the operator enters with admin rights, and every action is audited as support', async () => {
    const authorized = await command<any>(as.owner, 'support.authorize');
    expect(authorized.ok).toBe(true);
    expect(authorized.ok && authorized.result.supportAuthorized).toBe(true);

    const support = await operatorSocket();
    const me = await command<any>(support, 'me.get');
    expect(me.ok && me.result.role).toBe('admin');

    const renamed = await command<any>(support, 'org.update', { name: 'Renamed by support', version: (await command<any>(support, 'org.get')).result.version });
    expect(renamed.ok).toBe(true);
    // It may not create credentials that would outlast its access.
    for (const [name, input] of [
      ['member.invite', { email: 'helped@example.com', role: 'member' }],
      ['ciUser.create', { name: 'Support bot' }],
      ['apiKey.create', { name: 'support key', permissions: ['signing:read'] }],
    ] as const) {
      const refused = await command(support, name, input);
      expect(refused.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/outlast its access/) });
    }
    const deleted = await command(support, 'org.delete', { confirmSlug: fx.org.slug });
    expect(deleted.ok).toBe(false);
    expect(!deleted.ok && deleted.error.code).toBe('FORBIDDEN');
    expect(!deleted.ok && deleted.error.message).toContain('org:delete');
    expect((await command(as.owner, 'org.get')).ok).toBe(true);

    const entries = (await auditLog(fx.node, fx.org.orgId)).filter((entry) => entry.actor.id === operator.userId);
    expect(entries.map((entry) => [entry.action, entry.outcome])).toEqual([
      ['org.update', 'ok'],
      ['member.invite', 'denied'],
      ['ciUser.create', 'denied'],
      ['apiKey.create', 'denied'],
      ['org.delete', 'denied'],
    ]);
    for (const entry of entries) expect(entry.actor).toEqual({ type: 'support', id: operator.userId, name: 'Sam Support' });
  });

  it('support.disable disconnects the operator\'s live socket before it is acknowledged, and the next handshake is refused', async () => {
    expect((await command(as.admin, 'support.authorize')).ok).toBe(true);
    const support = await operatorSocket();
    expect((await command(support, 'member.list')).ok).toBe(true);
    const revoked = nextEvent(support, 'revoked');

    const disabled = await command<any>(as.admin, 'support.disable');
    expect(disabled.ok).toBe(true);
    expect(disabled.ok && disabled.result.supportAuthorized).toBe(false);
    expect(serverSocketsOf(operator.userId)).toEqual([]);
    expect((await revoked).reason).toMatch(/not authorized/);

    await expect(operatorSocket()).rejects.toThrow(/not authorized/);
    const rest = await restCommand(fx.node, 'member.list', {}, { cookie: operator.cookie, org: fx.org.slug });
    expect(rest.status).toBe(401);
  });

  it('members and viewers cannot disable support either', async () => {
    expect((await command(as.owner, 'support.authorize')).ok).toBe(true);
    for (const role of ['member', 'viewer'] as const) {
      const ack = await command(as[role], 'support.disable');
      expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    }
    const support = await operatorSocket();
    expect((await command(support, 'member.list')).ok).toBe(true);
    expect((await command(as.owner, 'support.disable')).ok).toBe(true);
  });
});
