// Reconciler over FakeDataplane and a small in-test desired state: converging,
// drift repair and pruning on the full pass, adoption on restart, coalescing,
// and per-resource status (PENDING → ACTIVE/DOWN/ERROR with codes).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AnyResource, Network, Port, ResourceKind, Router, Snapshot, Stored, Subnet } from '../../src/model/types.js';
import type { Change, ChangeListener, DesiredStateService } from '../../src/store/api.js';
import { FakeDataplane } from '../../src/reconciler/fake-dataplane.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { DataplaneError } from '../../src/reconciler/dataplane.js';
import { DHCP_UNIMPLEMENTED, render, securityGroupsUnimplemented } from '../../src/reconciler/render.js';
import type { StatusEvent } from '../../src/reconciler/status.js';
import { type TableName, type TableValue, TABLE_NAMES } from '../../src/reconciler/tables.js';

// --- a fake of the parts of DesiredStateService the reconciler uses -----------

const LISTS: Record<ResourceKind, keyof Snapshot> = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  router: 'routers',
  floatingIp: 'floatingIps',
};

class FakeState implements Pick<DesiredStateService, 'snapshot' | 'revision' | 'onChange' | 'get'> {
  revision = 0;
  private data: Snapshot = { networks: [], subnets: [], ports: [], routers: [], floatingIps: [] };
  private readonly listeners = new Set<ChangeListener>();

  snapshot(): Snapshot {
    return structuredClone(this.data);
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The revision of each resource's last change. */
  private readonly changedAt = new Map<string, number>();

  get<K extends ResourceKind>(kind: K, id: string): Stored<K> | undefined {
    const resource = (this.data[LISTS[kind]] as AnyResource[]).find((r) => r.id === id);
    return resource ? ({ kind, resource: structuredClone(resource), revision: this.changedAt.get(`${kind}/${id}`) ?? 0 } as Stored<K>) : undefined;
  }

  /** Create or replace; notifies synchronously, like the store after a commit. */
  put(kind: ResourceKind, resource: AnyResource): void {
    const list = this.data[LISTS[kind]] as AnyResource[];
    const i = list.findIndex((r) => r.id === resource.id);
    if (i >= 0) list[i] = structuredClone(resource);
    else list.push(structuredClone(resource));
    this.commit({ type: i >= 0 ? 'modified' : 'added', kind, id: resource.id, revision: this.revision + 1, resource });
  }

  remove(kind: ResourceKind, id: string): void {
    const list = this.data[LISTS[kind]] as AnyResource[];
    const i = list.findIndex((r) => r.id === id);
    const [resource] = list.splice(i, 1);
    this.commit({ type: 'deleted', kind, id, revision: this.revision + 1, resource: resource! });
  }

  private commit(change: Change): void {
    this.revision = change.revision;
    this.changedAt.set(`${change.kind}/${change.id}`, change.revision);
    for (const l of this.listeners) l([change], this.revision);
  }
}

// --- resources ---------------------------------------------------------------

const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const NET1 = uuid(0x101);
const FLAT = uuid(0x1f0);
const SUB1 = uuid(0x201);
const R1 = uuid(0x301);
const ME = '192.0.2.1';
const HV2 = '192.0.2.2';

const network = (id: string, vni: number, over: Partial<Network> = {}): Network => ({
  id,
  name: '',
  type: 'vxlan',
  segmentationId: vni,
  physicalNetwork: null,
  mtu: 1450,
  external: false,
  adminStateUp: true,
  ...over,
});
const subnet = (id: string, networkId: string, cidr: string, gatewayIp: string): Subnet => ({
  id,
  name: '',
  networkId,
  cidr,
  gatewayIp,
  enableDhcp: false,
  dnsNameservers: [],
  hostRoutes: [],
});
const port = (n: number, over: Partial<Port> = {}): Port => ({
  id: uuid(0x400 + n),
  name: '',
  networkId: NET1,
  macAddress: `fa:16:3e:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`,
  fixedIps: [{ subnetId: SUB1, ipAddress: `10.0.${n >> 8}.${(n & 255) + 10}` }],
  binding: n % 2 ? { kind: 'local', interfaceName: `tap${n}` } : { kind: 'remote', vtepIp: HV2 },
  portSecurityEnabled: true,
  allowedAddressPairs: [],
  securityGroupIds: [],
  deviceOwner: 'compute:nova',
  adminStateUp: true,
  ...over,
});
const router = (over: Partial<Router> = {}): Router => ({
  id: R1,
  name: '',
  interfaces: [{ subnetId: SUB1, ipAddress: '10.0.0.1' }],
  routes: [],
  externalGateway: null,
  adminStateUp: true,
  ...over,
});

/** A network with a subnet, a router and `ports` ports (odd ones local). */
function seeded(ports = 3): FakeState {
  const state = new FakeState();
  state.put('network', network(NET1, 1001));
  state.put('subnet', subnet(SUB1, NET1, '10.0.0.0/16', '10.0.0.1'));
  state.put('router', router());
  for (let n = 1; n <= ports; n++) state.put('port', port(n));
  return state;
}

// --- helpers -----------------------------------------------------------------

/** What render says the node should have, as {table: {key: value}} (for comparing with the fake). */
function expected(state: FakeState): Record<string, Record<string, unknown>> {
  const { tables } = render(state.snapshot(), { vtepIp: ME });
  return Object.fromEntries(TABLE_NAMES.map((t) => [t, Object.fromEntries([...tables[t]].map(([k, e]) => [k, e.value]))]));
}
function contents(dp: FakeDataplane): Record<string, Record<string, unknown>> {
  return Object.fromEntries(TABLE_NAMES.map((t) => [t, Object.fromEntries(dp.keys(t).map((k) => [k, dp.get(t, k)]))]));
}

const INTERVAL = 10_000;
let reconcilers: Reconciler[] = [];
function make(state: FakeState, dp: FakeDataplane, fullPassIntervalMs = INTERVAL): Reconciler {
  const r = new Reconciler(state, dp, { node: { vtepIp: ME }, fullPassIntervalMs, retryDelayMs: 100 });
  reconcilers.push(r);
  return r;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  for (const r of reconcilers) await r.stop();
  reconcilers = [];
  vi.useRealTimers();
});

