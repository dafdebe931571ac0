// The desired-state store: the DesiredStateService (api.ts) over LevelDB.

export type * from './api.js';
export { DesiredState, DesiredStateClosedError, type DesiredStateOptions } from './desired-state.js';
export type { CommitBatch, LoadedState, StateBackend } from './backend.js';
export { DATABASE_DIR, LevelBackend } from './leveldb-backend.js';
export { FORMAT_VERSION, StateFormatError } from './format.js';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './paging.js';
