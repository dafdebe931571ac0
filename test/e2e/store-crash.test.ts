// Crash safety of the desired state: a child process (fixtures/
// store-crash-child.mjs, running the built dist/ store) applies a seeded
// stream of mutations — creates, updates, deletes and syncs of networks,
// subnets and ports, some of them refused — and is SIGKILLed at a random
// moment, several rounds over the same state directory. After each kill the
// state is opened again and must be exactly the state after some prefix of
// the stream (resources, their revisions and the revision: nothing half
// applied, a sync all there or not at all), a prefix that includes every
// mutation the child saw acknowledged and nothing it had not issued. The
// next round continues the stream from there. No root needed; never skipped.
//
// The expected state after every prefix comes from running the same stream
// through DesiredState over an in-memory backend (same planning, same
// revision rules, no disk).

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCE_KINDS, Rejection, type Port, type Snapshot } from '../../src/model/types.js';
import type { StateBackend } from '../../src/store/backend.js';
import { DesiredState } from '../../src/store/desired-state.js';
import { seededRandom } from '../helpers/random.js';
import { mac, netId, network, port, portId, subnet, subnetId } from '../helpers/world.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(ROOT, 'test/e2e/fixtures/store-crash-child.mjs');
const SEED = Number(process.env.XDPNET_CRASH_SEED ?? 20_240_611);
const STREAM_LENGTH = 420;
const KILL_ROUNDS = 8;

type Mutation =
  | { op: 'create'; kind: 'network' | 'subnet' | 'port'; input: unknown }
  | { op: 'update'; kind: 'network' | 'port'; id: string; patch: unknown; mask: string[] }
  | { op: 'delete'; kind: 'network' | 'subnet' | 'port'; id: string }
  | { op: 'sync'; snapshot: Snapshot };

interface Expected {
  /** fingerprint[k]: the state after the first k mutations. */
  fingerprint: string[];
  /** outcome[i]: 'ack <revision>' or 'rej <code>' for mutation i. */
  outcome: string[];
}


/** JSON with sorted keys, so that equal data gives equal text whatever the key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Every resource with its revision, and the state's revision. */
function fingerprint(s: DesiredState): string {
  const index = s.resources;
  const all = RESOURCE_KINDS.map((kind) => index.sortedIds(kind).map((id) => index.stored(kind, id)));
  return createHash('sha256').update(canonical({ revision: s.revision, all })).digest('hex');
}

const memoryBackend = (): StateBackend => ({
  load: async () => ({ revision: 0, stored: [] }),
  commit: async () => undefined,
  close: async () => undefined,
});

async function apply(s: DesiredState, m: Mutation): Promise<unknown> {
  switch (m.op) {
    case 'create':
      return s.create(m.kind, m.input as never);
    case 'update':
      return s.update(m.kind, m.id, m.patch as never, m.mask);
    case 'delete':
      return s.delete(m.kind, m.id);
    case 'sync':
      return s.sync(m.snapshot);
  }
}

/**
 * A seeded stream of mutations, generated against a shadow state so that most
 * are valid; about one in seven is refused (a taken MAC or address, a
 * network still in use, a sync with a duplicate MAC…). Returns the stream and
 * the expected state after every prefix.
 */