/** Runs timers forward and lets the passes they start finish. */
async function advance(r: Reconciler, ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  await r.idle();
}

// --- tests -------------------------------------------------------------------

describe('Reconciler: converging', () => {
  it('the first full pass writes what render wants, then ready resolves and everything is ACTIVE', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    expect(r.status('port', uuid(0x401))).toBeUndefined(); // not started: nothing known yet
    const started = r.start();
    expect(r.isReady).toBe(false);
    // Each status describes its resource's own revision (the last change to it), not the state's.
    const own = (kind: ResourceKind, id: string): number => state.get(kind, id)!.revision;
    expect(own('network', NET1)).toBeLessThan(state.revision);
    expect(r.status('port', uuid(0x401))).toEqual({ state: 'PENDING', code: '', message: '', revision: own('port', uuid(0x401)) });
    await started;
    expect(r.isReady).toBe(true);
    expect(contents(dp)).toEqual(expected(state));
    for (const [kind, id] of [['network', NET1], ['subnet', SUB1], ['router', R1], ['port', uuid(0x401)], ['port', uuid(0x402)]] as const) {
      expect(r.status(kind, id), `${kind} ${id}`).toEqual({ state: 'ACTIVE', code: '', message: '', revision: own(kind, id) });
    }
    const total = Object.values(expected(state)).reduce((n, t) => n + Object.keys(t).length, 0);
    expect(r.summary()).toMatchObject({ revision: state.revision, kind: 'full', updated: total, deleted: 0, errors: 0, lastError: '' });
  });

  it('applies changes incrementally without reading the dataplane, and removes what a deleted resource had', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    dp.clearOps();

    state.put('port', port(5));
    state.put('port', { ...port(1), macAddress: 'fa:16:3e:99:99:99' });
    state.remove('port', uuid(0x402));
    await r.idle();

    expect(contents(dp)).toEqual(expected(state));
    expect(dp.ops.filter((o) => o.op === 'list')).toEqual([]);
    expect(r.summary()).toMatchObject({ kind: 'incremental', revision: state.revision, errors: 0 });
    expect(r.status('port', uuid(0x405))?.state).toBe('ACTIVE');
    expect(r.status('port', uuid(0x402))).toBeUndefined();
  });

  it('does nothing on a pass when nothing changed', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    dp.clearOps();
    await advance(r, INTERVAL);
    expect(r.passes.full).toBe(2);
    expect(dp.ops.every((o) => o.op === 'list')).toBe(true);
    expect(r.summary()).toMatchObject({ kind: 'full', updated: 0, deleted: 0 });
  });
});

