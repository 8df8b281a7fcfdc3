// Which TSA a signature is timestamped by (the policy's, else the installation's), and what happens
// when it does not answer: the request fails with that reason, unless the policy allows signing
// without a timestamp; then the signature is made without one and the request says so.
import type { Config } from '../../config.js';
import type { Signet } from '../../signet.js';
import type { SignatureTimestamp } from '../../../src/lib/shared/entities.js';
import type { PolicyRecord } from '../../store/records.js';
import { OutboundError, type OutboundRequest, type OutboundResponse } from '../../net/outbound.js';
import { requestTimestamp, TimestampUnavailable } from './timestamp.js';

export interface TimestampResult {
  timestamp: SignatureTimestamp | null;
  noTimestampReason: string | null;
}

export interface TimestampPlan {
  /** In-process signing: the token over this signature value, or null (the result says why). */
  obtain(signatureValue: Buffer, result: TimestampResult): Promise<Buffer | null>;
  /** For a tool that contacts the TSA itself: the URL, once it passed the outbound checks, or null. */
  prepare(result: TimestampResult): Promise<string | null>;
  /** The TSA gave nothing: throws TimestampUnavailable, or records the mark where the policy allows. */
  unavailable(reason: string, result: TimestampResult): void;
  /** The URL as records show it (no credentials). */
  shown(url: string): string;
}

const NO_TSA = 'no time-stamping authority is configured';

/** The TSA's URL as requests and audit entries show it: without credentials the installation's URL may carry. */
function shownUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
}

/**
 * The installation's own TSA (SIGNET_TSA_URL, set by the operator) is trusted like the rest of the
 * configuration: reached wherever it is, with the credentials its URL may carry sent as Basic
 * authorization (the URL fetched, which error messages may show, carries none). Redirects are not
 * followed.
 */
async function sendToInstallationTsa(url: string, init: OutboundRequest): Promise<OutboundResponse> {
  const target = new URL(url);
  const headers: Record<string, string> = { ...init.headers };
  if (target.username || target.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  try {
    const response = await fetch(target, {
      method: init.method,
      headers,
      body: init.body as BodyInit | undefined,
      redirect: 'error',
      signal: AbortSignal.timeout(init.timeoutMs ?? 15_000),
    });
    const body = Buffer.from(await response.arrayBuffer());
    if (init.maxResponseBytes !== undefined && body.length > init.maxResponseBytes) throw new InstallationTsaError('the answer is too large');
    return { status: response.status, body };
  } catch (error) {
    if (error instanceof OutboundError) throw error;
    const cause = (error as Error & { cause?: Error }).cause;
    throw new InstallationTsaError((error as Error).name === 'TimeoutError' ? `no answer within ${init.timeoutMs} ms` : (cause?.message ?? (error as Error).message));
  }
}

/** A failure of the installation's own TSA: the operator's service, so its cause is worth showing. */
class InstallationTsaError extends OutboundError {
  constructor(detail: string) {
    super(detail);
    this.message = detail;
  }
}

export function timestampPlan(signet: Pick<Signet, 'outbound'> & { config: Pick<Config, 'SIGNET_TSA_URL' | 'SIGNET_TSA_TIMEOUT_MS'> }, policy: Pick<PolicyRecord, 'slug' | 'tsaUrl' | 'allowWithoutTimestamp'>): TimestampPlan {
  const { config } = signet;
  const url = policy.tsaUrl ?? config.SIGNET_TSA_URL ?? null;
  // A URL a tenant chose (the policy's) goes through the outbound client like webhooks and JWKS:
  // checked on the address connected to, with one neutral message for every failure.
  const fromPolicy = Boolean(policy.tsaUrl);
  const send = fromPolicy
    ? (target: string, init: OutboundRequest) => signet.outbound.request(target, init)
    : sendToInstallationTsa;
  const plan: TimestampPlan = {
    shown: shownUrl,
    unavailable(reason, result) {
      if (!policy.allowWithoutTimestamp) throw new TimestampUnavailable(reason);
      result.noTimestampReason = `${reason}; signed without a timestamp, as signing policy ${policy.slug} allows`;
    },
    async obtain(signatureValue, result) {
      if (!url) {
        result.noTimestampReason = NO_TSA;
        return null;
      }
      try {
        const stamped = await requestTimestamp({ url, timeoutMs: config.SIGNET_TSA_TIMEOUT_MS, send }, signatureValue);
        result.timestamp = { time: stamped.time, tsaUrl: shownUrl(url) };
        return stamped.token;
      } catch (error) {
        if (!(error instanceof TimestampUnavailable)) throw error;
        plan.unavailable(error.message, result);
        return null;
      }
    },
    async prepare(result) {
      if (!url) {
        result.noTimestampReason = NO_TSA;
        return null;
      }
      // osslsigncode contacts the TSA itself (token keys), so no connect-time hook applies there:
      // a policy's URL is checked on what its name resolves to now (SECURITY.md says what is left).
      if (fromPolicy) {
        const refused = await signet.outbound.checkUrl(url).then(() => null, (error: Error) => error.message);
        if (refused) {
          plan.unavailable(`the time-stamping authority is not reachable from Signet: ${refused}`, result);
          return null;
        }
      }
      return url;
    },
  };
  return plan;
}
