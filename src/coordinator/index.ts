// Public surface of the coordinator.
export { Coordinator, type CoordinatorOptions, type LeaseStatus } from './coordinator.js';
export { percentComplete, WEIGHTS } from './progress.js';
export { redacted } from './redact.js';
export { type RunningCoordinator, type StartCoordinatorOptions, startCoordinator } from './server.js';
export { checkRequestId, LIMITS, MAX_SECONDS_PER_SEGMENT, validateEncodeJob } from './validate.js';
