// The desired tables, kept up to date change by change: what render() would
// return for the current state, at a cost proportional to what changed.
//
// render() (render.ts) stays the definition; this reuses its per-resource
// renderers (renderNetwork, renderSubnet, renderRouter, renderPort,
// renderFloatingIp) and only changes who resolves their output:
//
// - Fragments. Each network, subnet, router, port and floating IP has a
//   fragment (a subnet's holds problems only, and looks nothing up): the
//   claims (table, key, value) and problems its renderer made, in order, and
//   the lookups it made (its dependencies: a network, subnet or port by id, the
//   subnets of a network, the routers with a gateway on a network). A change to a resource re-renders its own fragment and those
//   that looked it up, nothing else. The state's resources are frozen and
//   replaced on change, so an unchanged object is an unchanged resource.
// - Claims per key. Every key keeps its claims sorted in render()'s order
//   (networks, subnets, routers, ports, floating IPs; by id; then in the order the
//   renderer made them). Re-resolving a key replays render()'s rule on them
//   alone: the first claim wins, equal values share the entry, a resource
//   overriding itself is silent, any other claim loses with ALREADY_EXISTS
//   (a problem of the loser, at the place of its claim among its problems).
// - Flood lists. Per VNI: the member ports, with reference counts of local
//   interfaces and remote VTEPs, and sorted arrays patched per member (or
//   rebuilt when many changed at once).
//
// flush() applies what was set since the last flush and returns the keys of
// entries that changed (value or owners), the resources whose problems
// changed and those that gained or lost an entry: what a pass has to look at.
// Entries whose value is JSON-equal to the previous one keep the previous
// value object, so that "unchanged" is mostly an identity check downstream.
// Values and keys are shared, never modified: treat them as frozen.

import type { AnyResource, FloatingIp, Network, Port, ResourceKind, Router, Snapshot, Subnet } from '../model/types.js';
import { sameJson } from './canonical.js';
import {
  CLAIM_RANK,
  type FloodMember,
  type ProblemOptions,
  type RenderLookup,
  type RenderNode,
  type RenderProblem,
  type RenderSink,
  alreadyTaken,
  firstContaining,
  renderFloatingIp,
  renderNetwork,
  renderPort,
  renderRouter,
  renderSubnet,
  reportedProblem,
} from './render.js';
import type { Failure } from './status.js';
import {
  type Entry,
  type ResourceRef,
  type TableKey,
  type TableName,
  type TableValue,
  type Tables,
  TABLE_NAMES,
  emptyTables,
  keyString,
  refKey,
} from './tables.js';

type FragmentKind = keyof typeof CLAIM_RANK;
/** A problem as its renderer reported it (RenderProblem without the ref). */
type Reported = Omit<RenderProblem, 'ref'>;

interface Claim {
  readonly frag: Fragment;
  /** The key's slot, once added. */
  slot: Slot | null;
  readonly seq: number;
  readonly table: TableName;
  readonly ks: string;
  readonly key: unknown;
  readonly value: unknown;
  /** Set when its key is resolved: its value is the entry's, so its resource owns the entry. */
  owning: boolean;
  /** Set when its key is resolved: the ALREADY_EXISTS message if it lost, else null. */
  conflict: string | null;
}

interface Fragment {
  readonly ref: ResourceRef;
  readonly refKey: string;
  readonly rank: number;
  readonly claims: Claim[];
  /** Claims and problems in the order the renderer made them. */
  readonly items: (Claim | Reported)[];
  /** What the renderer looked up: (kind of lookup, id) pairs, as two arrays. */
  readonly depKinds: Dep[];
  readonly depIds: string[];
  member: FloodMember | null;
}

/** One key's claims, in render()'s order. */
interface Slot {
  readonly table: TableName;
  readonly ks: string;
  readonly claims: Claim[];
  /** Queued for resolve. */
  dirty: boolean;
}

/** Lookups a fragment can depend on: a network, subnet, port by id; the subnets of a network; the gateway routers of a network. */
const enum Dep {
  Network = 0,
  Subnet = 1,
  Port = 2,
  SubnetsOf = 3,
  GatewayRoutersOf = 4,
}

