// Key custody (SPEC §4, issue 11): a certificate's key is sealed in Redis (software) or generated in
// the PKCS#11 token (the run's own SoftHSM2 token), where it is sensitive and never extractable:
// the token refuses to read or wrap it, Signet keeps only its handle, and neither the key nor the
// token's PIN reaches Redis, logs, events or audit entries.
import { verify as verifySignature, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { SignetNode } from '../../../server/index.js';
import { openSigner } from '../../../server/signing/custody/signer.js';
import type { CertificateRecord } from '../../../server/store/records.js';
import type { Certificate } from '../../../src/lib/shared/entities.js';
import {
  auditLog,
  command,
  connect,
  signIn,
  snapshot,
  startNode,
  type ClientSocket,
  type TestOrg,
} from '../../helpers/signet.js';
import { must } from '../../helpers/signing.js';
import { useSignet } from '../../helpers/signetFixture.js';

const fx = useSignet({ config: { LOG_LEVEL: 'trace' }, log: 'trace' });
let node: SignetNode;
let org: TestOrg;
let admin: ClientSocket;
let viewer: ClientSocket;
/** Every line the node logged, at trace level. */
const logLines = fx.logged;
const pin = readFileSync(inject('pkcs11').pinFile, 'utf8').trim();

async function storedRecord(id: string): Promise<CertificateRecord> {
  return JSON.parse((await node.signet.redis.get(node.signet.keys.certificate(id)))!) as CertificateRecord;
}

/**
 * The token as any PKCS#11 application sees it: the same module and token, reached with pkcs11js
 * directly rather than through Signet. (The module is initialized once per process; this shares it.)
 */
function rawToken() {
  const { modulePath, tokenLabel } = inject('pkcs11');
  const pkcs11 = new pkcs11js.PKCS11();
  pkcs11.load(modulePath);
  try {
    pkcs11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (error) {
    if ((error as Error).message !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw error;
  }
  const slot = pkcs11.C_GetSlotList(true).find((candidate) => pkcs11.C_GetTokenInfo(candidate).label.trim() === tokenLabel)!;
  const session = pkcs11.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
  try {
    pkcs11.C_Login(session, pkcs11js.CKU_USER, pin);
  } catch (error) {
    if ((error as Error).message !== 'CKR_USER_ALREADY_LOGGED_IN') throw error;
  }
  const find = (id: string, objectClass: number) => {
    pkcs11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: objectClass }, { type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') }]);
    const found = pkcs11.C_FindObjects(session, 10);
    pkcs11.C_FindObjectsFinal(session);
    return found;
  };
  return { pkcs11, session, find, close: () => pkcs11.C_CloseSession(session) };
}

const flag = (value: Buffer) => value.readUInt8(0) === 1;

beforeAll(() => {
  ({ node, org } = fx);
  ({ admin, viewer } = fx.as);
});

const generated: Record<string, Certificate> = {};

describe('a key generated in the PKCS#11 token', () => {
  for (const algorithm of ['ECDSA-P256', 'RSA-2048'] as const) {
    it(`${algorithm}: the certificate says custody "pkcs11", is self-signed through the token, and the record keeps only the key's handle`, async () => {
      const slug = `token-${algorithm.toLowerCase()}`;
      const certificate = await must<Certificate>(admin, 'certificate.generate', {
        slug,
        name: `Token ${algorithm}`,
        type: 'release',
        custody: 'pkcs11',
        algorithm,
        commonName: 'Example Token Signing',
        validDays: 30,
      });
      generated[algorithm] = certificate;
      expect(certificate).toMatchObject({ slug, custody: 'pkcs11', source: 'generated', algorithm, awaitingCertificate: false, warnings: [] });

      const x509 = new X509Certificate(certificate.certificatePem!);
      expect(x509.verify(x509.publicKey)).toBe(true);
      expect(x509.subject).toBe('CN=Example Token Signing');

      const record = await storedRecord(certificate.id);
      expect(record.sealedPrivateKey).toBeUndefined();
      expect(record.tokenKey).toEqual({ id: expect.stringMatching(/^[0-9a-f]{32}$/), label: `signet-${certificate.id}` });

      // The certificate's public key is the token's key.
      const token = rawToken();
      try {
        const [publicKey] = token.find(record.tokenKey!.id, pkcs11js.CKO_PUBLIC_KEY);
        const [labelAttribute] = token.pkcs11.C_GetAttributeValue(token.session, publicKey!, [{ type: pkcs11js.CKA_LABEL }]);
        expect(labelAttribute!.value.toString()).toBe(record.tokenKey!.label);
        const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
        if (algorithm === 'RSA-2048') {
          const [modulus] = token.pkcs11.C_GetAttributeValue(token.session, publicKey!, [{ type: pkcs11js.CKA_MODULUS }]);
          expect(x509.publicKey.export({ format: 'jwk' }).n).toBe(modulus!.value.toString('base64url'));
        } else {
          const [point] = token.pkcs11.C_GetAttributeValue(token.session, publicKey!, [{ type: pkcs11js.CKA_EC_POINT }]);
          expect(spki.includes(point!.value.subarray(2))).toBe(true);
        }
      } finally {
        token.close();
      }
    });
  }

  it('is a sensitive, never-extractable token object: reading its private value and wrapping it are refused', async () => {
    const token = rawToken();
    try {
      for (const [algorithm, secretAttribute] of [['ECDSA-P256', pkcs11js.CKA_VALUE], ['RSA-2048', pkcs11js.CKA_PRIVATE_EXPONENT]] as const) {
        const { tokenKey } = await storedRecord(generated[algorithm]!.id);
        const found = token.find(tokenKey!.id, pkcs11js.CKO_PRIVATE_KEY);
        expect(found).toHaveLength(1);
        const privateKey = found[0]!;
        const attributes = token.pkcs11.C_GetAttributeValue(token.session, privateKey, [
          { type: pkcs11js.CKA_TOKEN },
          { type: pkcs11js.CKA_SENSITIVE },
          { type: pkcs11js.CKA_EXTRACTABLE },
          { type: pkcs11js.CKA_ALWAYS_SENSITIVE },
          { type: pkcs11js.CKA_NEVER_EXTRACTABLE },
        ]);
        expect(attributes.map((attribute) => flag(attribute.value))).toEqual([true, true, false, true, true]);

        expect(() => token.pkcs11.C_GetAttributeValue(token.session, privateKey, [{ type: secretAttribute }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
        // A wrapping key of the test's own: the token still will not hand the key out encrypted.
        const wrappingKey = token.pkcs11.C_GenerateKey(token.session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
          { type: pkcs11js.CKA_TOKEN, value: false },
          { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
          { type: pkcs11js.CKA_WRAP, value: true },
        ]);
        expect(() => token.pkcs11.C_WrapKey(token.session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, wrappingKey, privateKey, Buffer.alloc(8192))).toThrow(
          /CKR_KEY_UNEXTRACTABLE/,
        );
        // Nor can it be made extractable after the fact.
        expect(() => token.pkcs11.C_SetAttributeValue(token.session, privateKey, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }])).toThrow(/CKR_/);
      }
    } finally {
      token.close();
    }
  });

  it('signs through the token: the signature verifies with the certificate, and tools get the key’s PKCS#11 URI', async () => {
    const data = Buffer.from('an artifact signed inside the token\n');
    for (const algorithm of ['ECDSA-P256', 'RSA-2048'] as const) {
      const record = (await node.signet.store.certificates.get(org.orgId, generated[algorithm]!.id))!.value;
      const signer = await openSigner(node.signet.config, record);
      try {
        expect(signer.keyType).toBe(algorithm === 'RSA-2048' ? 'rsa' : 'ec');
        const signature = await signer.sign(data);
        const publicKey = new X509Certificate(record.certificatePem!).publicKey;
        expect(verifySignature('sha256', data, publicKey, signature)).toBe(true);
        expect(verifySignature('sha256', Buffer.from('something else'), publicKey, signature)).toBe(false);
        expect(signer.pkcs11).toEqual({
          modulePath: inject('pkcs11').modulePath,
          uri: `pkcs11:token=${inject('pkcs11').tokenLabel};id=${record.tokenKey!.id.replace(/(..)/g, '%$1')};object=${record.tokenKey!.label};type=private`,
          pin,
        });
      } finally {
        signer.close();
      }
    }
  });

  it('a software key beside it says custody "software" and keeps its sealed key, as before', async () => {
    const certificate = await must<Certificate>(admin, 'certificate.generate', { slug: 'software', name: 'Software', type: 'test', commonName: 'Software Test', validDays: 30 });
    expect(certificate.custody).toBe('software');
    const record = await storedRecord(certificate.id);
    expect(record.tokenKey).toBeUndefined();
    expect(record.sealedPrivateKey).toMatchObject({ alg: 'A256GCM' });
    const signer = await openSigner(node.signet.config, (await node.signet.store.certificates.get(org.orgId, certificate.id))!.value);
    expect(signer.pkcs11).toBeUndefined();
    const signature = await signer.sign(Buffer.from('x'));
    signer.close();
    expect(verifySignature('sha256', Buffer.from('x'), new X509Certificate(certificate.certificatePem!).publicKey, signature)).toBe(true);
  });

  it('a certificate stored before custody existed reads as software-held', async () => {
    const certificate = await must<Certificate>(admin, 'certificate.generate', { slug: 'legacy', name: 'Legacy', type: 'test', commonName: 'Legacy Test', validDays: 30 });
    const { custody: _custody, awaitingCertificate: _awaiting, chainPem: _chain, warnings: _warnings, ...legacy } = await storedRecord(certificate.id);
    await node.signet.redis.set(node.signet.keys.certificate(certificate.id), JSON.stringify(legacy));

    const listed = (await must<Certificate[]>(viewer, 'certificate.list')).find((c) => c.id === certificate.id)!;
    expect(listed).toEqual(certificate);
    const signer = await openSigner(node.signet.config, (await node.signet.store.certificates.get(org.orgId, certificate.id))!.value);
    expect(verifySignature('sha256', Buffer.from('y'), new X509Certificate(certificate.certificatePem!).publicKey, await signer.sign(Buffer.from('y')))).toBe(true);
    signer.close();
  });

  it('no key material and no PIN reach Redis, logs, events or audit entries', async () => {
    const everything = await snapshot(node);
    const values = Object.values(everything).join('\n');
    const events = JSON.stringify([...admin.received, ...viewer.received]);
    const audit = JSON.stringify(await auditLog(node, org.orgId));
    const logs = logLines.join('');
    expect(logLines.length).toBeGreaterThan(0);
    for (const [what, text] of [['Redis', values], ['events', events], ['audit entries', audit], ['logs', logs]] as const) {
      expect(text, what).not.toContain(pin);
      expect(text, what).not.toMatch(/PRIVATE KEY/);
    }
    // Token-held records keep a handle, never a key; the handle is not in what leaves the server.
    // (The certificate's OpenPGP key, a separate software key for openpgp-detached signatures, is
    // sealed under the master key like every software key.)
    for (const certificate of Object.values(generated)) {
      const raw = everything[node.signet.keys.certificate(certificate.id)]!;
      expect(Object.keys(JSON.parse(raw)).sort()).toEqual([...Object.keys(certificate), 'tokenKey', 'sealedOpenpgpKey'].sort());
      const { tokenKey } = JSON.parse(raw) as CertificateRecord;
      for (const text of [events, audit]) expect(text).not.toContain(tokenKey!.id);
    }
    // The software keys' sealed forms stay in their records.
    for (const [key, raw] of Object.entries(everything)) {
      if (!key.startsWith(node.signet.keys.certificate(''))) continue;
      const sealed = (JSON.parse(raw) as CertificateRecord).sealedPrivateKey;
      if (!sealed) continue;
      for (const text of [events, audit, logs]) expect(text).not.toContain(sealed.ciphertext);
    }
  });
});

describe('an installation without a token', () => {
  it('refuses token custody with INVALID_INPUT naming custody, and changes nothing', async () => {
    // Another node of the same installation (same Redis data), configured without a token.
    const bare = await startNode({ ...node.signet.config, pkcs11: null });
    try {
      const socket = await connect(bare, { cookie: await signIn(bare, org.users.admin) });
      const before = await snapshot(bare);
      const ack = await command(socket, 'certificate.generate', { slug: 'nope', name: 'Nope', type: 'test', custody: 'pkcs11', commonName: 'Nope Test' });
      expect(ack.ok).toBe(false);
      expect(ack.error).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: 'custody' }] });
      expect(ack.error!.message).toMatch(/no PKCS#11 token is available.*SIGNET_PKCS11_MODULE/);
      const after = await snapshot(bare);
      const unchanged = (state: Record<string, string>) => Object.fromEntries(Object.entries(state).filter(([key]) => !/:audit|:seq$|:events$|bull/.test(key)));
      expect(unchanged(after)).toEqual(unchanged(before));
      socket.close();
    } finally {
      await bare.close();
    }
  });
});