describe('Reconciler: the full pass repairs drift', () => {
  it('puts back an entry deleted by hand (the incremental pass trusts its cache; the full pass does not)', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    dp.tamperDelete('fdb', { vni: 1001, macAddress: port(1).macAddress });

    state.put('port', port(7));
    await r.idle();
    expect(dp.get('fdb', `1001/${port(1).macAddress}`)).toBeUndefined();

    await advance(r, INTERVAL);
    expect(dp.get('fdb', `1001/${port(1).macAddress}`)).toEqual({ location: { kind: 'local', interfaceName: 'tap1' } });
    expect(contents(dp)).toEqual(expected(state));
    expect(r.summary()).toMatchObject({ kind: 'full', updated: 1, deleted: 0 });
  });

  it('rewrites an entry changed by hand and prunes one nobody wants', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    dp.tamperInsert('arp', { vni: 1001, ipAddress: '10.0.0.11' }, { macAddress: 'de:ad:be:ef:00:00' });
    dp.tamperInsert('arp', { vni: 1001, ipAddress: '10.0.9.9' }, { macAddress: 'de:ad:be:ef:00:01' });
    dp.tamperInsert('localPorts', { interfaceName: 'stray0' }, { ...(dp.get('localPorts', 'tap1') as TableValue<'localPorts'>) });

    await advance(r, INTERVAL);
    expect(contents(dp)).toEqual(expected(state));
    expect(r.summary()).toMatchObject({ kind: 'full', updated: 1, deleted: 2, errors: 0 });
  });
});

describe('Reconciler: restart', () => {
  it('adopts what a previous run left: no wanted entry is rewritten or deleted, strays are pruned', async () => {
    const state = seeded(4);
    const dp = new FakeDataplane();
    const first = make(state, dp);
    await first.start();
    await first.stop();

    // While no reconciler runs: the state moves on, and someone leaves a stray.
    state.put('port', port(9));
    state.remove('port', uuid(0x404));
    dp.tamperInsert('fdb', { vni: 1001, macAddress: 'de:ad:be:ef:00:00' }, { location: { kind: 'remote', vtepIp: HV2 } });
    const before = contents(dp);
    dp.clearOps();

    const second = make(state, dp);
    await second.start();
    expect(contents(dp)).toEqual(expected(state));
    const wanted = expected(state);
    const touched = dp.ops.filter((o) => o.op !== 'list');
    for (const o of touched) {
      const unchangedWanted = o.key! in (wanted[o.table] ?? {}) && (before[o.table] ?? {})[o.key!] !== undefined;
      expect(unchangedWanted && o.op === 'delete', `${o.op} ${o.table} ${o.key}`).toBe(false);
    }
    expect(touched.filter((o) => o.op === 'delete').map((o) => `${o.table} ${o.key}`).sort()).toEqual(
      [`arp 1001/10.0.0.14`, `fdb 1001/${port(4).macAddress}`, 'fdb 1001/de:ad:be:ef:00:00'].sort(),
    );
    // Only what changed while stopped was written: port 9's entries and the flood list.
    expect(touched.filter((o) => o.op === 'upsert').map((o) => `${o.table} ${o.key}`).sort()).toEqual(
      [`arp 1001/10.0.0.19`, `fdb 1001/${port(9).macAddress}`, 'floodList 1001', 'localPorts tap9'].sort(),
    );
  });

  it('converges from an empty dataplane as well (a reboot lost the pinned maps)', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const first = make(state, dp);
    await first.start();
    await first.stop();
    const fresh = new FakeDataplane();
    await make(state, fresh).start();
    expect(contents(fresh)).toEqual(contents(dp));
    expect(contents(fresh)).toEqual(expected(state));
  });
});