interface FloodState {
  /** Member ports by id, with their (interned) refs. */
  readonly members: Map<string, { member: FloodMember; ref: ResourceRef }>;
  readonly local: Map<string, number>;
  readonly remote: Map<string, number>;
  /** Member port ids, sorted (brought up to date by rebuildFlood, in place). */
  ids: string[];
  /**
   * While the flood list has an entry: its owners, [network, ...member ports by
   * id], kept up to date in place (a copy per member would cost O(members)).
   * Shared with the entry, the applier's cache and failure records, which all
   * want the current owners. null while there is no entry: whoever held the
   * last array keeps it as it was, and a new one is made when an entry appears.
   */
  owners: ResourceRef[] | null;
  /** Sorted; replaced (they go into values), never changed. */
  localSorted: string[];
  remoteSorted: string[];
  /** What changed since the last rebuild. */
  readonly touchedIds: Set<string>;
  readonly touchedLocal: Set<string>;
  readonly touchedRemote: Set<string>;
}

/** What a flush changed. */
export interface RenderDelta {
  /** Keys (keyString) per table whose entry was added, removed, or changed value or owners. */
  dirty: Map<TableName, Set<string>>;
  /** Resources (refKey) whose problems changed. */
  problemsChanged: Set<string>;
  /** Resources that may have gained or lost ownership of an entry. */
  ownershipChanged: Set<ResourceRef>;
}

/** Work counters, for tests (a count, not a timing) and diagnostics. */
export interface RenderWork {
  /** Per-resource renders (fragments). */
  fragments: number;
  /** Keys whose claims were re-resolved. */
  keys: number;
  /** Flood lists rebuilt. */
  floodLists: number;
}

const isClaim = (item: Claim | Reported): item is Claim => 'frag' in item;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
/** render()'s claim order: rank, id, then the order within the resource's render. */
const claimBefore = (a: Claim, b: Claim): boolean =>
  a.frag.rank !== b.frag.rank ? a.frag.rank < b.frag.rank : a.frag.ref.id !== b.frag.ref.id ? a.frag.ref.id < b.frag.ref.id : a.seq < b.seq;
const EMPTY: readonly never[] = Object.freeze([]);
/** Above this many member changes at once, a flood list's sorted arrays are rebuilt rather than patched. */
const PATCH_LIMIT = 32;

type Mirror = {
  network: Map<string, Network>;
  subnet: Map<string, Subnet>;
  port: Map<string, Port>;
  router: Map<string, Router>;
  floatingIp: Map<string, FloatingIp>;
};

export class IncrementalRender {
  /** The desired entries: equal to render(state, node).tables after every flush. */
  readonly tables: Tables = emptyTables();
  readonly work: RenderWork = { fragments: 0, keys: 0, floodLists: 0 };

  // The state, as set.
  private readonly resources: Mirror = {
    network: new Map(),
    subnet: new Map(),
    port: new Map(),
    router: new Map(),
    floatingIp: new Map(),
  };
  private readonly subnetsByNetwork = new Map<string, Map<string, Subnet>>();
  private readonly subnetsSorted = new Map<string, Subnet[]>();
  private readonly gatewayRouters = new Map<string, Map<string, Router>>();
  private readonly gatewaySorted = new Map<string, Router[]>();

  // Fragments and what they depend on.
  private readonly fragments = new Map<string, Fragment>();
  /** Per Dep, by id: the fragments (refKey) that made that lookup. */
  private readonly dependents: Map<string, Set<string>>[] = [new Map(), new Map(), new Map(), new Map(), new Map()];
  private readonly refs = new Map<string, ResourceRef>();

  // Claims per key, flood lists, problems.
  private readonly slots = new Map<TableName, Map<string, Slot>>(TABLE_NAMES.map((t) => [t, new Map()]));
  private readonly floods = new Map<number, FloodState>();
  private readonly problems = new Map<string, RenderProblem[]>();
  private problemTotal = 0;

