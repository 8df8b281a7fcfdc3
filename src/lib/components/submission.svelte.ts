// A form's round trip to the server: busy while a command runs (so its button says so and cannot be
// pressed twice), and the server's refusal afterwards, for <ErrorNotice>, <FieldIssue> and fieldAria.
import { ProtocolError, asProtocolError } from '$lib/protocol';

export class Submission<Step extends string = 'submit'> {
  /** What runs now, for a form with several buttons (null: nothing). */
  running = $state<Step | null>(null);
  /** Why the last run was refused (null: it was not, or a new one started). */
  error = $state<ProtocolError | null>(null);

  get busy(): boolean {
    return this.running !== null;
  }

  /** Runs `action`, clearing the last refusal first; resolves true when it succeeded. */
  async run(action: () => Promise<unknown>, step = 'submit' as Step): Promise<boolean> {
    this.running = step;
    this.error = null;
    try {
      await action();
      return true;
    } catch (failure) {
      this.error = asProtocolError(failure);
      return false;
    } finally {
      this.running = null;
    }
  }

  /** A form's submit handler: keeps the browser from loading a page, then runs `action`. */
  onsubmit(action: () => Promise<unknown>): (event: SubmitEvent) => Promise<boolean> {
    return (event) => {
      event.preventDefault();
      return this.run(action);
    };
  }
}

/**
 * Actions on the rows of a list (revoke, remove, disable): which row's runs now, and the last
 * refusal with the row it was about (a row is named by its id, or by what the user knows it as).
 */
export class RowActions {
  readonly #submission = new Submission<string>();
  /** The row the last action was on. */
  #row = $state<string | null>(null);

  /** The row whose action runs now (null: none). */
  get running(): string | null {
    return this.#submission.running;
  }

  /** The last refusal as one line that names the row. */
  get failure(): string | null {
    const error = this.#submission.error;
    return error && `${this.#row}: ${error.message}`;
  }

  /** The refusal of `row`'s last action (null: none). */
  errorFor(row: string): ProtocolError | null {
    return this.#row === row ? this.#submission.error : null;
  }

  /** Runs `action` on `row`; resolves true when it succeeded. */
  run(row: string, action: () => Promise<unknown>): Promise<boolean> {
    this.#row = row;
    return this.#submission.run(action, row);
  }
}
