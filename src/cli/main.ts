// The avspl1t command line. Errors print one line (`error: ...`) and exit
// non-zero; never a stack trace.
import { Command } from 'commander';
import { AppError, ErrorKind } from '../errors.js';
import { registerEncode } from './commands/encode.js';
import { registerJobCommands } from './commands/jobs.js';
import { registerServers } from './commands/servers.js';
import { oneLine } from './format.js';

const program = new Command();
program
  .name('avspl1t')
  .description('Distributed AV1 encoder: one video, many machines, one AV1 HLS stream')
  .showHelpAfterError();

registerEncode(program);
registerServers(program);
registerJobCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = AppError.from(err);
  process.stderr.write(`error: ${oneLine(e.message)}\n`);
  process.exitCode = e.kind === ErrorKind.Internal ? 70 : e.kind === ErrorKind.Cancelled ? 130 : 1;
}