  // Work pending for the next flush.
  /** By refKey: the (interned) refs of resources to render again. */
  private readonly dirtyFragments = new Map<string, ResourceRef>();
  private dirtySlots: Slot[] = [];
  private readonly dirtyFloods = new Set<number>();
  private readonly dirtyProblems = new Set<string>();
  private delta: RenderDelta = newDelta();
  /** Writes one fragment at a time: rerender points it at the fragment. */
  private readonly recorder = new Recorder(this);

  constructor(private readonly node: RenderNode) {}

  // ------------------------------------------------------------------ input

  /** A resource as it now is (undefined: deleted). Takes effect at the next flush. */
  set(kind: ResourceKind, id: string, resource: AnyResource | undefined): void {
    const map = this.resources[kind] as Map<string, AnyResource>;
    const old = map.get(id);
    if (old === resource) return;
    if (resource) map.set(id, resource);
    else map.delete(id);
    switch (kind) {
      case 'network':
        this.invalidate(Dep.Network, id);
        this.dirtyFragment('network', id);
        break;
      case 'subnet': {
        const before = old as Subnet | undefined;
        const after = resource as Subnet | undefined;
        if (before) this.subnetsByNetwork.get(before.networkId)?.delete(id);
        if (after) getOrCreate(this.subnetsByNetwork, after.networkId, () => new Map()).set(id, after);
        this.invalidate(Dep.Subnet, id);
        this.dirtyFragment('subnet', id);
        for (const s of [before, after]) {
          if (!s) continue;
          this.subnetsSorted.delete(s.networkId);
          this.invalidate(Dep.SubnetsOf, s.networkId);
        }
        break;
      }
      case 'port':
        this.invalidate(Dep.Port, id);
        this.dirtyFragment('port', id);
        break;
      case 'router': {
        const before = (old as Router | undefined)?.externalGateway?.networkId;
        const after = (resource as Router | undefined)?.externalGateway?.networkId;
        if (before !== undefined) this.gatewayRouters.get(before)?.delete(id);
        if (after !== undefined) getOrCreate(this.gatewayRouters, after, () => new Map()).set(id, resource as Router);
        for (const net of [before, after]) {
          if (net === undefined) continue;
          this.gatewaySorted.delete(net);
          this.invalidate(Dep.GatewayRoutersOf, net);
        }
        this.dirtyFragment('router', id);
        break;
      }
      case 'floatingIp':
        this.dirtyFragment('floatingIp', id);
        break;
    }
  }

  /** Makes the state equal to a snapshot: sets what differs (by identity) and deletes what is missing. */
  resync(snapshot: Snapshot): void {
    const lists: [ResourceKind, readonly AnyResource[]][] = [
      ['network', snapshot.networks],
      ['subnet', snapshot.subnets],
      ['port', snapshot.ports],
      ['router', snapshot.routers],
      ['floatingIp', snapshot.floatingIps],
    ];
    for (const [kind, list] of lists) {
      const map = this.resources[kind] as Map<string, AnyResource>;
      const seen = new Set<string>();
      for (const r of list) {
        seen.add(r.id);
        if (map.get(r.id) !== r) this.set(kind, r.id, r);
      }
      const gone = [...map.keys()].filter((id) => !seen.has(id));
      for (const id of gone) this.set(kind, id, undefined);
    }
  }

  // ------------------------------------------------------------------ output

  /** Brings `tables` and the problems up to date with everything set so far. */
  flush(): RenderDelta {
    for (const [fk, ref] of this.dirtyFragments) this.rerender(fk, ref);
    this.dirtyFragments.clear();
    const slots = this.dirtySlots;
    this.dirtySlots = [];
    for (const slot of slots) this.resolve(slot);
    for (const vni of this.dirtyFloods) this.rebuildFlood(vni);
    this.dirtyFloods.clear();
    for (const fk of this.dirtyProblems) this.rebuildProblems(fk);
    this.dirtyProblems.clear();
    const delta = this.delta;
    this.delta = newDelta();
    return delta;
  }

  resource(kind: ResourceKind, id: string): AnyResource | undefined {
    return this.resources[kind].get(id);
  }

  /** A resource's render problems (the first one is its status), or undefined. */
  problemsOf(refKeyString: string): readonly RenderProblem[] | undefined {
    return this.problems.get(refKeyString);
  }

