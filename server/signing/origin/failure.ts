// Origin verification's one error type. Its message says exactly what failed, quoting what the
// token claimed (cut short), and never contains the token itself.
export type OriginFailureReason =
  | 'missing_token'
  | 'malformed_token'
  | 'algorithm_not_allowed'
  | 'unknown_issuer'
  | 'invalid_build_system'
  | 'jwks_unavailable'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'missing_claim'
  | 'invalid_claim'
  | 'project_repository_missing'
  | 'repository_mismatch'
  | 'branch_not_allowed'
  | 'verification_failed';

export class OriginVerificationError extends Error {
  override readonly name = 'OriginVerificationError';
  constructor(
    readonly reason: OriginFailureReason,
    message: string,
    /** For the server log only: what `message` deliberately leaves out (never the token). */
    readonly detail?: string,
  ) {
    super(message);
  }
}

export const fail = (reason: OriginFailureReason, message: string, detail?: string) => new OriginVerificationError(reason, message, detail);

/** Quotes an untrusted value for a message, cut short so a message stays a message. */
export function quote(value: unknown, max = 120): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

export const quoteList = (values: readonly string[]) => values.map((value) => quote(value)).join(', ');