describe('Reconciler: coalescing', () => {
  it('1,000 changes in a row are one incremental pass', async () => {
    const state = seeded(0);
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    for (let n = 1; n <= 1000; n++) state.put('port', port(n));
    await r.idle();
    expect(r.passes).toEqual({ full: 1, incremental: 1 });
    expect(contents(dp)).toEqual(expected(state));
    expect(r.status('port', uuid(0x400 + 1000))?.state).toBe('ACTIVE');
  });

  it('changes during a pass cause exactly one more pass, and stay PENDING until it finishes', async () => {
    const state = seeded(0);
    const dp = new GatedDataplane();
    const r = make(state, dp);
    await r.start();

    dp.close();
    state.put('port', port(1));
    await vi.waitFor(() => expect(dp.waiting).toBeGreaterThan(0)); // the pass is stuck in an upsert
    const events: StatusEvent[] = [];
    r.onStatus((e) => events.push(e));
    for (let n = 2; n <= 500; n++) state.put('port', port(n));
    dp.open();
    await r.idle();

    expect(r.passes).toEqual({ full: 1, incremental: 2 });
    expect(contents(dp)).toEqual(expected(state));
    // Port 2 changed after the first incremental pass took its snapshot: PENDING through it, then ACTIVE.
    const port2 = events.filter((e) => e.id === uuid(0x402)).map((e) => e.status.state);
    expect(port2).toEqual(['PENDING', 'ACTIVE']);
  });
});