  /** How many problems there are in all. */
  get problemCount(): number {
    return this.problemTotal;
  }

  /** The problem render() would list last. */
  lastProblem(): RenderProblem | undefined {
    let last: Fragment | undefined;
    for (const fk of this.problems.keys()) {
      const f = this.fragments.get(fk);
      if (f && (!last || f.rank > last.rank || (f.rank === last.rank && f.ref.id > last.ref.id))) last = f;
    }
    const list = last && this.problems.get(last.refKey);
    return list?.[list.length - 1];
  }

  /**
   * Sorts keys of a table into render()'s order (the order of each key's
   * winning claim; flood lists by VNI): the order upserts go in, which decides
   * who gets into a map that is nearly full.
   */
  sortInRenderOrder(table: TableName, keys: string[]): void {
    if (keys.length < 2) return;
    if (table === 'floodList') {
      keys.sort((a, b) => Number(a) - Number(b));
      return;
    }
    const slots = this.slots.get(table)!;
    const decorated = keys.map((ks) => ({ ks, claim: slots.get(ks)?.claims[0] }));
    decorated.sort((a, b) => {
      if (!a.claim || !b.claim) return a.claim ? -1 : b.claim ? 1 : 0;
      return claimBefore(a.claim, b.claim) ? -1 : claimBefore(b.claim, a.claim) ? 1 : 0;
    });
    for (let i = 0; i < keys.length; i++) keys[i] = decorated[i]!.ks;
  }

