// What only an instance operator does: move ownership, mark an organization Open Source, create
// operator accounts (who may enter organizations that authorized support).
import type { AuditActor } from '../../src/lib/shared/entities.js';
import type { Signet } from '../signet.js';
import type { MemberRecord, OrganizationRecord, UserRecord } from '../store/records.js';
import { toOrganization } from '../store/records.js';
import { INSTANCE_ORG_ID } from '../store/keys.js';
import { combinePlans } from '../store/plan.js';
import { CLI_SOURCE } from '../audit/entries.js';
import { CommandFailure } from '../errors.js';
import { hashPassword, randomId, randomToken } from '../auth/secrets.js';
import { Email } from '../../src/lib/shared/commands.js';

/** The operator acting from the command line, audited in `orgId`'s log. */
const operatorActing = (signet: Signet, orgId: string, actor: AuditActor) => signet.acting({ orgId, actor, source: CLI_SOURCE });

export async function transferOwnership(signet: Signet, orgId: string, toEmail: string, actor: AuditActor) {
  const { organizations, users, members } = signet.store;
  const org = (await organizations.get(orgId))!;
  const newOwnerId = await users.idByEmail(toEmail);
  const next = newOwnerId ? await members.get(orgId, newOwnerId) : null;
  if (!next || next.value.kind !== 'user') throw new CommandFailure('NOT_FOUND', `${toEmail} is not a member (a person, not a CI user) of ${org.value.slug}`);
  if (next.value.role === 'owner') return { org: org.value.slug, owner: toEmail, changed: false };
  const previous = (await members.get(orgId, org.value.ownerId))!;
  const updatedOrg: OrganizationRecord = { ...org.value, ownerId: next.value.userId, version: org.value.version + 1 };
  const newOwner: MemberRecord = { ...next.value, role: 'owner', version: next.value.version + 1 };
  const formerOwner: MemberRecord = { ...previous.value, role: 'admin', version: previous.value.version + 1 };
  await operatorActing(signet, orgId, actor).commit({
    action: 'org.transferOwnership',
    target: { type: 'organization', id: orgId, name: org.value.name },
    changes: { owner: { before: previous.value.email, after: newOwner.email } },
    ...combinePlans(organizations.update(org, updatedOrg), members.update(next, newOwner), members.update(previous, formerOwner)),
    // The former owner becomes an admin: their live sockets are re-checked on every node, in order.
    access: [{ orgId, userId: formerOwner.userId }, { orgId, userId: newOwner.userId }],
  });
  return { org: org.value.slug, owner: newOwner.email, formerOwnerRole: 'admin', changed: true };
}

export async function setOpenSource(signet: Signet, orgId: string, openSource: boolean, actor: AuditActor) {
  const { organizations } = signet.store;
  const org = (await organizations.get(orgId))!;
  if (org.value.openSource === openSource) return toOrganization(org.value);
  const updated = { ...org.value, openSource, version: org.value.version + 1 };
  await operatorActing(signet, orgId, actor).commit({
    action: 'org.setOpenSource',
    target: { type: 'organization', id: orgId, name: org.value.name },
    changes: { openSource: { before: !openSource, after: openSource } },
    ...organizations.update(org, updated),
  });
  return toOrganization(updated);
}

export async function createOperator(signet: Signet, rawEmail: string, name: string) {
  const email = Email.parse(rawEmail);
  const { users } = signet.store;
  if (await users.idByEmail(email)) throw new CommandFailure('CONFLICT', `An account for ${email} exists already`);
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
  await operatorActing(signet, INSTANCE_ORG_ID, { type: 'operator', id: 'cli', name: 'operator (cli)' }).commit({
    action: 'operator.create',
    target: { type: 'user', id: user.id, name: email },
    ...users.create(user),
  });
  // Printed once to the operator's terminal; stored only as an argon2id hash.
  return { email, password };
}
