// A PKCS#11 token through pkcs11js (the maintained N-API binding that graphene-pk11 and
// node-webcrypto-p11 are built on; we need only a handful of calls, see README). Keys are generated
// inside the token as sensitive, never-extractable token objects; Signet keeps only their handle
// (CKA_ID and label) and asks the token to sign SHA-256 digests.
//
// A module is loaded and initialized once per process and stays loaded: several Signet nodes in one
// process (tests) share it. Each token keeps one session open for its lifetime, which holds the
// login (PKCS#11 logs an application out when its last session closes); every operation runs in a
// session of its own, because one session may run one operation at a time.
import pkcs11js from 'pkcs11js';
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Pkcs11Config } from '../../config.js';
import type { TokenKeyHandle } from '../../store/records.js';
import { ecdsaRawToDer } from './ecdsa.js';

export type TokenKeyAlgorithm = 'RSA-2048' | 'RSA-3072' | 'ECDSA-P256';

export interface TokenKeyInfo {
  keyType: 'rsa' | 'ec';
  publicKey: KeyObject;
}

export interface Token {
  readonly label: string;
  generateKeyPair(algorithm: TokenKeyAlgorithm, label: string): Promise<{ handle: TokenKeyHandle } & TokenKeyInfo>;
  /** The key's type and public key; throws a clear error when the token has no such key. */
  describeKey(handle: TokenKeyHandle): TokenKeyInfo;
  /** Signs a SHA-256 digest: RSASSA-PKCS1-v1_5, or ECDSA returning the DER (r, s) sequence. */
  signDigest(handle: TokenKeyHandle, keyType: 'rsa' | 'ec', digest: Buffer): Promise<Buffer>;
  destroyKey(handle: TokenKeyHandle): void;
  /** RFC 7512 URI of the private key, for tools that reach the token themselves (osslsigncode, OpenSSL). */
  uri(handle: TokenKeyHandle): string;
}

/** The token said no, or is not there: the message says which and never carries the PIN. */
export class TokenError extends Error {}

const P256_OID_DER = Buffer.from('06082a8648ce3d030107', 'hex');
/** DER prefix of a DigestInfo for SHA-256 (RFC 8017 §9.2): CKM_RSA_PKCS signs DigestInfo || digest. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');
const RW_SESSION = pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION;
/** Errors after which the cached token is dropped and opened afresh (the token was reset or reconnected). */
const STALE = new Set(['CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_USER_NOT_LOGGED_IN', 'CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_REMOVED', 'CKR_CRYPTOKI_NOT_INITIALIZED']);

interface LoadedModule {
  pkcs11: pkcs11js.PKCS11;
  environment: Record<string, string>;
}

const modules = new Map<string, LoadedModule>();
const tokens = new Map<string, Promise<TokenImpl>>();

function pkcs11Code(error: unknown): string | null {
  const message = error instanceof Error ? error.message : '';
  return /^CKR_\w+$/.test(message) ? message : null;
}

/** Loads and initializes a module once per process (the environment, e.g. SOFTHSM2_CONF, is read at load). */
function loadModule(modulePath: string, environment: Record<string, string>): pkcs11js.PKCS11 {
  const loaded = modules.get(modulePath);
  if (loaded) {
    for (const [name, value] of Object.entries(environment)) {
      if (loaded.environment[name] !== value) {
        throw new TokenError(`the PKCS#11 module ${modulePath} is already loaded in this process with another ${name}`);
      }
    }
    return loaded.pkcs11;
  }
  // Set before loading, and kept: child processes that load the module themselves (osslsigncode
  // through the PKCS#11 engine) must find the same token.
  Object.assign(process.env, environment);
  const pkcs11 = new pkcs11js.PKCS11();
  try {
    pkcs11.load(modulePath);
  } catch (error) {
    throw new TokenError(`cannot load the PKCS#11 module ${modulePath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    // OS locking: signatures run on libuv's thread pool (C_SignAsync), several at once.
    pkcs11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (error) {
    if (pkcs11Code(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      throw new TokenError(`cannot initialize the PKCS#11 module ${modulePath}: ${pkcs11Code(error) ?? String(error)}`);
    }
  }
  modules.set(modulePath, { pkcs11, environment: { ...environment } });
  return pkcs11;
}