async function generate(seed: number, length: number): Promise<{ stream: Mutation[]; expected: Expected }> {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const chance = (p: number) => random() < p;
  const shadow = await DesiredState.openBackend(memoryBackend());
  const stream: Mutation[] = [];
  const expected: Expected = { fingerprint: [fingerprint(shadow)], outcome: [] };
  let nextPort = 1;
  let nextMac = 1;
  const networkNos = [1, 2, 3, 4];

  const freeIp = (subnetNo: number): string => {
    for (;;) {
      const ip = `10.${subnetNo}.${Math.floor(random() * 4)}.${2 + Math.floor(random() * 250)}`;
      if (!shadow.resources.ipOwner(subnetId(subnetNo), ip)) return ip;
    }
  };
  const newPort = (networkNo: number, fresh: boolean): Port =>
    port({
      id: portId(nextPort++),
      networkId: netId(networkNo),
      name: `p${nextPort}`,
      macAddress: fresh ? mac(100_000 + nextMac++) : mac(1 + Math.floor(random() * 300)),
      fixedIps: [{ subnetId: subnetId(networkNo), ipAddress: fresh ? freeIp(networkNo) : `10.${networkNo}.0.${2 + Math.floor(random() * 250)}` }],
      binding: chance(0.5) ? { kind: 'remote', vtepIp: `192.0.2.${1 + Math.floor(random() * 50)}` } : { kind: 'none' },
    });

  while (stream.length < length) {
    const networks = shadow.snapshot().networks;
    const withSubnet = networkNos.filter((n) => shadow.resources.has('subnet', subnetId(n)));
    const ports = shadow.snapshot().ports;
    const r = random();
    let m: Mutation;
    if (r < 0.06 || networks.length === 0) {
      const n = pick(networkNos);
      m = { op: 'create', kind: 'network', input: network({ id: netId(n), name: `n${n}`, segmentationId: 1000 + pick([n, n, n, 1]) }) };
    } else if (r < 0.12 || withSubnet.length === 0) {
      const n = pick(networks.map((x) => Number.parseInt(x.id.slice(-12), 16)));
      m = { op: 'create', kind: 'subnet', input: subnet({ id: subnetId(n), networkId: netId(n), cidr: `10.${n}.0.0/22`, dnsNameservers: ['192.0.2.53'] }) };
    } else if (r < 0.45) {
      m = { op: 'create', kind: 'port', input: newPort(pick(withSubnet), chance(0.85)) };
    } else if (r < 0.6 && ports.length > 0) {
      const p = pick(ports);
      const what = pick(['name', 'mac_address', 'fixed_ips', 'binding'] as const);
      const patch = {
        ...p,
        name: `renamed-${stream.length}`,
        macAddress: chance(0.7) ? mac(200_000 + nextMac++) : mac(1 + Math.floor(random() * 300)),
        fixedIps: [{ subnetId: p.fixedIps[0]?.subnetId ?? subnetId(1), ipAddress: freeIp(Number.parseInt((p.fixedIps[0]?.subnetId ?? subnetId(1)).slice(-12), 16)) }],
        binding: { kind: 'local', interfaceName: `tap${stream.length}` },
      };
      m = { op: 'update', kind: 'port', id: p.id, patch, mask: [what] };
    } else if (r < 0.74 && ports.length > 0) {
      m = { op: 'delete', kind: 'port', id: pick(ports).id };
    } else if (r < 0.78) {
      const n = pick(networks);
      m = { op: 'update', kind: 'network', id: n.id, patch: { ...n, mtu: pick([0, 1400, 1450, 9000, 9001]), name: `net-${stream.length}` }, mask: ['mtu', 'name'] };
    } else if (r < 0.82) {
      m = chance(0.5) ? { op: 'delete', kind: 'subnet', id: subnetId(pick(networkNos)) } : { op: 'delete', kind: 'network', id: netId(pick(networkNos)) };
    } else {
      // Sync: keep most of the state, drop some ports, rename some, add a batch (big enough to take a while to write).
      const snap = shadow.snapshot();
      const kept = snap.ports.filter(() => chance(0.8)).map((p) => (chance(0.2) ? { ...p, name: `synced-${stream.length}` } : p));
      const added: Port[] = [];
      const count = 20 + Math.floor(random() * 150);
      const used = new Set<string>();
      for (let k = 0; k < count && withSubnet.length > 0; k++) {
        const p = newPort(pick(withSubnet), true);
        const key = p.fixedIps[0]!.ipAddress;
        if (used.has(key)) continue;
        used.add(key);
        added.push(p);
      }
      if (chance(0.15) && added.length > 1) added[1] = { ...added[1]!, networkId: added[0]!.networkId, macAddress: added[0]!.macAddress }; // refused as a whole
      m = { op: 'sync', snapshot: { ...snap, ports: [...kept, ...added] } };
    }
    m = JSON.parse(JSON.stringify(m)) as Mutation; // exactly what the child will read
    try {
      await apply(shadow, m);
      expected.outcome.push(`ack ${shadow.revision}`);
    } catch (e) {
      if (!(e instanceof Rejection)) throw e;
      expected.outcome.push(`rej ${e.code}`);
    }
    stream.push(m);
    expected.fingerprint.push(fingerprint(shadow));
  }
  await shadow.close();
  return { stream, expected };
}

interface RoundLog {
  ready: number;
  issued: number;
  done: Array<{ index: number; outcome: string }>;
  finished: boolean;
  errors: string[];
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/** Runs the child from `start`; kills it per `kill` (or lets it finish). */
function round(
  stateDir: string,
  streamFile: string,
  start: number,
  burstSeed: number,
  kill: { afterAcks: number; delayMs: number } | { afterMs: number } | null,
): Promise<RoundLog> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [CHILD, stateDir, streamFile, String(start), String(burstSeed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: RoundLog = { ready: -1, issued: start, done: [], finished: false, errors: [], exit: { code: null, signal: null } };
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const doKill = () => child.kill('SIGKILL');
    let completions = 0;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [word, a, b] = line.split(' ');
      if (word === 'ready') {
        log.ready = Number(a);
        if (kill && 'afterMs' in kill) setTimeout(doKill, kill.afterMs);
      } else if (word === 'issue') log.issued = Number(a) + 1;
      else if (word === 'ack' || word === 'rej') {
        log.done.push({ index: Number(a), outcome: `${word} ${b}` });
        completions++;
        if (kill && 'afterAcks' in kill && completions === kill.afterAcks) {
          if (kill.delayMs === 0) doKill();
          else setTimeout(doKill, kill.delayMs);
        }
      } else if (word === 'done') log.finished = true;
      else log.errors.push(line);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      log.exit = { code, signal };
      if (stderr.trim()) log.errors.push(`stderr: ${stderr.trim()}`);
      resolve(log);
    });
  });
}

