// The lean gRPC path's own parsing: grpc-timeout headers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTimeout } from '../../src/rpc/grpc-unary.js';

test('grpc-timeout values are read in every unit; absent or malformed ones mean no deadline', () => {
  assert.equal(parseTimeout('15000m'), 15_000);
  assert.equal(parseTimeout('2S'), 2000);
  assert.equal(parseTimeout('1M'), 60_000);
  assert.equal(parseTimeout('1H'), 3_600_000);
  assert.equal(parseTimeout('500000u'), 500);
  assert.equal(parseTimeout('1000000n'), 1);
  assert.equal(parseTimeout(undefined), undefined);
  assert.equal(parseTimeout('12'), undefined);
  assert.equal(parseTimeout('123456789m'), undefined, 'at most 8 digits');
  assert.equal(parseTimeout(['1S', '2S']), undefined);
});
