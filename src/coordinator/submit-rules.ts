// The submit rules: an output location has one owner (the newest job submitted
// into it); replacing it, or an earlier encode's files, needs `overwrite` (or
// the owner named in `replacesJobId`, a retry). Pure; the stores apply them.
import { create } from '@bufbuild/protobuf';
import { isTerminalJobState, type JobState } from '../db/states.js';
import { type EncodeJob, EncodeJobSchema } from '../gen/avspl1t/v1/coordinator_pb.js';

/** Who owns an output location when a job is submitted into it. */
export interface OutputOwner {
  /** The owning job's id. */
  id: string;
  /** Its state; undefined when the job row is gone (the location is free to take). */
  state?: JobState;
}

/** A job to submit, and whether it may replace what its output holds. */
export interface Submission {
  id: string;
  job: EncodeJob;
  /** The output location, normalized (output-safety.ts `outputKey`). */
  location: string;
  /** Replace whatever owns the location. */
  overwrite: boolean;
  /** Replace the location only while this job owns it (a retried submit). */
  replacesJobId?: string;
  /** Whether the output already holds an earlier encode's files. */
  earlierFiles: boolean;
}

/** What a submit does, given who owns its location now. */
export type SubmitDecision =
  | { refused: 'owned'; owner: string; ownerState: JobState }
  | { refused: 'earlier-files' }
  | {
      refused?: undefined;
      /** Take the location even though a row for it exists (else: only if nobody took it meanwhile: refused 'taken'). */
      replaceOwner: boolean;
      /** The job to store (its media in a folder of its own when replacing files). */
      job: EncodeJob;
      /** An open job to cancel (the one replaced). */
      cancel?: string;
    };

/** The submit rules: a location has one owner; replacing needs `overwrite` (or the owner named in `replacesJobId`). */
export function decideSubmit(s: Submission, owner: OutputOwner | undefined): SubmitDecision {
  const ownerJob = owner?.state === undefined ? undefined : { id: owner.id, state: owner.state };
  const overwrite = s.overwrite || (!!s.replacesJobId && owner?.id === s.replacesJobId);
  if (!overwrite && ownerJob) return { refused: 'owned', owner: ownerJob.id, ownerState: ownerJob.state };
  if (!overwrite && s.earlierFiles) return { refused: 'earlier-files' };
  // Writing beside an earlier job's files would mix the two: a replacing job gets a folder of its own.
  const mediaFolder = overwrite && (ownerJob || s.earlierFiles) ? s.id : '';
  return {
    replaceOwner: overwrite || (owner !== undefined && !ownerJob),
    job: create(EncodeJobSchema, { ...s.job, mediaFolder }),
    cancel: ownerJob && !isTerminalJobState(ownerJob.state) ? ownerJob.id : undefined,
  };
}
