// Structured logs (pino) on stderr: one JSON line per event, or (on a terminal,
// or asked) one readable line per event. Callers pass ids (job, task, worker)
// as fields; Files are logged with describe(), never raw, so credentials never
// reach a log line.
import { writeSync } from 'node:fs';
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type LogFormat = 'json' | 'pretty';

/** A logger writing synchronously to stderr (nothing is lost when the process exits). */
export function createLogger(
  level: LogLevel = 'info',
  name?: string,
  format: LogFormat = process.stderr.isTTY ? 'pretty' : 'json',
): Logger {
  return pino(
    {
      level,
      base: name ? { name } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      // Belt and braces: should a message ever carry credentials, blank them.
      redact: {
        paths: ['*.secretAccessKey', '*.sessionToken', '*.secret_access_key', '*.session_token'],
        censor: '***',
      },
    },
    format === 'pretty' ? prettyStderr() : pino.destination({ dest: 2, sync: true }),
  );
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** pino's JSON line as one line for people: `time LEVEL name: message key=value ...`. */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const { time, level, name, msg, ...fields } = entry;
  const head = `${String(time ?? '')} ${(LEVELS[Number(level)] ?? String(level)).padEnd(5)} ${name ? `${String(name)}: ` : ''}${String(msg ?? '')}`;
  const rest = Object.entries(fields).map(([k, v]) => {
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    return `${k}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  });
  return [head, ...rest].join(' ');
}

/** Readable lines on stderr; on a terminal each first clears the line (a progress bar) it lands on. */
function prettyStderr(): DestinationStream {
  const clear = process.stderr.isTTY ? '\r\x1b[K' : '';
  return { write: (line: string) => void writeSync(2, `${clear}${prettyLine(line)}\n`) };
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
