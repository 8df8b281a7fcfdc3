// The exit codes of `signet sign`, one table for the code, --help and the README.

export const EXIT = {
  completed: 0,
  refused: 1,
  usage: 2,
  auth: 3,
  denied: 4,
  canceled: 5,
  failed: 6,
  timeout: 7,
  unavailable: 8,
} as const;

export const EXIT_MEANINGS: ReadonlyArray<[code: number, meaning: string]> = [
  [EXIT.completed, 'Completed: the signed file is written'],
  [EXIT.refused, 'refused: the server turned the submission down (no such project or policy, a file\n     the artifact configuration does not take, …), or an unexpected error'],
  [EXIT.usage, 'usage: a missing or bad option, no such file'],
  [EXIT.auth, 'authentication: SIGNET_TOKEN unset, unknown, expired or revoked, or not allowed\n     to submit to the policy or to read the request'],
  [EXIT.denied, 'Denied by an approver'],
  [EXIT.canceled, 'Canceled by the submitter or an administrator, or expired while waiting'],
  [EXIT.failed, 'Failed: signing failed (e.g. a disabled or expired certificate)'],
  [EXIT.timeout, '--timeout passed first; the request goes on, and a re-run with the same\n     idempotency key follows it again'],
  [EXIT.unavailable, 'the server could not be reached to submit or download'],
];

/** Ends the run with an exit code and a message for stderr. */
export class SignExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}