describe('Reconciler: status', () => {
  it('goes PENDING at the change\'s revision, then ACTIVE at the same revision', async () => {
    const state = seeded();
    const r = make(state, new FakeDataplane());
    await r.start();
    const events: StatusEvent[] = [];
    r.onStatus((e) => events.push(e));
    state.put('port', port(5));
    const rev = state.revision;
    expect(r.status('port', uuid(0x405))).toEqual({ state: 'PENDING', code: '', message: '', revision: rev });
    await r.idle();
    expect(events).toEqual([
      { kind: 'port', id: uuid(0x405), status: { state: 'PENDING', code: '', message: '', revision: rev } },
      { kind: 'port', id: uuid(0x405), status: { state: 'ACTIVE', code: '', message: '', revision: rev } },
    ]);
  });

  it('admin_state_up false is DOWN for networks, ports and routers; entries stay, carrying the flag', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    state.put('network', network(NET1, 1001, { adminStateUp: false }));
    state.put('port', port(1, { adminStateUp: false }));
    state.put('router', router({ adminStateUp: false }));
    await r.idle();
    expect(r.status('network', NET1)?.state).toBe('DOWN');
    expect(r.status('port', uuid(0x401))?.state).toBe('DOWN');
    expect(r.status('router', R1)?.state).toBe('DOWN');
    expect(r.status('port', uuid(0x403))?.state).toBe('ACTIVE');
    expect(dp.get('localPorts', 'tap1')).toMatchObject({ adminStateUp: false });
    expect(dp.get('networks', '1001')).toMatchObject({ adminStateUp: false });
  });

  it('an unsupported table makes its owners ERROR with UNIMPLEMENTED and the dataplane\'s message; nothing else suffers', async () => {
    const state = seeded();
    state.put('network', network(FLAT, 0, { type: 'flat', physicalNetwork: 'physnet1' }));
    state.put('port', port(11, { networkId: FLAT, fixedIps: [] }));
    const message = 'provider (flat/VLAN) networks are not implemented by the BPF dataplane yet';
    const dp = new FakeDataplane({ unsupported: { providerPorts: message } });
    const r = make(state, dp);
    await r.start();
    expect(r.status('port', uuid(0x40b))).toEqual({ state: 'ERROR', code: 'UNIMPLEMENTED', message, revision: state.revision });
    expect(r.status('network', FLAT)?.state).toBe('ACTIVE');
    expect(r.status('port', uuid(0x401))?.state).toBe('ACTIVE');
    expect(dp.ops.some((o) => o.table === 'providerPorts')).toBe(false);
    expect(r.summary()).toMatchObject({ errors: 1, lastError: message });

    // Moving the port to a VXLAN network clears the error.
    state.put('port', port(11));
    await r.idle();
    expect(r.status('port', uuid(0x40b))?.state).toBe('ACTIVE');
  });

  it('a full map is RESOURCE_EXHAUSTED for the entry\'s owner, and recovers when space frees', async () => {
    const state = seeded(0);
    state.put('port', port(1));
    state.put('port', port(2));
    state.put('port', port(3));
    // The router's MAC and two ports fit; the third port does not.
    const dp = new FakeDataplane({ capacity: { fdb: 3 } });
    const r = make(state, dp);
    await r.start();
    expect(r.status('port', uuid(0x403))).toMatchObject({ state: 'ERROR', code: 'RESOURCE_EXHAUSTED', message: 'fdb is full (3 entries)' });
    expect(r.status('port', uuid(0x401))?.state).toBe('ACTIVE');
    expect(r.summary()).toMatchObject({ errors: 1 });

    // Deleting a port frees a slot in the same pass that retries the third.
    state.remove('port', uuid(0x401));
    await r.idle();
    expect(r.status('port', uuid(0x403))?.state).toBe('ACTIVE');
    expect(contents(dp)).toEqual(expected(state));
  });

  it('retries a capacity failure on its own once the map grows (no change needed)', async () => {
    const state = seeded(2);
    const dp = new FakeDataplane({ capacity: { fdb: 2 } });
    const r = make(state, dp);
    await r.start();
    expect(r.status('port', uuid(0x402))?.code).toBe('RESOURCE_EXHAUSTED');
    dp.setCapacity('fdb', 10);
    await advance(r, 100); // the first retry, well before the full pass
    expect(r.passes.full).toBe(1);
    expect(r.status('port', uuid(0x402))?.state).toBe('ACTIVE');
    expect(contents(dp)).toEqual(expected(state));
  });

  it('any other failure is INTERNAL with the message, retried with backoff until it succeeds', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    dp.setFailure('arp', new Error('EPERM: operation not permitted'));
    const r = make(state, dp);
    await r.start();
    expect(r.isReady).toBe(true);
    const s = r.status('port', uuid(0x401));
    expect(s).toMatchObject({ state: 'ERROR', code: 'INTERNAL' });
    expect(s?.message).toContain('EPERM: operation not permitted');
    expect(r.status('network', NET1)?.state).toBe('ACTIVE');

    await advance(r, 100);
    await advance(r, 200);
    const passes = r.passes.incremental + r.passes.full;
    expect(passes).toBe(3); // first full, retries at +100 and +200 more

    dp.setFailure('arp', null);
    await advance(r, 400);
    expect(r.status('port', uuid(0x401))?.state).toBe('ACTIVE');
    expect(contents(dp)).toEqual(expected(state));
  });

  it('a table that cannot be listed fails its owners, still finishes the first pass, and is read again next time', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    dp.setFailure('localPorts', new Error('map not pinned'));
    const r = make(state, dp);
    await r.start();
    expect(r.status('port', uuid(0x401))).toMatchObject({ state: 'ERROR', code: 'INTERNAL', message: 'list localPorts: map not pinned' });
    expect(r.status('port', uuid(0x402))?.state).toBe('ACTIVE'); // remote: no local port entry
    dp.setFailure('localPorts', null);
    dp.clearOps();
    await advance(r, 100);
    expect(r.summary()?.kind).toBe('full');
    expect(r.status('port', uuid(0x401))?.state).toBe('ACTIVE');
  });

  it('a failed delete is retried, and a resource still owning the stale entry is ERROR meanwhile', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    const old = `1001/${port(1).macAddress}`;
    dp.setFailure('fdb', new Error('EBUSY'));
    state.put('port', { ...port(1), macAddress: 'fa:16:3e:99:99:99' });
    await r.idle();
    expect(dp.get('fdb', old)).toBeDefined();
    expect(r.status('port', uuid(0x401))).toMatchObject({ state: 'ERROR', code: 'INTERNAL', message: `delete fdb ${old}: EBUSY` });
    dp.setFailure('fdb', null);
    await advance(r, 100);
    expect(dp.get('fdb', old)).toBeUndefined();
    expect(contents(dp)).toEqual(expected(state));
    expect(r.status('port', uuid(0x401))?.state).toBe('ACTIVE');
  });

  it('a subnet with enable_dhcp is ERROR UNIMPLEMENTED (nothing serves DHCP), is not retried, and is ACTIVE once DHCP is off', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    const events: StatusEvent[] = [];
    r.onStatus((e) => events.push(e));
    state.put('subnet', { ...subnet(SUB1, NET1, '10.0.0.0/16', '10.0.0.1'), enableDhcp: true });
    const rev = state.revision;
    await r.idle();
    expect(r.status('subnet', SUB1)).toEqual({ state: 'ERROR', code: 'UNIMPLEMENTED', message: DHCP_UNIMPLEMENTED, revision: rev });
    expect(r.status('subnet', SUB1)?.message).toMatch(/^DHCP is not implemented yet: nothing answers DHCP on this subnet/);
    // Routing and the overlay do not suffer: the network, router and ports are ACTIVE, the tables complete.
    for (const [kind, id] of [['network', NET1], ['router', R1], ['port', uuid(0x401)], ['port', uuid(0x402)]] as const) {
      expect(r.status(kind, id)?.state, `${kind} ${id}`).toBe('ACTIVE');
    }
    expect(contents(dp)).toEqual(expected(state));
    expect(r.summary()).toMatchObject({ errors: 1, lastError: DHCP_UNIMPLEMENTED });

    // Waits for a change to the desired state: no retry before the periodic full pass, which settles it the same.
    const passes = { ...r.passes };
    await advance(r, INTERVAL - 1);
    expect(r.passes).toEqual(passes);
    await advance(r, 1);
    expect(r.passes).toEqual({ ...passes, full: passes.full + 1 });
    expect(r.status('subnet', SUB1)).toMatchObject({ state: 'ERROR', code: 'UNIMPLEMENTED' });

    state.put('subnet', subnet(SUB1, NET1, '10.0.0.0/16', '10.0.0.1'));
    await r.idle();
    expect(r.status('subnet', SUB1)).toEqual({ state: 'ACTIVE', code: '', message: '', revision: state.revision });
    expect(r.summary()).toMatchObject({ errors: 0, lastError: '' });
    expect(events.filter((e) => e.kind === 'subnet').map((e) => [e.status.state, e.status.code])).toEqual([
      ['PENDING', ''],
      ['ERROR', 'UNIMPLEMENTED'],
      ['PENDING', ''],
      ['ACTIVE', ''],
    ]);
  });

  it('a port with security groups is ERROR UNIMPLEMENTED but forwarded (its entries are in place), and ACTIVE once they are cleared', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    const before = contents(dp);
    const grouped = port(1, { securityGroupIds: [uuid(0x601), uuid(0x602)] });
    state.put('port', grouped);
    const rev = state.revision;
    await r.idle();
    expect(r.status('port', uuid(0x401))).toEqual({ state: 'ERROR', code: 'UNIMPLEMENTED', message: securityGroupsUnimplemented(grouped), revision: rev });
    expect(r.status('port', uuid(0x401))?.message).toMatch(/^security groups are not implemented yet: .* not enforced, so traffic they would block is forwarded; port security \(MAC\/IP anti-spoofing\) is enforced$/);
    // Nothing changed in the dataplane: the port's fdb, arp, localPorts and flood list entries stay.
    expect(contents(dp)).toEqual(before);
    expect(contents(dp)).toEqual(expected(state));
    expect(dp.get('localPorts', 'tap1')).toMatchObject({ portId: uuid(0x401), portSecurityEnabled: true });
    expect(r.status('port', uuid(0x403))?.state).toBe('ACTIVE');
    expect(r.status('network', NET1)?.state).toBe('ACTIVE');

    // No retries: nothing runs until the full pass.
    const passes = { ...r.passes };
    await advance(r, INTERVAL - 1);
    expect(r.passes).toEqual(passes);

    state.put('port', port(1));
    await r.idle();
    expect(r.status('port', uuid(0x401))).toEqual({ state: 'ACTIVE', code: '', message: '', revision: state.revision });
    expect(contents(dp)).toEqual(before);
  });

  it('a port with security groups whose entry fails says why it does not forward first, then that its groups are not enforced', async () => {
    const state = seeded();
    const dp = new FakeDataplane();
    const r = make(state, dp);
    await r.start();
    const missing = 'interface "tap5" is not present on this node (yet)';
    dp.setFailure('localPorts', new DataplaneError('UNAVAILABLE', missing));
    state.put('port', port(5, { securityGroupIds: [uuid(0x601)] }));
    await r.idle();
    expect(r.status('port', uuid(0x405))).toMatchObject({ state: 'ERROR', code: 'UNAVAILABLE', message: missing });

    // The interface appears: the retry applies the entry, and the port's status moves to the gap that remains.
    dp.setFailure('localPorts', null);
    await advance(r, 100);
    expect(dp.get('localPorts', 'tap5')).toMatchObject({ portId: uuid(0x405) });
    expect(r.status('port', uuid(0x405))).toMatchObject({ state: 'ERROR', code: 'UNIMPLEMENTED', message: expect.stringMatching(/^security groups are not implemented yet/) });

    // A problem that stops it from being rendered still comes first: another port takes its interface.
    state.put('port', port(3, { binding: { kind: 'local', interfaceName: 'tap5' } }));
    await r.idle();
    expect(r.status('port', uuid(0x405))).toMatchObject({ state: 'ERROR', code: 'ALREADY_EXISTS' });
    expect(dp.get('localPorts', 'tap5')).toMatchObject({ portId: uuid(0x403) });
  });

  it('forgets deleted resources', async () => {
    const state = seeded();
    const r = make(state, new FakeDataplane());
    await r.start();
    state.remove('port', uuid(0x401));
    expect(r.status('port', uuid(0x401))).toBeUndefined();
    await r.idle();
    expect(r.status('port', uuid(0x401))).toBeUndefined();
  });
});

