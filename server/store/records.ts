// What is stored in Redis. These carry server-only fields (hashes, tombstones); presenters turn
// them into the shared entities before anything leaves the server.
import type { ApiKey, Invitation, Member, Organization } from '../../src/lib/shared/entities.js';

export interface OrganizationRecord extends Organization {
  deletedAt?: string;
}

export interface UserRecord {
  id: string;
  email: string;
  name: string;
  kind: 'user' | 'ciUser';
  passwordHash: string | null;
  /** Instance operator (the vendor's support team): may enter organizations that authorized support. */
  operator: boolean;
  createdAt: string;
  version: number;
}

export type MemberRecord = Member;

export interface InvitationRecord extends Invitation {
  tokenHash: string;
}

export interface ApiKeyRecord extends ApiKey {
  secretHash: string;
}

export interface SessionRecord {
  userId: string;
  createdAt: string;
  expiresAt: string;
}

export function toOrganization(record: OrganizationRecord): Organization {
  const { deletedAt: _deletedAt, ...org } = record;
  return org;
}

export function toInvitation(record: InvitationRecord): Invitation {
  const { tokenHash: _tokenHash, ...invitation } = record;
  return invitation;
}

export function toApiKey(record: ApiKeyRecord, lastUsedAt: string | null): ApiKey {
  const { secretHash: _secretHash, ...key } = record;
  return { ...key, lastUsedAt: lastUsedAt ?? record.lastUsedAt };
}
