// The avspl1t command line. Errors print one line (`error: ...`) and exit
// non-zero; never a stack trace.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { AppError, ErrorKind } from '../errors.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { registerEncode } from './commands/encode.js';
import { registerJobCommands } from './commands/jobs.js';
import { registerServers } from './commands/servers.js';
import { registerWorkers } from './commands/workers.js';
import { oneLine } from './format.js';

const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

const program = new Command();
program
  .name('avspl1t')
  .description('Distributed AV1 encoder: one video, many machines, one AV1 HLS stream')
  .version(
    `avspl1t ${pkg.version} (Node.js ${process.version})`,
    '-V, --version',
    'print the avspl1t and Node.js versions',
  )
  .showHelpAfterError();

registerEncode(program);
registerServers(program);
registerJobCommands(program);
registerWorkers(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = AppError.from(err);
  process.stderr.write(`error: ${oneLine(e.message)}\n`);
  process.exitCode = e.kind === ErrorKind.Internal ? 70 : e.kind === ErrorKind.Cancelled ? 130 : 1;
}