/** Token labels are 32 bytes, padded with blanks (or, by some writers, NULs). */
function labelOf(pkcs11: pkcs11js.PKCS11, slot: Buffer): string {
  return pkcs11.C_GetTokenInfo(slot).label.replace(/[\s\u0000]+$/, '');
}

function findSlot(pkcs11: pkcs11js.PKCS11, tokenLabel: string): Buffer | null {
  return pkcs11.C_GetSlotList(true).find((slot) => labelOf(pkcs11, slot) === tokenLabel) ?? null;
}

/** CKA_EC_POINT is the point as a DER OCTET STRING (some tokens give it bare). */
function unwrapEcPoint(value: Buffer): Buffer {
  if (value[0] === 0x04 && value.length === 65) return value;
  if (value[0] === 0x04 && value[1] === 0x41 && value.length === 67) return value.subarray(2);
  throw new TokenError('the token returned an EC point that is not an uncompressed P-256 point');
}

function hex(buffer: Buffer): string {
  return buffer.toString('hex');
}

class TokenImpl implements Token {
  /** The session that holds the login for as long as the token is open. */
  private anchor: Buffer;

  constructor(
    private readonly pkcs11: pkcs11js.PKCS11,
    private readonly slot: Buffer,
    readonly label: string,
    pin: string,
  ) {
    this.anchor = pkcs11.C_OpenSession(slot, RW_SESSION);
    try {
      pkcs11.C_Login(this.anchor, pkcs11js.CKU_USER, pin);
    } catch (error) {
      const code = pkcs11Code(error);
      if (code !== 'CKR_USER_ALREADY_LOGGED_IN') {
        pkcs11.C_CloseSession(this.anchor);
        const reason =
          code === 'CKR_PIN_INCORRECT' ? 'the PIN is wrong'
          : code === 'CKR_PIN_LOCKED' ? 'the PIN is locked'
          : code ?? 'login failed';
        throw new TokenError(`cannot log in to the PKCS#11 token "${label}": ${reason}`);
      }
    }
  }

  /** Runs `work` in a session of its own (one operation per session at a time). */
  private async inSession<T>(work: (session: Buffer) => T | Promise<T>): Promise<T> {
    const session = this.pkcs11.C_OpenSession(this.slot, RW_SESSION);
    try {
      return await work(session);
    } finally {
      this.pkcs11.C_CloseSession(session);
    }
  }

  private inSessionSync<T>(work: (session: Buffer) => T): T {
    const session = this.pkcs11.C_OpenSession(this.slot, RW_SESSION);
    try {
      return work(session);
    } finally {
      this.pkcs11.C_CloseSession(session);
    }
  }

