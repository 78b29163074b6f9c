// Structured logs (pino) on stderr, one JSON line per event. Callers pass ids
// (job, task, worker) as fields; Files are logged with describe(), never raw,
// so credentials never reach a log line.
import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** A logger writing synchronously to stderr (nothing is lost when the process exits). */
export function createLogger(level: LogLevel = 'info', name?: string): Logger {
  return pino(
    {
      level,
      base: name ? { name } : {},
      // Belt and braces: should a message ever carry credentials, blank them.
      redact: {
        paths: ['*.secretAccessKey', '*.sessionToken', '*.secret_access_key', '*.session_token'],
        censor: '***',
      },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
