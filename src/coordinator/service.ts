// CoordinatorService over Connect: translates requests to Coordinator calls and
// AppErrors to gRPC status codes (the only place that mapping happens).
import { create } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import { AppError, ErrorKind } from '../errors.js';
import {
  CancelJobResponseSchema,
  type CoordinatorService,
  FinishTaskResponseSchema,
  GetJobResponseSchema,
  type GetTaskRequest,
  GetTaskResponseSchema,
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

/** The Connect service implementation backed by a Coordinator. */
export function coordinatorService(
  c: Coordinator,
  log: Logger,
  options: ServiceOptions = {},
): ServiceImpl<typeof CoordinatorService> {
  const boundary = boundaryFor(log);
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
    getTask: (req, ctx) =>
      boundary('GetTask', async () =>
        create(GetTaskResponseSchema, {
          task: await c.claim(req.workerId, req.waitMs, ctx.signal, profileOf(req)),
        }),
      ),
    heartbeat: (req) =>
      boundary('Heartbeat', async () =>
        create(HeartbeatResponseSchema, await c.heartbeat(req.workerId, req.taskId, req.lease, req.progress)),
      ),
    finishTask: (req) =>
      boundary('FinishTask', async () => create(FinishTaskResponseSchema, await c.finish(req))),
  };
}
