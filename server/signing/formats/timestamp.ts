// RFC 3161 timestamps: a TimeStampReq over SHA-256 of a signature value, POSTed to the TSA; the
// token in its answer is checked (granted, our imprint, our nonce) and returned for the signer's
// unsigned attributes. A per-policy TSA URL passes the outbound checks first, like webhooks and JWKS.
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { createHash, randomBytes } from 'node:crypto';
import { assertOutboundAllowed } from '../../net/outbound.js';
import { OID, parseDer } from './signedData.js';

export interface TimestampSource {
  url: string;
  timeoutMs: number;
  /** A URL a tenant chose (a policy's) is checked like any outbound request; the installation's is trusted. */
  checkOutbound: { allowLoopback: boolean } | null;
}

export interface Timestamped {
  token: Buffer;
  time: string;
}

/** The TSA could not give a timestamp: the message says why, for the request's failure reason. */
export class TimestampUnavailable extends Error {}

const MAX_RESPONSE_BYTES = 256 * 1024;
const STATUS_TEXT: Record<number, string> = { 2: 'rejection', 3: 'waiting', 4: 'revocation warning', 5: 'revocation notification' };

export async function requestTimestamp(source: TimestampSource, signatureValue: Buffer): Promise<Timestamped> {
  const host = new URL(source.url).host;
  const unavailable = (why: string) => new TimestampUnavailable(`the time-stamping authority ${host} did not answer: ${why}`);
  if (source.checkOutbound) {
    await assertOutboundAllowed(source.url, source.checkOutbound).catch((error: Error) => {
      throw new TimestampUnavailable(`the time-stamping authority is not reachable from Signet: ${error.message}`);
    });
  }
  const imprint = createHash('sha256').update(signatureValue).digest();
  const nonce = randomBytes(8);
  nonce[0] = (nonce[0]! & 0x7f) | 0x01; // positive, and minimally encoded as given
  const request = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new asn1js.Null() }),
      hashedMessage: new asn1js.OctetString({ valueHex: new Uint8Array(imprint) }),
    }),
    nonce: new asn1js.Integer({ valueHex: new Uint8Array(nonce) }),
    certReq: true,
  });
  // Credentials in the URL (an installation's TSA may need them) travel as Basic authorization,
  // and the URL fetched (which error messages may show) carries none.
  const target = new URL(source.url);
  const headers: Record<string, string> = { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' };
  if (target.username || target.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  let response: Response;
  try {
    response = await fetch(target, {
      method: 'POST',
      headers,
      body: new Uint8Array(request.toSchema().toBER(false)),
      // A redirect could lead past the outbound checks.
      redirect: 'error',
      signal: AbortSignal.timeout(source.timeoutMs),
    });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    throw unavailable((error as Error).name === 'TimeoutError' ? `no answer within ${source.timeoutMs} ms` : (cause?.message ?? (error as Error).message));
  }
  if (!response.ok) throw unavailable(`HTTP ${response.status}`);
  const body = Buffer.from(await response.arrayBuffer());
  if (body.length > MAX_RESPONSE_BYTES) throw unavailable('the answer is too large');

  let token: pkijs.ContentInfo;
  let info: pkijs.TSTInfo;
  try {
    const answer = new pkijs.TimeStampResp({ schema: parseDer(body, 'the answer') });
    const status = answer.status.status;
    if (status !== 0 && status !== 1) {
      const text = answer.status.statusStrings?.map((s) => s.valueBlock.value).join('; ');
      throw new Error(`it refused (${STATUS_TEXT[status] ?? `status ${status}`}${text ? `: ${text}` : ''})`);
    }
    if (!answer.timeStampToken) throw new Error('the answer carries no token');
    token = answer.timeStampToken;
    const signed = new pkijs.SignedData({ schema: token.content });
    const content = signed.encapContentInfo.eContent;
    if (!content) throw new Error('the token has no content');
    info = new pkijs.TSTInfo({ schema: parseDer(new Uint8Array(content.getValue()), 'the token content') });
  } catch (error) {
    throw unavailable((error as Error).message);
  }
  const imprinted = Buffer.from(info.messageImprint.hashedMessage.valueBlock.valueHexView);
  if (!imprinted.equals(imprint)) throw unavailable('the token is for another signature');
  if (!info.nonce || !Buffer.from(info.nonce.valueBlock.valueHexView).equals(nonce)) throw unavailable('the token does not carry our nonce');
  return { token: Buffer.from(token.toSchema().toBER(false)), time: info.genTime.toISOString() };
}
