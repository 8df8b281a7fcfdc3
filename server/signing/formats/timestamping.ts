// Which TSA a signature is timestamped by (the policy's, else the installation's), and what happens
// when it does not answer: the request fails with that reason, unless the policy allows signing
// without a timestamp; then the signature is made without one and the request says so.
import type { Config } from '../../config.js';
import type { SignatureTimestamp } from '../../../src/lib/shared/entities.js';
import type { PolicyRecord } from '../../store/records.js';
import { assertOutboundAllowed } from '../../net/outbound.js';
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

export const NO_TSA = 'no time-stamping authority is configured';

/** The TSA's URL as requests and audit entries show it: without credentials the installation's URL may carry. */
function shownUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
}

export function timestampPlan(config: Pick<Config, 'SIGNET_TSA_URL' | 'SIGNET_TSA_TIMEOUT_MS' | 'SIGNET_OUTBOUND_ALLOW_LOOPBACK'>, policy: Pick<PolicyRecord, 'slug' | 'tsaUrl' | 'allowWithoutTimestamp'>): TimestampPlan {
  const url = policy.tsaUrl ?? config.SIGNET_TSA_URL ?? null;
  const fromPolicy = Boolean(policy.tsaUrl);
  const checkOutbound = fromPolicy ? { allowLoopback: config.SIGNET_OUTBOUND_ALLOW_LOOPBACK } : null;
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
        const stamped = await requestTimestamp({ url, timeoutMs: config.SIGNET_TSA_TIMEOUT_MS, checkOutbound }, signatureValue);
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
      if (checkOutbound) {
        const refused = await assertOutboundAllowed(url, checkOutbound).then(() => null, (error: Error) => error.message);
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