  private findKey(session: Buffer, handle: TokenKeyHandle, objectClass: number): Buffer {
    this.pkcs11.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: objectClass },
      { type: pkcs11js.CKA_ID, value: Buffer.from(handle.id, 'hex') },
    ]);
    try {
      const found = this.pkcs11.C_FindObjects(session, 2);
      if (found.length === 0) {
        throw new TokenError(`the PKCS#11 token "${this.label}" has no key "${handle.label}" (id ${handle.id}): was it removed or the token re-initialized?`);
      }
      if (found.length > 1) throw new TokenError(`the PKCS#11 token "${this.label}" holds several keys with id ${handle.id}`);
      return found[0]!;
    } finally {
      this.pkcs11.C_FindObjectsFinal(session);
    }
  }

  private readPublicKey(session: Buffer, object: Buffer): TokenKeyInfo {
    const [keyType] = this.pkcs11.C_GetAttributeValue(session, object, [{ type: pkcs11js.CKA_KEY_TYPE }]);
    // A CK_ULONG in the platform's byte order and size (8 bytes on 64-bit Linux).
    const raw = keyType!.value;
    const type = raw.length === 8 ? Number(raw.readBigUInt64LE()) : raw.readUInt32LE();
    if (type === pkcs11js.CKK_RSA) {
      const [modulus, exponent] = this.pkcs11.C_GetAttributeValue(session, object, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]);
      const publicKey = createPublicKey({ key: { kty: 'RSA', n: modulus!.value.toString('base64url'), e: exponent!.value.toString('base64url') }, format: 'jwk' });
      return { keyType: 'rsa', publicKey };
    }
    if (type === pkcs11js.CKK_EC) {
      const [params, point] = this.pkcs11.C_GetAttributeValue(session, object, [{ type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }]);
      if (!params!.value.equals(P256_OID_DER)) throw new TokenError('the token key is on a curve other than P-256');
      const xy = unwrapEcPoint(point!.value);
      const publicKey = createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: xy.subarray(1, 33).toString('base64url'), y: xy.subarray(33).toString('base64url') },
        format: 'jwk',
      });
      return { keyType: 'ec', publicKey };
    }
    throw new TokenError(`the token key has an unsupported type (CKK ${type}); RSA or ECDSA P-256 expected`);
  }

  async generateKeyPair(algorithm: TokenKeyAlgorithm, label: string) {
    const handle: TokenKeyHandle = { id: hex(randomBytes(16)), label };
    const common = [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_ID, value: Buffer.from(handle.id, 'hex') },
      { type: pkcs11js.CKA_LABEL, value: label },
    ];
    const publicTemplate = [...common, { type: pkcs11js.CKA_PRIVATE, value: false }, { type: pkcs11js.CKA_VERIFY, value: true }];
    // Sensitive and never extractable: the token refuses to reveal or wrap the private value.
    const privateTemplate = [
      ...common,
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_SIGN, value: true },
      { type: pkcs11js.CKA_DECRYPT, value: false },
      { type: pkcs11js.CKA_UNWRAP, value: false },
      { type: pkcs11js.CKA_DERIVE, value: false },
    ];
    let mechanism: number;
    if (algorithm === 'ECDSA-P256') {
      mechanism = pkcs11js.CKM_EC_KEY_PAIR_GEN;
      publicTemplate.push({ type: pkcs11js.CKA_EC_PARAMS, value: P256_OID_DER } as never);
    } else if (algorithm === 'RSA-2048' || algorithm === 'RSA-3072') {
      mechanism = pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN;
      publicTemplate.push(
        { type: pkcs11js.CKA_MODULUS_BITS, value: Number(algorithm.slice(4)) } as never,
        { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) } as never,
      );
    } else {
      throw new TokenError(`unsupported key algorithm: ${String(algorithm)}`);
    }
    return this.inSession(async (session) => {
      const pair = await this.pkcs11.C_GenerateKeyPairAsync(session, { mechanism }, publicTemplate, privateTemplate);
      return { handle, ...this.readPublicKey(session, pair.publicKey) };
    });
  }

  describeKey(handle: TokenKeyHandle): TokenKeyInfo {
    return this.inSessionSync((session) => {
      this.findKey(session, handle, pkcs11js.CKO_PRIVATE_KEY);
      return this.readPublicKey(session, this.findKey(session, handle, pkcs11js.CKO_PUBLIC_KEY));
    });
  }

  async signDigest(handle: TokenKeyHandle, keyType: 'rsa' | 'ec', digest: Buffer): Promise<Buffer> {
    if (digest.length !== 32) throw new TokenError('the token signs SHA-256 digests (32 bytes)');
    return this.inSession(async (session) => {
      const key = this.findKey(session, handle, pkcs11js.CKO_PRIVATE_KEY);
      if (keyType === 'ec') {
        this.pkcs11.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, key);
        return ecdsaRawToDer(await this.pkcs11.C_SignAsync(session, digest, Buffer.alloc(132)));
      }
      this.pkcs11.C_SignInit(session, { mechanism: pkcs11js.CKM_RSA_PKCS }, key);
      return this.pkcs11.C_SignAsync(session, Buffer.concat([SHA256_DIGEST_INFO, digest]), Buffer.alloc(1024));
    });
  }

  destroyKey(handle: TokenKeyHandle): void {
    this.inSessionSync((session) => {
      for (const objectClass of [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY]) {
        try {
          this.pkcs11.C_DestroyObject(session, this.findKey(session, handle, objectClass));
        } catch (error) {
          if (!(error instanceof TokenError)) throw error; // already gone
        }
      }
    });
  }

  uri(handle: TokenKeyHandle): string {
    const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*;]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const id = (handle.id.match(/../g) ?? []).map((pair) => `%${pair}`).join('');
    return `pkcs11:token=${encode(this.label)};id=${id};object=${encode(handle.label)};type=private`;
  }
}