describe('Reconciler: lifecycle', () => {
  it('runs no pass after stop', async () => {
    const state = seeded();
    const r = make(state, new FakeDataplane());
    await r.start();
    await r.stop();
    state.put('port', port(5));
    await advance(r, INTERVAL * 3);
    expect(r.passes).toEqual({ full: 1, incremental: 0 });
    expect(r.status('port', uuid(0x405))).toBeUndefined();
  });

  it('a throwing status listener does not break the pass', async () => {
    const state = seeded();
    const r = make(state, new FakeDataplane());
    r.onStatus(() => {
      throw new Error('listener bug');
    });
    await r.start();
    expect(r.status('port', uuid(0x401))?.state).toBe('ACTIVE');
  });
});

/** A FakeDataplane whose upserts can be held, to catch a pass in the middle. */
class GatedDataplane extends FakeDataplane {
  waiting = 0;
  private gate: Promise<void> | undefined;
  private release: (() => void) | undefined;

  close(): void {
    this.gate = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release?.();
    this.gate = undefined;
  }

  override async upsert<T extends TableName>(table: T, key: Parameters<FakeDataplane['upsert']>[1], value: TableValue<T>): Promise<void> {
    while (this.gate) {
      this.waiting++;
      await this.gate;
      this.waiting--;
    }
    return super.upsert(table, key as never, value);
  }
}
