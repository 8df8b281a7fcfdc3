// What is stored in Redis. These carry server-only fields (hashes, tombstones); presenters turn
// them into the shared entities before anything leaves the server.
import type {
  ApiKey,
  ApprovalGrant,
  ArtifactConfiguration,
  BuildSystem,
  Certificate,
  ChatChannel,
  Invitation,
  Member,
  Organization,
  Project,
  SigningPolicy,
  SigningRequest,
  Webhook,
} from '../../src/lib/shared/entities.js';
import type { SealedKey } from './keyVault.js';
import { DEFAULT_WEBHOOK_EVENTS } from '../../src/lib/shared/signing.js';

/** Where a key is in the PKCS#11 token. Not a secret: the key itself never leaves the token. */
export interface TokenKeyHandle {
  /** CKA_ID, hex */
  id: string;
  /** CKA_LABEL */
  label: string;
}

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

export interface ApiKeyRecord extends Omit<ApiKey, 'ancestry'> {
  secretHash: string;
  /** Absent on keys stored before keys recorded what created them: those were created by people. */
  ancestry?: string[];
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
  return { ...key, ancestry: record.ancestry ?? [], lastUsedAt: lastUsedAt ?? record.lastUsedAt };
}

export type ProjectRecord = Project;
export type ArtifactConfigRecord = ArtifactConfiguration;
export type PolicyRecord = SigningPolicy;
export type BuildSystemRecord = BuildSystem;
export type RequestRecord = SigningRequest;
export type GrantRecord = ApprovalGrant;

export interface CertificateRecord extends Certificate {
  /** Software custody: the private key, AES-256-GCM under the master key; never leaves the server. */
  sealedPrivateKey?: SealedKey;
  /** The OpenPGP secret key (binary), sealed like private keys under context `<id>:openpgp`. */
  sealedOpenpgpKey?: SealedKey;
  /** PKCS#11 custody: where the key is in the token (the key itself never leaves the token). */
  tokenKey?: TokenKeyHandle;
  /** The PKCS#10 request made with the key (source "requested"); handed out by certificate.downloadCsr. */
  csrPem?: string;
}

/** Records stored before key custody and CSRs existed are software-held, issued certificates. */
export function withCertificateDefaults(record: CertificateRecord): CertificateRecord {
  return { ...record, custody: record.custody ?? 'software', awaitingCertificate: record.awaitingCertificate ?? false, chainPem: record.chainPem ?? null, warnings: record.warnings ?? [] };
}

export interface WebhookRecord extends Omit<Webhook, 'events'> {
  /** Absent on webhooks made before events existed: they hear the final statuses. */
  events?: Webhook['events'];
  /** The HMAC secret, sealed like private keys (it must be recoverable to sign deliveries). */
  sealedSecret: SealedKey;
}

export function toCertificate(record: CertificateRecord): Certificate {
  const { sealedPrivateKey: _sealed, sealedOpenpgpKey: _openpgp, tokenKey: _handle, csrPem: _csr, ...certificate } = withCertificateDefaults(record);
  return certificate;
}

export function toWebhook(record: WebhookRecord): Webhook {
  const { sealedSecret: _sealed, ...webhook } = record;
  return { ...webhook, events: record.events ?? [...DEFAULT_WEBHOOK_EVENTS] };
}

export interface ChatChannelRecord extends ChatChannel {
  /** The incoming-webhook URL, sealed like webhook secrets (whoever has it may post to the channel). */
  sealedUrl: SealedKey;
}

export function toChatChannel(record: ChatChannelRecord): ChatChannel {
  const { sealedUrl: _sealed, ...channel } = record;
  return channel;
}
