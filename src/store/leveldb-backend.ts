// The desired state's durable storage: one LevelDB database (classic-level)
// in <stateDir>/desired-state. Every commit is a single db.batch with
// { sync: true }: LevelDB appends the whole batch to its write-ahead log as
// one record and fsyncs it before the promise resolves, so after a crash a
// commit is either entirely there or not at all. LevelDB's lock file keeps a
// second process from opening the same state.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import type { Stored } from '../model/types.js';
import type { CommitBatch, LoadedState, StateBackend } from './backend.js';
import {
  FORMAT_KEY,
  FORMAT_VERSION,
  RESOURCE_END,
  RESOURCE_PREFIX,
  REVISION_KEY,
  StateFormatError,
  decodeCounter,
  decodeResource,
  encodeResource,
  resourceKey,
} from './format.js';

/** The database's directory under the state directory. */
export const DATABASE_DIR = 'desired-state';

type Db = ClassicLevel<string, string>;
type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

export class LevelBackend implements StateBackend {
  private constructor(
    private readonly db: Db,
    readonly location: string,
  ) {}

  /**
   * Opens (creating if needed) the database under `stateDir`. Refuses a
   * database locked by another process, one written by a newer format, and a
   * non-empty directory that is not an xdpnet state database.
   */
  static async open(stateDir: string): Promise<LevelBackend> {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const location = join(stateDir, DATABASE_DIR);
    const db: Db = new ClassicLevel<string, string>(location, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new Error(`desired state ${location} is in use by another process (${cause.message ?? 'locked'})`, { cause: e });
      }
      throw new Error(`cannot open desired state ${location}: ${cause?.message ?? (e as Error).message}`, { cause: e });
    }
    try {
      await checkFormat(db, location);
    } catch (e) {
      await db.close();
      throw e;
    }
    return new LevelBackend(db, location);
  }

  async load(): Promise<LoadedState> {
    const raw = await this.db.get(REVISION_KEY);
    const revision = raw === undefined ? 0 : decodeCounter(REVISION_KEY, raw, this.location);
    const stored: Stored[] = [];
    for await (const [key, value] of this.db.iterator({ gte: RESOURCE_PREFIX, lt: RESOURCE_END })) {
      const s = decodeResource(key, value, this.location);
      if (s.revision > revision) {
        throw new StateFormatError(`${this.location}: ${key} has revision ${s.revision}, beyond the state's revision ${revision}`);
      }
      stored.push(s);
    }
    return { revision, stored };
  }

  async commit(batch: CommitBatch): Promise<void> {
    const ops: Op[] = [];
    for (const d of batch.deletes) ops.push({ type: 'del', key: resourceKey(d.kind, d.id) });
    for (const p of batch.puts) {
      ops.push({ type: 'put', key: resourceKey(p.kind, p.resource.id), value: encodeResource({ resource: p.resource, revision: batch.revision }) });
    }
    ops.push({ type: 'put', key: REVISION_KEY, value: String(batch.revision) });
    await this.db.batch(ops, { sync: true });
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

async function checkFormat(db: Db, location: string): Promise<void> {
  const format = await db.get(FORMAT_KEY);
  if (format === undefined) {
    for await (const key of db.keys({ limit: 1 })) {
      throw new StateFormatError(`${location} is not an xdpnet desired-state database (no ${FORMAT_KEY}, but it holds ${JSON.stringify(key)})`);
    }
    await db.batch(
      [
        { type: 'put', key: FORMAT_KEY, value: String(FORMAT_VERSION) },
        { type: 'put', key: REVISION_KEY, value: '0' },
      ],
      { sync: true },
    );
    return;
  }
  const version = decodeCounter(FORMAT_KEY, format, location);
  if (version > FORMAT_VERSION) {
    throw new StateFormatError(
      `${location} was written in desired-state format ${version}, newer than this xdpnetd understands (${FORMAT_VERSION}); ` +
        'run a newer xdpnetd, or move the directory away to start empty',
    );
  }
  if (version < 1) throw new StateFormatError(`${location}: unknown desired-state format ${version}`);
}
