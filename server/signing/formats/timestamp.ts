// RFC 3161 timestamps: a TimeStampReq over SHA-256 of a signature value, POSTed to the TSA; the
// token in its answer is checked (granted, our imprint, our nonce) and returned for the signer's
// unsigned attributes. How the request travels is the caller's: a per-policy TSA URL goes through the
// outbound client, like webhooks and JWKS; the installation's own TSA is trusted (timestampPlan).
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { createHash, randomBytes } from 'node:crypto';
import { OutboundError, type OutboundRequest, type OutboundResponse } from '../../net/outbound.js';
import { OID, parseDer } from './signedData.js';

export interface TimestampSource {
  url: string;
  timeoutMs: number;
  /** Sends the request: throws OutboundError (a neutral message) when it is refused or fails. */
  send(url: string, init: OutboundRequest): Promise<OutboundResponse>;
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
  let response: OutboundResponse;
  try {
    response = await source.send(source.url, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
      body: new Uint8Array(request.toSchema().toBER(false)),
      timeoutMs: source.timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
    });
  } catch (error) {
    if (error instanceof OutboundError) throw unavailable(error.message);
    throw error;
  }
  if (response.status < 200 || response.status > 299) throw unavailable(`HTTP ${response.status}`);
  const body = response.body;

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
