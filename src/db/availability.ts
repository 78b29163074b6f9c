// Tracks whether the database can be reached, so an outage is logged once when it
// starts and once when it ends (with how long it lasted), however many requests
// and pooled connections fail in between.
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';

/** Outage bookkeeping for one store. */
export class Availability {
  private downSince: number | undefined;
  private failures = 0;

  constructor(
    private readonly log: Logger | undefined,
    /** The database location, without passwords. */
    private readonly display: string,
  ) {}

  /** Whether the last contact with the database failed. */
  get down(): boolean {
    return this.downSince !== undefined;
  }

  /** How long the current outage has lasted (0 when the database is up). */
  downForMs(now = Date.now()): number {
    return this.downSince === undefined ? 0 : now - this.downSince;
  }

  /** Records a failure to reach the database; logs the start of an outage. */
  failed(err: unknown, now = Date.now()): void {
    this.failures++;
    if (this.downSince !== undefined) return;
    this.downSince = now;
    this.log?.warn(
      { event: 'database_unavailable', db: this.display, err: errorMessage(err) },
      'database unavailable; requests answer UNAVAILABLE until it is back',
    );
  }

  /** Records a successful round trip; logs the end of an outage. */
  succeeded(now = Date.now()): void {
    if (this.downSince === undefined) return;
    this.log?.info(
      {
        event: 'database_available',
        db: this.display,
        downMs: now - this.downSince,
        failures: this.failures,
      },
      'database available again',
    );
    this.downSince = undefined;
    this.failures = 0;
  }
}
