// Public surface of the worker.
export { mediaOperations, type Operations, runOperation } from './operations.js';
export { removeStaleTaskDirs } from './temp-dirs.js';
export { defaultWorkerId, Worker, type WorkerOptions } from './worker.js';