/** The child runs dist/: refuse to test stale output against fresh sources. */
function assertDistFresh(): void {
  const dist = join(ROOT, 'dist/store/desired-state.js');
  if (!existsSync(dist)) {
    throw new Error(`${dist} is missing: build first (make build, or npx tsc -p tsconfig.build.json)`);
  }
  for (const part of ['model', 'model/rules', 'store']) {
    const srcDir = join(ROOT, 'src', part);
    for (const f of readdirSync(srcDir).filter((n) => n.endsWith('.ts'))) {
      const built = join(ROOT, 'dist', part, f.replace(/\.ts$/, '.js'));
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(srcDir, f)).mtimeMs) {
        throw new Error(`${built} is older than src/${part}/${f}: rebuild (make build, or npx tsc -p tsconfig.build.json)`);
      }
    }
  }
}

describe('desired state survives SIGKILL', () => {
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'xdpnet-crash-'));
  });

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it(`holds exactly an acknowledged prefix after each of ${KILL_ROUNDS} kills (seed ${SEED})`, { timeout: 240_000 }, async () => {
    assertDistFresh();
    const { stream, expected } = await generate(SEED, STREAM_LENGTH);
    const refused = expected.outcome.filter((o) => o.startsWith('rej')).length;
    const syncs = stream.filter((m) => m.op === 'sync').length;
    expect(refused).toBeGreaterThan(10);
    expect(syncs).toBeGreaterThan(20);
    const streamFile = join(work, 'stream.json');
    writeFileSync(streamFile, JSON.stringify(stream));
    const stateDir = join(work, 'state');
    const random = seededRandom(SEED ^ 0x5eed);

    let position = 0;
    const summary: string[] = [];
    for (let r = 0; r <= KILL_ROUNDS; r++) {
      const last = r === KILL_ROUNDS;
      const kill = last
        ? null
        : random() < 0.7
          ? { afterAcks: 1 + Math.floor(random() * 45), delayMs: Math.floor(random() * 4) }
          : { afterMs: 5 + Math.floor(random() * 120) };
      const log = await round(stateDir, streamFile, position, Math.floor(random() * 1e9), kill);
      expect(log.errors, log.errors.join('\n')).toEqual([]);
      expect(log.ready, 'the child opened the state').toBeGreaterThanOrEqual(0);
      if (last) expect(log.finished && log.exit.code === 0, `final round ran to the end (exit ${log.exit.code})`).toBe(true);

      // What the child saw is what the model says: same acceptances, same revisions.
      for (const d of log.done) expect(`${d.index} ${d.outcome}`).toBe(`${d.index} ${expected.outcome[d.index]}`);
      const doneEnd = log.done.length ? Math.max(...log.done.map((d) => d.index)) + 1 : position;
      // Completions come in issue order, with no gaps.
      expect(log.done.map((d) => d.index)).toEqual(Array.from({ length: log.done.length }, (_, k) => position + k));

      const reopened = await DesiredState.open(stateDir);
      const actual = fingerprint(reopened);
      const revision = reopened.revision;
      await reopened.close();
      let prefix = -1;
      for (let k = log.issued; k >= doneEnd; k--) {
        if (expected.fingerprint[k] === actual) {
          prefix = k;
          break;
        }
      }
      expect(prefix, `round ${r}: state (revision ${revision}) is not the state after any prefix in [${doneEnd}, ${log.issued}]`).toBeGreaterThanOrEqual(
        doneEnd,
      );
      const inFlight = stream[doneEnd];
      summary.push(
        `round ${r}: ${log.exit.signal ?? `exit ${log.exit.code}`} after ${log.done.length} completions; ` +
          `durable prefix ${prefix} (acknowledged ${doneEnd}, issued ${log.issued})` +
          (log.exit.signal && inFlight ? `; in flight: ${inFlight.op}${prefix > doneEnd ? ' (durable, not yet acknowledged)' : ''}` : ''),
      );
      position = prefix;
    }
    console.log(`crash test, seed ${SEED}, ${stream.length} mutations (${syncs} syncs, ${refused} refused):\n  ${summary.join('\n  ')}`);
    expect(position).toBe(stream.length);
  });
});
