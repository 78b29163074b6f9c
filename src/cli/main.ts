// The avspl1t command line. Errors print one line (`error: ...`) and exit non-zero.
import { Command } from 'commander';
import { AppError, ErrorKind } from '../errors.js';
import { encodeLocal } from './encode-local.js';

const program = new Command();
program
  .name('avspl1t')
  .description('Distributed AV1 encoder: one video, many machines, one AV1 HLS stream')
  .showHelpAfterError();

program
  .command('encode')
  .description('encode a file to AV1 HLS on this machine (split → parallel encodes → manifest)')
  .argument('<input>', 'input video file')
  .argument('<output-dir>', 'folder for the playlists and segments')
  .option('--seconds-per-segment <s>', 'segment length in seconds', '2')
  .option('--crf <n>', 'quality (0-63, lower is better)', '30')
  .option('--preset <n>', 'encoder speed preset (svt 0-13, aom 0-8, rav1e 0-10)')
  .option('--encoder <name>', 'svt | aom | rav1e', 'svt')
  .option('--jobs <n>', 'segments encoded at once (default: number of cores)')
  .action(encodeLocal);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = AppError.from(err);
  process.stderr.write(`error: ${e.message}\n`);
  process.exitCode = e.kind === ErrorKind.Internal ? 70 : 1;
}
