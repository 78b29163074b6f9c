// Property-based (fast-check): SubmitJob, and the calls that name a job, task or
// worker, with absurd field values (0, negatives, NaN/Infinity, 2^32-1, 2^53,
// huge strings, unicode, control characters, empty messages, wrong JSON types)
// against a real coordinator on a SQLite file: every call is answered, never with
// internal or unknown, and the coordinator still answers afterwards.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import fc from 'fast-check';
import { startTestCoordinator, type TestCoordinator } from '../coordinator/harness.js';

let t: TestCoordinator;
/** One confined to /data (as with --allowed-root): its checks run on what is submitted too. */
let confined: TestCoordinator;
before(async () => {
  t = await startTestCoordinator();
  confined = await startTestCoordinator({ allowedRoots: ['/data'] });
});
after(async () => {
  await t?.close();
  await confined?.close();
});

/** The Connect code of a call's error ('ok' when it succeeded). */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return 'ok';
  } catch (err) {
    return ConnectError.from(err).code === Code.Internal || ConnectError.from(err).code === Code.Unknown
      ? `${Code[ConnectError.from(err).code]}: ${ConnectError.from(err).rawMessage.slice(0, 200)}`
      : Code[ConnectError.from(err).code]!;
  }
}

const notInternal = (o: string) => !/^(Internal|Unknown)\b/.test(o);

