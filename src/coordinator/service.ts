// CoordinatorService over Connect: translates requests to Coordinator calls and
// AppErrors to gRPC status codes (the only place that mapping happens).
import { create, type DescMessage, type DescMethodUnary, toBinary } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import { AppError, ErrorKind } from '../errors.js';
import {
  CancelJobResponseSchema,
  CoordinatorService,
  type FinishTaskRequest,
  FinishTaskResponseSchema,
  GetJobResponseSchema,
  type GetTaskRequest,
  GetTaskResponseSchema,
  type HeartbeatRequest,
  HeartbeatResponseSchema,
  ListJobRunsResponseSchema,
  ListJobsResponseSchema,
  ListWorkersResponseSchema,
  SubmitJobResponseSchema,
  type TaskRun,
  WatchJobResponseSchema,
} from '../gen/avspl1t/v1/coordinator_pb.js';
import type { Logger } from '../log.js';
import { toConnectError } from '../rpc/errors.js';
import { EncodedMessage, type UnaryRoute, unaryRoute } from '../rpc/grpc-unary.js';
import { embedded } from './codec.js';
import { confineJob } from './confine.js';
import type { Coordinator } from './coordinator.js';
import { validateEncodeJob } from './validate.js';

export interface ServiceOptions {
  /** When set, submitted filesystem paths must lie inside these directories. */
  allowedRoots?: string[];
  /** The runs of a job's tasks (ListJobRuns); without it the call is an internal error. */
  jobRuns?: (jobId: string) => Promise<{ runs: TaskRun[]; nowMs: bigint }>;
}

type Boundary = <T>(method: string, fn: () => Promise<T>) => Promise<T>;

/** Runs a call, logging internal errors and turning every error into a ConnectError with its code. */
function boundaryFor(log: Logger): Boundary {
  return async (method, fn) => {
    try {
      return await fn();
    } catch (err) {
      const app = AppError.from(err);
      if (app.kind === ErrorKind.Internal)
        log.error({ method, err: app, cause: app.cause }, 'internal error');
      else log.debug({ method, kind: app.kind, message: app.message }, 'request refused');
      throw toConnectError(app);
    }
  };
}

/** The host and slots a worker reports on GetTask. */
function profileOf(req: GetTaskRequest) {
  return { host: req.host, slots: req.slots };
}

/** The workers' calls, shared by the Connect service and the lean gRPC path. */
function workerCalls(c: Coordinator, boundary: Boundary) {
  return {
    getTask: (req: GetTaskRequest, signal: AbortSignal) =>
      boundary('GetTask', async () =>
        create(GetTaskResponseSchema, {
          task: await c.getTask(req.workerId, req.waitMs, signal, profileOf(req)),
        }),
      ),
    heartbeat: (req: HeartbeatRequest) =>
      boundary('Heartbeat', async () =>
        create(HeartbeatResponseSchema, await c.heartbeat(req.workerId, req.taskId, req.lease, req.progress)),
      ),
    finishTask: (req: FinishTaskRequest) =>
      boundary('FinishTask', async () => create(FinishTaskResponseSchema, await c.finishAndClaim(req))),
  };
}

const GET_TASK_TASK = GetTaskResponseSchema.field.task!.number;
const FINISH_TASK_NEXT = FinishTaskResponseSchema.field.next!.number;
const EMPTY = new Uint8Array(0);
const ACCEPTED = toBinary(FinishTaskResponseSchema, create(FinishTaskResponseSchema, { accepted: true }));

/**
 * The workers' hot calls as routes of the lean gRPC path (`src/rpc/grpc-unary.ts`).
 * A claimed task goes out encoded from its stored payload, not decoded and
 * encoded again.
 */
export function workerRoutes(c: Coordinator, log: Logger): UnaryRoute[] {
  const boundary = boundaryFor(log);
  const calls = workerCalls(c, boundary);
  const method = CoordinatorService.method;
  return [
    unaryRoute({
      ...io(method.getTask),
      usesSignal: true,
      handle: (req, signal) =>
        boundary('GetTask', async () => {
          const task = await c.claimTask(req.workerId, req.waitMs, signal, profileOf(req));
          return new EncodedMessage(task ? embedded(GET_TASK_TASK, task.bytes()) : EMPTY);
        }),
    }),
    unaryRoute({ ...io(method.heartbeat), handle: calls.heartbeat }),
    unaryRoute({
      ...io(method.finishTask),
      handle: (req) =>
        boundary('FinishTask', async () => {
          const { accepted, next } = await c.finishAndClaimTask(req);
          const head = accepted ? ACCEPTED : EMPTY;
          return new EncodedMessage(next ? embedded(FINISH_TASK_NEXT, next.bytes(), head) : head);
        }),
    }),
  ];
}

function io<I extends DescMessage, O extends DescMessage>(m: DescMethodUnary<I, O>) {
  return { name: m.name, input: m.input, output: m.output };
}

/** The Connect service implementation backed by a Coordinator. */
export function coordinatorService(
  c: Coordinator,
  log: Logger,
  options: ServiceOptions = {},
): ServiceImpl<typeof CoordinatorService> {
  const boundary = boundaryFor(log);
  const calls = workerCalls(c, boundary);
  return {
    submitJob: (req) =>
      boundary('SubmitJob', async () => {
        // Bounds before confinement: its messages name the paths it checks.
        validateEncodeJob(req.job);
        if (options.allowedRoots?.length) await confineJob(req.job, options.allowedRoots);
        return create(
          SubmitJobResponseSchema,
          await c.submit(req.job, { overwrite: req.overwrite, replacesJobId: req.replacesJobId }),
        );
      }),
    getJob: (req) =>
      boundary('GetJob', async () => create(GetJobResponseSchema, { job: await c.getJob(req.jobId) })),
    listJobs: (req) =>
      boundary('ListJobs', async () => create(ListJobsResponseSchema, { jobs: await c.listJobs(req.limit) })),
    cancelJob: (req) =>
      boundary('CancelJob', async () =>
        create(CancelJobResponseSchema, { job: await c.cancelJob(req.jobId) }),
      ),
    listWorkers: () =>
      boundary('ListWorkers', async () => create(ListWorkersResponseSchema, await c.listWorkers())),
    listJobRuns: (req) =>
      boundary('ListJobRuns', async () => {
        if (!options.jobRuns) throw new AppError(ErrorKind.Internal, 'ListJobRuns is not served here');
        // Checks the id and that the job exists (NOT_FOUND).
        await c.getJob(req.jobId);
        return create(ListJobRunsResponseSchema, await options.jobRuns(req.jobId));
      }),
    async *watchJob(req, ctx) {
      try {
        for await (const job of c.watchJob(req.jobId, ctx.signal))
          yield create(WatchJobResponseSchema, { job });
      } catch (err) {
        throw toConnectError(err);
      }
    },
    getTask: (req, ctx) => calls.getTask(req, ctx.signal),
    heartbeat: (req) => calls.heartbeat(req),
    finishTask: (req) => calls.finishTask(req),
  };
}
