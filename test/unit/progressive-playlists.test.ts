// The pure parts of progressive playlists: EVENT media and I-frame playlist text
// (no EXT-X-ENDLIST, start at the beginning), and percent_complete counting
// only the final manifest as work left (a progressive one neither adds nor holds back).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { percentComplete } from '../../src/coordinator/index.js';
import { isProgressiveJob } from '../../src/coordinator/manifest-tasks.js';
import { EncodeJobSchema } from '../../src/gen/avspl1t/v1/coordinator_pb.js';
import { iFramePlaylist, mediaPlaylist } from '../../src/media/hls.js';
import { sampleJob } from '../fixtures/messages.js';

describe('progressive playlists', () => {
  test('an EVENT media playlist lists the segments so far, starts players at 0 and has no ENDLIST', () => {
    const entries = [
      { uri: 'seg-0.m4s', duration: 1 },
      { uri: 'seg-1.m4s', duration: 1 },
    ];
    const event = mediaPlaylist('init.mp4', entries, 1, 'EVENT').split('\n');
    assert.ok(event.includes('#EXT-X-PLAYLIST-TYPE:EVENT'));
    assert.ok(event.includes('#EXT-X-START:TIME-OFFSET=0'));
    assert.ok(!event.includes('#EXT-X-ENDLIST'));
    assert.ok(!event.includes('#EXT-X-PLAYLIST-TYPE:VOD'));
    assert.deepEqual(
      event.filter((l) => l.endsWith('.m4s')),
      ['seg-0.m4s', 'seg-1.m4s'],
    );
    const vod = mediaPlaylist('init.mp4', entries, 1).split('\n');
    assert.ok(vod.includes('#EXT-X-PLAYLIST-TYPE:VOD') && vod.includes('#EXT-X-ENDLIST'));
    assert.ok(!vod.some((l) => l.startsWith('#EXT-X-START')));
    const iFrames = iFramePlaylist('init.mp4', [{ ...entries[0]!, offset: 0, length: 10 }], 1, 'EVENT');
    assert.match(iFrames, /#EXT-X-PLAYLIST-TYPE:EVENT/);
    assert.doesNotMatch(iFrames, /#EXT-X-ENDLIST/);
  });

  test('percent_complete counts the final manifest only: a succeeded progressive one is not the job finishing', () => {
    const job = { state: 'running', segments_total: 2, has_audio: 0 };
    const t = (kind: string, state: string, idx = 0) => ({ kind, idx, state, progress: 0 });
    const base = [t('split', 'succeeded'), t('encode', 'succeeded', 0), t('encode', 'queued', 1)];
    const before = percentComplete(job, base);
    // A progressive manifest (idx 1: it published one segment) listed first, as its ord puts it.
    const after = percentComplete(job, [t('manifest', 'succeeded', 1), ...base]);
    assert.equal(after, before);
    const final = percentComplete(job, [t('manifest', 'succeeded', 1), ...base, t('manifest', 'running', 0)]);
    assert.equal(final, before);
  });
});

describe('isProgressiveJob', () => {
  test('reads EncodeJob.progressive from the stored details, whatever else they hold', () => {
    for (const overrides of [{}, { ladder: 'default' }, { parallelism: 4, mediaFolder: 'x' }])
      for (const progressive of [false, true]) {
        const details = toBinary(EncodeJobSchema, sampleJob('/data', { ...overrides, progressive }));
        assert.equal(isProgressiveJob({ details }), fromBinary(EncodeJobSchema, details).progressive);
        assert.equal(isProgressiveJob({ details }), progressive);
      }
  });
});