// Strings: any code points (lone surrogates too), ASCII with controls, sharp cases, and huge ones.
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: 'binary-ascii', maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }).map((s) => `/data/${s}`),
  fc.constantFrom(
    '',
    '/',
    '/data/in.mp4',
    '../etc/passwd',
    '/data/\u001b]0;x\u0007\u001b[2J\n.mp4',
    '/data/\u0000',
    '\u202e',
    'http://KEY:SECRET@127.0.0.1:9000/',
    'file:///etc/passwd',
  ),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => `/${'x'.repeat(n)}`),
);
const uint32 = fc.oneof(
  fc.constantFrom(0, 1, 8, 13, 14, 63, 64, 4096, 4097, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1),
  fc.nat({ max: 2 ** 32 - 1 }),
);
const double = fc.oneof(
  fc.double(),
  fc.constantFrom(
    0,
    -0,
    -1,
    0.1,
    2,
    600,
    600.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -Infinity,
    2 ** 53,
    5e-324,
  ),
);
const credentials = fc.record(
  { accessKeyId: text, secretAccessKey: text, sessionToken: text, region: text, endpoint: text },
  { requiredKeys: [] },
);
const location = fc.oneof(
  fc.constant(undefined),
  fc.constant({}),
  text.map((path) => ({ location: { case: 'fs' as const, value: { path } } })),
  fc
    .record({ bucket: text, path: text, credentials: fc.option(credentials, { nil: undefined }) })
    .map((value) => ({ location: { case: 's3' as const, value } })),
);
const fs = (path: string) => ({ location: { case: 'fs' as const, value: { path } } });
const VALID = {
  input: fs('/data/in.mp4'),
  working: fs('/data/work'),
  output: fs('/data/out'),
  secondsPerSegment: 2,
  settings: { encoder: 'svt', crf: 30, preset: 8 },
  parallelism: 0,
};
const fields = fc.record(
  {
    input: location,
    working: location,
    output: location,
    secondsPerSegment: double,
    settings: fc.option(
      fc.record(
        { encoder: fc.oneof(text, fc.constantFrom('svt', 'aom', 'rav1e')), crf: uint32, preset: uint32 },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
    parallelism: uint32,
  },
  { requiredKeys: [] },
);
// One field of a valid job made absurd: the value alone decides the answer.
const oneField = fc.oneof(
  location.map((input) => ({ input })),
  location.map((working) => ({ working })),
  location.map((output) => ({ output })),
  double.map((secondsPerSegment) => ({ secondsPerSegment })),
  uint32.map((parallelism) => ({ parallelism })),
  uint32.map((crf) => ({ settings: { ...VALID.settings, crf } })),
  uint32.map((preset) => ({ settings: { ...VALID.settings, preset } })),
  text.map((encoder) => ({ settings: { ...VALID.settings, encoder } })),
);
// Absurd jobs, valid jobs with one field made absurd (some are accepted), and no job at all.
const job = fc.oneof(
  fields,
  oneField.map((f) => ({ ...VALID, ...f })),
  fc.constant(undefined),
);

it('SubmitJob over gRPC with absurd fields is accepted or refused, never internal', async () => {
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(job, async (j) => {
      const o = await outcome(() => t.client.submitJob({ job: j as never }));
      seen.set(o, (seen.get(o) ?? 0) + 1);
      assert.ok(notInternal(o), o);
    }),
    { numRuns: 200 },
  );
  // Both answers happen: the generator reaches valid jobs and invalid ones.
  assert.ok(seen.has('ok') && seen.has('InvalidArgument'), JSON.stringify([...seen]));
});

it('SubmitJob with absurd fields to a coordinator with allowed roots is never internal', async () => {
  await fc.assert(
    fc.asyncProperty(job, async (j) => {
      const o = await outcome(() => confined.client.submitJob({ job: j as never }));
      assert.ok(notInternal(o), o);
    }),
    { numRuns: 100 },
  );
});

it('calls naming a job, task, lease or worker with absurd ids are never internal', async () => {
  await fc.assert(
    fc.asyncProperty(text, text, text, double, async (a, b, c, progress) => {
      for (const call of [
        () => t.client.getJob({ jobId: a }),
        () => t.client.cancelJob({ jobId: a }),
        () => t.client.getTask({ workerId: a, waitMs: 0 }),
        () => t.client.heartbeat({ workerId: a, taskId: b, lease: c, progress }),
        () =>
          t.client.finishTask({
            workerId: a,
            taskId: b,
            lease: c,
            result: { case: 'failure', value: { reason: c, transient: true } },
          }),
      ]) {
        const o = await outcome(call);
        assert.ok(notInternal(o), o);
      }
    }),
    { numRuns: 50 },
  );
});

// Connect JSON lets a client send what protobuf's binary form cannot: numbers out
// of their type's range, NaN as a string, wrong types, unknown fields.
const wild = fc.oneof(
  text,
  fc.constantFrom(
    'NaN',
    'Infinity',
    '-Infinity',
    '-1',
    '4294967296',
    '1e400',
    '9007199254740993',
    '1.5',
    '0x10',
    ' 5',
  ),
  fc.constantFrom(-1, 4294967296, 2 ** 53, 1.5, -0, 1e300),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
);
const jsonLocation = fc.oneof(
  wild,
  fc.record({ fs: fc.record({ path: fc.oneof(text, wild) }, { requiredKeys: [] }) }),
  fc.record({
    s3: fc.record(
      {
        bucket: wild,
        path: wild,
        credentials: fc.dictionary(fc.constantFrom('accessKeyId', 'endpoint', 'region'), wild),
      },
      { requiredKeys: [] },
    ),
  }),
);
const jsonJob = fc.record(
  {
    input: jsonLocation,
    working: jsonLocation,
    output: jsonLocation,
    secondsPerSegment: wild,
    settings: fc.oneof(wild, fc.record({ encoder: wild, crf: wild, preset: wild }, { requiredKeys: [] })),
    parallelism: wild,
  },
  { requiredKeys: [] },
);

it('SubmitJob as Connect JSON with out-of-range numbers and wrong types is never internal', async () => {
  const url = `http://${t.address}/avspl1t.v1.CoordinatorService/SubmitJob`;
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.record({ job: jsonJob }), wild), async (body) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = (await res.json()) as { code?: string; message?: string; jobId?: string };
      const o = res.ok ? 'ok' : `${answer.code}: ${answer.message?.slice(0, 200)}`;
      assert.ok(res.status < 500 && !/^(internal|unknown)\b/.test(o), `${res.status} ${o}`);
    }),
    { numRuns: 200 },
  );
});

it('the coordinator still answers afterwards', async () => {
  const { jobId } = await t.client.submitJob({
    job: {
      input: { location: { case: 'fs', value: { path: '/data/in.mp4' } } },
      working: { location: { case: 'fs', value: { path: '/data/work' } } },
      // A folder no generated job can have taken (an output has one owner).
      output: { location: { case: 'fs', value: { path: '/data/after-the-properties/out' } } },
      secondsPerSegment: 2,
    },
  });
  assert.equal((await t.client.getJob({ jobId })).job?.id, jobId);
  const { jobs } = await t.client.listJobs({ limit: 1000 });
  assert.ok(jobs.some((j) => j.id === jobId));
});
