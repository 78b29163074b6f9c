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
  GetTaskResponseSchema,
  HeartbeatResponseSchema,
  ListJobsResponseSchema,
  SubmitJobResponseSchema,
  WatchJobResponseSchema,
} from '../gen/avspl1t/v1/coordinator_pb.js';
import type { Logger } from '../log.js';
import { toConnectError } from '../rpc/errors.js';
import { confineJob } from './confine.js';
import type { Coordinator } from './coordinator.js';

export interface ServiceOptions {
  /** When set, submitted filesystem paths must lie inside these directories. */
  allowedRoots?: string[];
}

/** The Connect service implementation backed by a Coordinator. */
export function coordinatorService(
  c: Coordinator,
  log: Logger,
  options: ServiceOptions = {},
): ServiceImpl<typeof CoordinatorService> {
  const boundary = async <T>(method: string, fn: () => Promise<T>): Promise<T> => {
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
  return {
    submitJob: (req) =>
      boundary('SubmitJob', async () => {
        if (options.allowedRoots?.length) await confineJob(req.job, options.allowedRoots);
        return create(SubmitJobResponseSchema, { jobId: await c.submitJob(req.job) });
      }),
    getJob: (req) =>
      boundary('GetJob', async () => create(GetJobResponseSchema, { job: await c.getJob(req.jobId) })),
    listJobs: (req) =>
      boundary('ListJobs', async () => create(ListJobsResponseSchema, { jobs: await c.listJobs(req.limit) })),
    cancelJob: (req) =>
      boundary('CancelJob', async () =>
        create(CancelJobResponseSchema, { job: await c.cancelJob(req.jobId) }),
      ),
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
        create(GetTaskResponseSchema, { task: await c.getTask(req.workerId, req.waitMs, ctx.signal) }),
      ),
    heartbeat: (req) =>
      boundary('Heartbeat', async () =>
        create(HeartbeatResponseSchema, await c.heartbeat(req.workerId, req.taskId, req.lease, req.progress)),
      ),
    finishTask: (req) =>
      boundary('FinishTask', async () =>
        create(FinishTaskResponseSchema, { accepted: await c.finishTask(req) }),
      ),
  };
}
