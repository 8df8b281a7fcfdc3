// Bounds (SPEC §10): oversized socket messages are refused, commands are rate-limited per actor.
import { beforeAll, describe, expect, it } from 'vitest';
import type { SignetNode } from '../../server/index.js';
import { command, connect, http, restCommand, signIn, type TestOrg } from '../helpers/signet.js';
import { useSignet } from '../helpers/signetFixture.js';

const fx = useSignet({ config: { SIGNET_MAX_MESSAGE_BYTES: '4096', SIGNET_RATE_LIMIT_PER_MINUTE: '20', SIGNET_RATE_LIMIT_BURST: '100' }, signIn: false });
let node: SignetNode;
let org: TestOrg;
beforeAll(() => void ({ node, org } = fx));

describe('limits', () => {
  it('closes a socket that sends a message over the configured size, without acknowledging it', async () => {
    const socket = await connect(node, { cookie: await signIn(node, org.users.member) });
    const closed = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    let acknowledged = false;
    socket.emit('command', 'presence.update', { page: 'x'.repeat(10_000) }, () => (acknowledged = true));
    expect(await closed).toMatch(/transport/);
    expect(acknowledged).toBe(false);
  });

  it('accepts a message just under the limit', async () => {
    const socket = await connect(node, { cookie: await signIn(node, org.users.viewer) });
    const ack = await command(socket, 'presence.update', { page: 'p'.repeat(150) });
    expect(ack.ok).toBe(true);
    socket.close();
  });

  it('rate-limits commands per actor with RATE_LIMITED, leaving other actors alone', async () => {
    const admin = await connect(node, { cookie: await signIn(node, org.users.admin) });
    const acks = [];
    for (let i = 0; i < 25; i++) acks.push(await command(admin, 'me.get'));
    const limited = acks.filter((ack) => !ack.ok);
    // The connection counted as one of the 20.
    expect(acks.slice(0, 19).every((ack) => ack.ok)).toBe(true);
    expect(limited.length).toBe(6);
    expect(limited[0]).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED', message: expect.stringMatching(/try again in \d+ s/), retryAfterMs: expect.any(Number) } });
    // The same actor over REST shares the budget; another actor does not.
    const rest = await restCommand(node, 'me.get', {}, { cookie: await signIn(node, org.users.admin) });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThan(0);
    const owner = await connect(node, { cookie: await signIn(node, org.users.owner) });
    expect((await command(owner, 'me.get')).ok).toBe(true);
    admin.close();
    owner.close();
  });

  it('locks sign-in for an account after ten wrong passwords from one address, even with the right one', async () => {
    const { email, password } = org.users.viewer;
    for (let i = 0; i < 10; i++) {
      const wrong = await http(node, 'POST', '/api/v1/auth/login', { body: { email, password: `wrong ${i}` } });
      expect(wrong.status).toBe(401);
    }
    const locked = await http(node, 'POST', '/api/v1/auth/login', { body: { email, password } });
    expect(locked.status).toBe(429);
    expect(locked.body.error).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringMatching(/failed sign-ins/) });
    // Retry-After: the rest of the 15 minutes, in seconds.
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(60);
    // Another account from the same address is not affected.
    expect((await http(node, 'POST', '/api/v1/auth/login', { body: { email: org.users.member.email, password } })).status).toBe(200);
  });
});
