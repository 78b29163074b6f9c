// A program's command line for logs: the argument array joined for display, with
// anything that looks like a secret replaced (ffmpeg never gets credentials, but a
// log line must not leak one if a future argument carried it).

const HIDDEN = '***';

const SECRET_PATTERNS: [RegExp, string][] = [
  // user:password@ (or token@) in URLs
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]+@/gi, `$1${HIDDEN}@`],
  // NAME=value for avspl1t's and AWS's variables
  [/\b((?:AVSPL1T|AWS)_[A-Z0-9_]*=)[^\s&]*/gi, `$1${HIDDEN}`],
  // presigned-URL and credential query parameters
  [
    /([?&](?:X-Amz-(?:Credential|Signature|Security-Token)|AWSAccessKeyId|Signature|token|access_token)=)[^&\s]*/gi,
    `$1${HIDDEN}`,
  ],
  // AWS access key ids
  [/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, HIDDEN],
];

/** One argument with secret-looking parts replaced by `***`. */
export function redactArg(arg: string): string {
  return SECRET_PATTERNS.reduce((s, [re, to]) => s.replace(re, to), arg);
}

/** Quotes an argument the way a POSIX shell would read it back (for display only: nothing runs it). */
function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `program args...` for a log line, secrets redacted. */
export function displayCommand(program: string, args: readonly string[]): string {
  return [program, ...args].map((a) => quote(redactArg(a))).join(' ');
}
