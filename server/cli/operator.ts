// What only an instance operator does: move ownership, mark an organization Open Source, create
// operator accounts (who may enter organizations that authorized support).
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { Signet } from '../signet.js';
import type { MemberRecord, OrganizationRecord, UserRecord } from '../store/records.js';
import { toOrganization } from '../store/records.js';
import { CLI_SOURCE, auditDraft } from '../audit/entries.js';
import { changeEvent } from '../store/events.js';
import { CommandFailure } from '../errors.js';
import { hashPassword, randomId, randomToken } from '../auth/secrets.js';
import { Email } from '../../src/lib/shared/commands.js';

export async function transferOwnership(signet: Signet, orgId: string, toEmail: string, actor: AuditActor) {
  const { keys, repos } = signet;
  const org = (await repos.org(orgId))!;
  const newOwnerId = await repos.userIdByEmail(toEmail);
  const next = newOwnerId ? await repos.member(orgId, newOwnerId) : null;
  if (!next || next.value.kind !== 'user') throw new CommandFailure('NOT_FOUND', `${toEmail} is not a member (a person, not a CI user) of ${org.value.slug}`);
  if (next.value.role === 'owner') return { org: org.value.slug, owner: toEmail, changed: false };
  const previous = (await repos.member(orgId, org.value.ownerId))!;
  const updatedOrg: OrganizationRecord = { ...org.value, ownerId: next.value.userId, version: org.value.version + 1 };
  const newOwner: MemberRecord = { ...next.value, role: 'owner', version: next.value.version + 1 };
  const formerOwner: MemberRecord = { ...previous.value, role: 'admin', version: previous.value.version + 1 };
  await signet.apply({
    expect: [
      { key: keys.org(orgId), equals: org.raw },
      { key: keys.member(orgId, next.value.userId), equals: next.raw },
      { key: keys.member(orgId, previous.value.userId), equals: previous.raw },
    ],
    ops: [
      ['set', keys.org(orgId), JSON.stringify(updatedOrg)],
      ['set', keys.member(orgId, newOwner.userId), JSON.stringify(newOwner)],
      ['set', keys.member(orgId, formerOwner.userId), JSON.stringify(formerOwner)],
    ],
    events: [
      changeEvent(orgId, 'organization', 'updated', orgId, toOrganization(updatedOrg), ['all']),
      changeEvent(orgId, 'member', 'updated', newOwner.userId, newOwner, ['p:team:read']),
      changeEvent(orgId, 'member', 'updated', formerOwner.userId, formerOwner, ['p:team:read']),
    ],
    audits: [
      auditDraft({
        orgId,
        actor,
        action: 'org.transferOwnership',
        target: { type: 'organization', id: orgId, name: org.value.name },
        changes: { owner: { before: previous.value.email, after: newOwner.email } },
        source: CLI_SOURCE,
      }),
    ],
    // The former owner becomes an admin: their live sockets are re-checked on every node, in order.
    access: { scopes: [{ orgId, userId: formerOwner.userId }, { orgId, userId: newOwner.userId }] },
  });
  return { org: org.value.slug, owner: newOwner.email, formerOwnerRole: 'admin', changed: true };
}

export async function setOpenSource(signet: Signet, orgId: string, openSource: boolean, actor: AuditActor) {
  const org = (await signet.repos.org(orgId))!;
  if (org.value.openSource === openSource) return toOrganization(org.value);
  const updated = { ...org.value, openSource, version: org.value.version + 1 };
  await signet.apply({
    expect: [{ key: signet.keys.org(orgId), equals: org.raw }],
    ops: [['set', signet.keys.org(orgId), JSON.stringify(updated)]],
    events: [changeEvent(orgId, 'organization', 'updated', orgId, toOrganization(updated), ['all'])],
    audits: [
      auditDraft({
        orgId,
        actor,
        action: 'org.setOpenSource',
        target: { type: 'organization', id: orgId, name: org.value.name },
        changes: { openSource: { before: !openSource, after: openSource } },
        source: CLI_SOURCE,
      }),
    ],
  });
  return toOrganization(updated);
}

export async function createOperator(signet: Signet, rawEmail: string, name: string) {
  const email = Email.parse(rawEmail);
  if (await signet.repos.userIdByEmail(email)) throw new CommandFailure('CONFLICT', `An account for ${email} exists already`);
  const password = randomToken(18);
  const user: UserRecord = {
    id: randomId(),
    email,
    name,
    kind: 'user',
    passwordHash: await hashPassword(password),
    operator: true,
    createdAt: new Date().toISOString(),
    version: 1,
  };
  await signet.apply({
    expect: [{ key: signet.keys.usersByEmail, field: email, equals: null }],
    ops: [
      ['set', signet.keys.user(user.id), JSON.stringify(user)],
      ['hset', signet.keys.usersByEmail, email, user.id],
    ],
    audits: [
      auditDraft({
        orgId: 'instance',
        actor: { type: 'operator', id: 'cli', name: 'operator (cli)' },
        action: 'operator.create',
        target: { type: 'user', id: user.id, name: email },
        source: CLI_SOURCE,
      }),
    ],
  });
  // Printed once to the operator's terminal; stored only as an argon2id hash.
  return { email, password };
}