function tokenKey(config: Pkcs11Config): string {
  return `${config.modulePath}\u0000${config.tokenLabel}`;
}

async function connect(config: Pkcs11Config): Promise<TokenImpl> {
  const pkcs11 = loadModule(config.modulePath, config.environment);
  const slot = findSlot(pkcs11, config.tokenLabel);
  if (!slot) throw new TokenError(`the PKCS#11 module ${config.modulePath} has no token labelled "${config.tokenLabel}"`);
  return new TokenImpl(pkcs11, slot, config.tokenLabel, config.pin);
}

/**
 * The configured token, opened once per process. A failure is not kept, except a refused PIN:
 * trying a wrong PIN again would lock a real token.
 */
function openToken(config: Pkcs11Config): Promise<Token> {
  const key = tokenKey(config);
  let opening = tokens.get(key);
  if (!opening) {
    opening = connect(config);
    tokens.set(key, opening);
    opening.catch((error: unknown) => {
      if (!(error instanceof TokenError && /PIN/.test(error.message))) tokens.delete(key);
    });
  }
  return opening;
}

/**
 * Runs `work` on the token; when the token was reset under us (sessions gone, logged out), opens
 * it afresh and tries once more.
 */
export async function withToken<T>(config: Pkcs11Config, work: (token: Token) => T | Promise<T>): Promise<T> {
  try {
    return await work(await openToken(config));
  } catch (error) {
    if (!STALE.has(pkcs11Code(error) ?? '')) throw error;
    tokens.delete(tokenKey(config));
    return work(await openToken(config));
  }
}

/** Whether the module has a token with this label (without logging in). */
export function hasToken(modulePath: string, environment: Record<string, string>, tokenLabel: string): boolean {
  return findSlot(loadModule(modulePath, environment), tokenLabel) !== null;
}

/** Initializes a free slot's token with a label, an SO PIN and a user PIN (Signet's embedded SoftHSM2 token). */
export function initializeToken(modulePath: string, environment: Record<string, string>, tokenLabel: string, pins: { so: string; user: string }): void {
  const pkcs11 = loadModule(modulePath, environment);
  const free = pkcs11.C_GetSlotList(true).find((slot) => !(pkcs11.C_GetTokenInfo(slot).flags & pkcs11js.CKF_TOKEN_INITIALIZED));
  if (!free) throw new TokenError(`the PKCS#11 module ${modulePath} has no free slot to initialize a token in`);
  pkcs11.C_InitToken(free, pins.so, tokenLabel.padEnd(32, ' '));
  // SoftHSM2 moves the new token to a slot of its own: look it up by label.
  const slot = findSlot(pkcs11, tokenLabel);
  if (!slot) throw new TokenError(`the token "${tokenLabel}" did not appear after initialization`);
  const session = pkcs11.C_OpenSession(slot, RW_SESSION);
  try {
    pkcs11.C_Login(session, pkcs11js.CKU_SO, pins.so);
    pkcs11.C_InitPIN(session, pins.user);
    pkcs11.C_Logout(session);
  } finally {
    pkcs11.C_CloseSession(session);
  }
}
