// Command lines for logs: arguments joined for display with secret-looking values replaced.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayCommand, redactArg } from '../../src/worker/command-line.js';

describe('command line for logs', () => {
  it('hides URL userinfo, avspl1t/AWS variables, signed-URL parameters and AWS key ids', () => {
    assert.equal(redactArg('https://user:pa55@host/x.mp4'), 'https://***@host/x.mp4');
    assert.equal(redactArg('AVSPL1T_WORKER_TOKEN=abc123'), 'AVSPL1T_WORKER_TOKEN=***');
    assert.equal(redactArg('aws_secret_access_key=zzz'), 'aws_secret_access_key=***');
    assert.equal(redactArg('AWS_SECRET_ACCESS_KEY=zzz'), 'AWS_SECRET_ACCESS_KEY=***');
    assert.equal(
      redactArg('http://s3/b/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2Fx&X-Amz-Signature=deadbeef&y=1'),
      'http://s3/b/k?X-Amz-Credential=***&X-Amz-Signature=***&y=1',
    );
    assert.equal(redactArg('key AKIAIOSFODNN7EXAMPLE here'), 'key *** here');
  });

  it('joins the arguments, quoting those a shell would split', () => {
    assert.equal(
      displayCommand('ffmpeg', ['-i', '/in/my clip.mp4', '-c:v', 'libsvtav1', "it's"]),
      `ffmpeg -i '/in/my clip.mp4' -c:v libsvtav1 'it'\\''s'`,
    );
  });
});