  /** The entries (table, keyString) a resource is an owner of. */
  ownedEntries(refKeyString: string): [TableName, string][] {
    const frag = this.fragments.get(refKeyString);
    if (!frag) return [];
    const out: [TableName, string][] = [];
    for (const c of frag.claims) {
      if (c.owning && !out.some(([t, k]) => t === c.table && k === c.ks)) out.push([c.table, c.ks]);
    }
    if (frag.member) {
      if (this.tables.floodList.has(String(frag.member.vni))) out.push(['floodList', String(frag.member.vni)]);
    } else if (frag.ref.kind === 'network') {
      const network = this.resources.network.get(frag.ref.id);
      const ks = network?.type === 'vxlan' ? String(network.segmentationId) : undefined;
      if (ks !== undefined && this.tables.floodList.has(ks) && this.floodNetwork(network!.segmentationId) === network!.id) {
        out.push(['floodList', ks]);
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ fragments

  private dirtyFragment(kind: FragmentKind, id: string): void {
    const fk = `${kind}/${id}`;
    if (!this.dirtyFragments.has(fk)) this.dirtyFragments.set(fk, this.ref(kind, id, fk));
  }

  private invalidate(dep: Dep, id: string): void {
    const fks = this.dependents[dep]!.get(id);
    if (!fks) return;
    for (const fk of fks) {
      const frag = this.fragments.get(fk);
      if (frag) this.dirtyFragments.set(fk, frag.ref);
    }
  }

  private ref(kind: ResourceKind, id: string, key = `${kind}/${id}`): ResourceRef {
    let ref = this.refs.get(key);
    if (!ref) this.refs.set(key, (ref = Object.freeze({ kind, id })));
    return ref;
  }

  private rerender(fk: string, ref: ResourceRef): void {
    const kind = ref.kind as FragmentKind;
    const old = this.fragments.get(fk);
    if (old) this.unregister(old);
    if (this.problems.has(fk)) this.dirtyProblems.add(fk);
    const resource = this.resources[kind].get(ref.id);
    if (!resource) {
      this.fragments.delete(fk);
      this.refs.delete(fk);
      this.dirtyProblems.add(fk);
      return;
    }
    const frag: Fragment = {
      ref,
      refKey: fk,
      rank: CLAIM_RANK[kind],
      claims: [],
      items: [],
      depKinds: [],
      depIds: [],
      member: null,
    };
    const recorder = this.recorder;
    recorder.frag = frag;
    switch (kind) {
      case 'network':
        renderNetwork(recorder, resource as Network);
        break;
      case 'subnet':
        renderSubnet(recorder, resource as Subnet);
        break;
      case 'router':
        renderRouter(recorder, recorder, resource as Router, this.node);
        break;
      case 'port':
        frag.member = renderPort(recorder, recorder, resource as Port, this.node);
        break;
      case 'floatingIp':
        renderFloatingIp(recorder, recorder, resource as FloatingIp, this.node);
        break;
    }
    this.work.fragments++;
    this.fragments.set(fk, frag);
    for (let i = 0; i < frag.depKinds.length; i++) {
      const map = this.dependents[frag.depKinds[i]!]!;
      const id = frag.depIds[i]!;
      const set = map.get(id);
      if (set) set.add(fk);
      else map.set(id, new Set([fk]));
    }
    for (const claim of frag.claims) this.addClaim(claim);
    if (frag.member) this.addMember(frag.ref, frag.member);
    // Problems are rebuilt if the renderer reported any, or had; lost claims are flagged when resolved.
    if (frag.items.length > frag.claims.length || this.problems.has(fk)) this.dirtyProblems.add(fk);
  }

  private unregister(frag: Fragment): void {
    for (let i = 0; i < frag.depKinds.length; i++) {
      const map = this.dependents[frag.depKinds[i]!]!;
      const set = map.get(frag.depIds[i]!);
      set?.delete(frag.refKey);
      if (set?.size === 0) map.delete(frag.depIds[i]!);
    }
    for (const claim of frag.claims) this.removeClaim(claim);
    if (frag.member) this.removeMember(frag.ref, frag.member);
  }

  // ------------------------------------------------------------------ lookups (for Recorder)

  /** @internal */
  lookupSubnetsOf(networkId: string): Subnet[] {
    let sorted = this.subnetsSorted.get(networkId);
    if (!sorted) {
      sorted = [...(this.subnetsByNetwork.get(networkId)?.values() ?? [])].sort((a, b) => cmp(a.id, b.id));
      this.subnetsSorted.set(networkId, sorted);
    }
    return sorted;
  }

  /** @internal */
  lookupGatewayRouters(networkId: string): Router[] {
    let sorted = this.gatewaySorted.get(networkId);
    if (!sorted) {
      sorted = [...(this.gatewayRouters.get(networkId)?.values() ?? [])].sort((a, b) => cmp(a.id, b.id));
      this.gatewaySorted.set(networkId, sorted);
    }
    return sorted;
  }

  /** @internal */
  lookupNetwork(id: string): Network | undefined {
    return this.resources.network.get(id);
  }

  /** @internal */
  lookupSubnet(id: string): Subnet | undefined {
    return this.resources.subnet.get(id);
  }

  /** @internal */
  lookupPort(id: string): Port | undefined {
    return this.resources.port.get(id);
  }

  // ------------------------------------------------------------------ claims

  private addClaim(claim: Claim): void {
    const slots = this.slots.get(claim.table)!;
    let slot = slots.get(claim.ks);
    if (!slot) {
      slots.set(claim.ks, (slot = { table: claim.table, ks: claim.ks, claims: [claim], dirty: false }));
    } else {
      const claims = slot.claims;
      let i = claims.length;
      while (i > 0 && claimBefore(claim, claims[i - 1]!)) i--;
      claims.splice(i, 0, claim);
    }
    claim.slot = slot;
    this.dirtySlot(slot);
  }

  private removeClaim(claim: Claim): void {
    const slot = claim.slot;
    if (!slot) return;
    const i = slot.claims.indexOf(claim);
    if (i >= 0) slot.claims.splice(i, 1);
    claim.slot = null;
    this.dirtySlot(slot);
  }

  private dirtySlot(slot: Slot): void {
    if (slot.dirty) return;
    slot.dirty = true;
    this.dirtySlots.push(slot);
  }

  /** render()'s Builder.put, replayed over one key's claims in order. */
  private resolve(slot: Slot): void {
    this.work.keys++;
    slot.dirty = false;
    const { table, ks, claims } = slot;
    const map = this.tables[table] as Map<string, Entry>;
    const old = map.get(ks);
    const winner = claims[0];
    if (!winner) {
      const slots = this.slots.get(table)!;
      if (slots.get(ks) === slot) slots.delete(ks);
      if (old) {
        map.delete(ks);
        this.entryChanged(table, ks, old.owners, EMPTY);
      }
      return;
    }
    this.setOutcome(winner, true, null);
    if (claims.length === 1 && !old) {
      // The common case: a new key with one claim.
      const owners = [winner.frag.ref];
      map.set(ks, { key: winner.key as never, value: winner.value as never, owners });
      this.dirtyKey(table, ks);
      this.delta.ownershipChanged.add(winner.frag.ref);
      return;
    }
    const holders: Fragment[] = [winner.frag];
    for (let i = 1; i < claims.length; i++) {
      const c = claims[i]!;
      if (sameJson(winner.value, c.value)) {
        this.setOutcome(c, true, null);
        if (!holders.includes(c.frag)) holders.push(c.frag);
      } else if (holders.includes(c.frag)) {
        this.setOutcome(c, false, null); // a resource overriding itself
      } else {
        this.setOutcome(c, false, alreadyTaken(table, ks, sortedRefs(holders)));
      }
    }
    const owners = holders.length === 1 ? [winner.frag.ref] : sortedRefs(holders);
    const value = old && (old.value === winner.value || sameJson(old.value, winner.value)) ? old.value : winner.value;
    if (old && old.value === value && sameRefs(old.owners, owners)) return;
    map.set(ks, { key: (old?.key ?? winner.key) as never, value: value as never, owners });
    this.entryChanged(table, ks, old?.owners ?? EMPTY, owners);
  }

  private setOutcome(claim: Claim, owning: boolean, conflict: string | null): void {
    claim.owning = owning;
    if (claim.conflict !== conflict) {
      claim.conflict = conflict;
      this.dirtyProblems.add(claim.frag.refKey);
    }
  }

  private dirtyKey(table: TableName, ks: string): void {
    const keys = this.delta.dirty.get(table);
    if (keys) keys.add(ks);
    else this.delta.dirty.set(table, new Set([ks]));
  }

  private entryChanged(table: TableName, ks: string, before: readonly ResourceRef[], after: readonly ResourceRef[]): void {
    this.dirtyKey(table, ks);
    if (sameRefs(before, after)) return;
    const changed = this.delta.ownershipChanged;
    const same = (a: ResourceRef, b: ResourceRef): boolean => a.kind === b.kind && a.id === b.id;
    for (const r of before) if (!after.some((a) => same(a, r))) changed.add(r);
    for (const r of after) if (!before.some((b) => same(b, r))) changed.add(r);
  }

  // ------------------------------------------------------------------ flood lists

  private flood(vni: number): FloodState {
    const existing = this.floods.get(vni);
    if (existing) return existing;
    return getOrCreate(this.floods, vni, () => ({
      members: new Map(),
      local: new Map(),
      remote: new Map(),
      ids: [],
      owners: null,
      localSorted: [],
      remoteSorted: [],
      touchedIds: new Set(),
      touchedLocal: new Set(),
      touchedRemote: new Set(),
    }));
  }

  private addMember(ref: ResourceRef, member: FloodMember): void {
    const f = this.flood(member.vni);
    f.members.set(ref.id, { member, ref });
    f.touchedIds.add(ref.id);
    if (member.local !== null && count(f.local, member.local, +1) === 1) f.touchedLocal.add(member.local);
    if (member.remote !== null && count(f.remote, member.remote, +1) === 1) f.touchedRemote.add(member.remote);
    this.dirtyFloods.add(member.vni);
    this.delta.ownershipChanged.add(ref);
  }

  private removeMember(ref: ResourceRef, member: FloodMember): void {
    const f = this.flood(member.vni);
    f.members.delete(ref.id);
    f.touchedIds.add(ref.id);
    if (member.local !== null && count(f.local, member.local, -1) === 0) f.touchedLocal.add(member.local);
    if (member.remote !== null && count(f.remote, member.remote, -1) === 0) f.touchedRemote.add(member.remote);
    this.dirtyFloods.add(member.vni);
    this.delta.ownershipChanged.add(ref);
  }

  /** The network owning a VNI's flood list: that of its first member port by id. */
  private floodNetwork(vni: number): string | undefined {
    const f = this.floods.get(vni);
    const first = f?.ids[0];
    return first === undefined ? undefined : f!.members.get(first)?.member.networkId;
  }

  private rebuildFlood(vni: number): void {
    this.work.floodLists++;
    const f = this.floods.get(vni);
    if (!f) return;
    if (f.touchedIds.size > PATCH_LIMIT) {
      f.ids = [...f.members.keys()].sort(cmp);
      f.owners = null; // made anew below
    } else {
      for (const id of f.touchedIds) {
        const i = search(f.ids, id);
        const m = f.members.get(id);
        if (m && i < 0) {
          f.ids.splice(~i, 0, id);
          f.owners?.splice(~i + 1, 0, m.ref);
        } else if (m && i >= 0) {
          if (f.owners) f.owners[i + 1] = m.ref;
        } else if (!m && i >= 0) {
          f.ids.splice(i, 1);
          f.owners?.splice(i + 1, 1);
        }
      }
    }
    const valueChanged = f.touchedLocal.size > 0 || f.touchedRemote.size > 0;
    if (f.touchedLocal.size > 0) f.localSorted = resort(f.localSorted, f.local, f.touchedLocal);
    if (f.touchedRemote.size > 0) f.remoteSorted = resort(f.remoteSorted, f.remote, f.touchedRemote);
    f.touchedIds.clear();
    f.touchedLocal.clear();
    f.touchedRemote.clear();

    const ks = String(vni);
    const map = this.tables.floodList;
    const old = map.get(ks);
    if (f.localSorted.length === 0 && f.remoteSorted.length === 0) {
      f.owners = null;
      if (old) {
        map.delete(ks);
        this.entryChanged('floodList', ks, old.owners, EMPTY);
      }
      if (f.members.size === 0) this.floods.delete(vni);
      return;
    }
    const network = this.ref('network', f.members.get(f.ids[0]!)!.member.networkId);
    let value = old?.value;
    if (!old || valueChanged) {
      const next = { remoteVteps: f.remoteSorted, localInterfaces: f.localSorted };
      if (!old || !sameJson(old.value, next)) value = next;
    }
    const before = old?.owners[0];
    if (!f.owners) {
      const next = [network, ...f.ids.map((id) => f.members.get(id)!.ref)];
      // The entry's array is this flood list's own (it was f.owners): keep it if nothing changed.
      f.owners = old && sameRefs(old.owners, next) ? (old.owners as ResourceRef[]) : next;
    } else {
      f.owners[0] = network;
    }
    if (!old) {
      map.set(ks, { key: { vni }, value: value!, owners: f.owners });
      this.entryChanged('floodList', ks, EMPTY, f.owners);
      return;
    }
    // Member ports were marked when they joined or left; the network owner is all that is left.
    if (before && (before.kind !== network.kind || before.id !== network.id)) {
      this.delta.ownershipChanged.add(before);
      this.delta.ownershipChanged.add(network);
    }
    // Owners changed in place need no new entry; a new value or a new owners array does.
    if (value === old.value && f.owners === old.owners) return;
    map.set(ks, { key: old.key, value: value!, owners: f.owners });
    this.dirtyKey('floodList', ks);
  }

  // ------------------------------------------------------------------ problems

  private rebuildProblems(fk: string): void {
    const frag = this.fragments.get(fk);
    const list: RenderProblem[] = [];
    if (frag) {
      for (const item of frag.items) {
        if (!isClaim(item)) list.push({ ref: frag.ref, ...item });
        else if (item.conflict !== null) list.push({ ref: frag.ref, code: 'ALREADY_EXISTS', message: item.conflict });
      }
    }
    const old = this.problems.get(fk) ?? EMPTY;
    if (old.length === list.length && old.every((p, i) => p.code === list[i]!.code && p.message === list[i]!.message && p.partial === list[i]!.partial)) {
      return;
    }
    this.problemTotal += list.length - old.length;
    if (list.length > 0) this.problems.set(fk, list);
    else this.problems.delete(fk);
    this.delta.problemsChanged.add(fk);
  }
}

/** What one resource's renderer writes and looks up, recorded into its fragment. */
class Recorder implements RenderSink, RenderLookup {
  frag!: Fragment;

  constructor(private readonly engine: IncrementalRender) {}

  put<T extends TableName>(table: T, key: TableKey<T>, value: TableValue<T>, owners: ResourceRef[]): void {
    const [owner, ...more] = owners;
    if (!owner || more.length > 0 || owner.kind !== this.frag.ref.kind || owner.id !== this.frag.ref.id) {
      throw new Error(`a ${this.frag.ref.kind} renderer claimed ${table} for ${owners.map(refKey).join(', ')}`);
    }
    const claim: Claim = {
      frag: this.frag,
      slot: null,
      seq: this.frag.claims.length,
      table,
      ks: keyString(table, key),
      key,
      value,
      owning: false,
      conflict: null,
    };
    this.frag.claims.push(claim);
    this.frag.items.push(claim);
  }

  problem(ref: ResourceRef, code: Failure['code'], message: string, options?: ProblemOptions): void {
    if (ref.kind !== this.frag.ref.kind || ref.id !== this.frag.ref.id) {
      throw new Error(`a ${this.frag.ref.kind} renderer reported a problem of ${refKey(ref)}`);
    }
    this.frag.items.push(reportedProblem(code, message, options));
  }

  private dep(kind: Dep, id: string): void {
    this.frag.depKinds.push(kind);
    this.frag.depIds.push(id);
  }

  network(id: string): Network | undefined {
    this.dep(Dep.Network, id);
    return this.engine.lookupNetwork(id);
  }

  subnet(id: string): Subnet | undefined {
    this.dep(Dep.Subnet, id);
    return this.engine.lookupSubnet(id);
  }

  port(id: string): Port | undefined {
    this.dep(Dep.Port, id);
    return this.engine.lookupPort(id);
  }

  subnetContaining(networkId: string, ip: string): Subnet | undefined {
    this.dep(Dep.SubnetsOf, networkId);
    return firstContaining(this.engine.lookupSubnetsOf(networkId), ip);
  }

  routersWithGatewayOn(networkId: string): readonly Router[] {
    this.dep(Dep.GatewayRoutersOf, networkId);
    return this.engine.lookupGatewayRouters(networkId);
  }
}

function newDelta(): RenderDelta {
  return { dirty: new Map(), problemsChanged: new Set(), ownershipChanged: new Set() };
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = create()));
  return v;
}

/** Adjusts a reference count; returns the new count. */
function count(counts: Map<string, number>, key: string, by: 1 | -1): number {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
  return n;
}

/** Index of `item` in a sorted array, or the bitwise complement of where it would go. */
function search(sorted: readonly string[], item: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === item) return mid;
    if (v < item) lo = mid + 1;
    else hi = mid;
  }
  return ~lo;
}

