/** Compare and repair: the library API behind `dualdb compare` and `dualdb repair`. */
export {
  type CompareOptions,
  CompareRun,
  type CompareSources,
  compareDatabases,
  compareNode,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_DIFFERENCES,
} from './compare.js';
export { type HubPosition, readHubPosition, resumePullAt } from './pull-cursor.js';
export { DEFAULT_REPAIR_BATCH, type RepairOptions, repairDatabases, repairNode } from './repair.js';
export { CompareCancelledError, type ConfirmedDifference } from './table-compare.js';
export type * from './types.js';