/** Inserts or removes `item` in a sorted array (in place). */
function patchSorted(sorted: string[], item: string, present: boolean): void {
  const i = search(sorted, item);
  if (present && i < 0) sorted.splice(~i, 0, item);
  else if (!present && i >= 0) sorted.splice(i, 1);
}

/** A new sorted array of the keys of `counts`, from the previous one and the keys that came or went. */
function resort(previous: string[], counts: ReadonlyMap<string, number>, touched: ReadonlySet<string>): string[] {
  if (touched.size > PATCH_LIMIT) return [...counts.keys()].sort(cmp);
  if (touched.size === 1) {
    // One name came or went (the usual case): one copy, not a copy and a splice.
    const [item] = touched as Set<string>;
    const i = search(previous, item!);
    if (counts.has(item!)) return i < 0 ? previous.toSpliced(~i, 0, item!) : previous;
    return i >= 0 ? previous.toSpliced(i, 1) : previous;
  }
  const next = previous.slice();
  for (const item of touched) patchSorted(next, item, counts.has(item));
  return next;
}

function sortedRefs(frags: readonly Fragment[]): ResourceRef[] {
  return [...frags].sort((a, b) => cmp(a.refKey, b.refKey)).map((f) => f.ref);
}

function sameRefs(a: readonly ResourceRef[], b: readonly ResourceRef[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.kind !== b[i]!.kind || a[i]!.id !== b[i]!.id) return false;
  return true;
}
