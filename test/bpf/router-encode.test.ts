// The router encoder (src/dataplane/router-encode.ts) against the real maps:
// the map definitions in xdp_port have the sizes and types the codecs write,
// the LPM trie does what the route keys promise (longest prefix within one
// router; another router's routes never match), and the maps as the kernel
// returns them decode to exactly the tables that were written.
// (xdp_route.test.ts runs frames through maps written by the same encoder.)
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MapType, type LoadedObject, loadObject } from '../../src/dataplane/index.js';
import { routeEntry, routeKey, routerIface, routerIfaceKey, routerInfo, routerKey } from '../../src/dataplane/layouts.js';
import type { RawEntry } from '../../src/dataplane/overlay-encode.js';
import {
  decodeRoute,
  decodeRouter,
  decodeRouterInterface,
  encodeRoute,
  encodeRouter,
  encodeRouterInterface,
  routeMapKey,
  routerInterfaceMapKeyIn,
} from '../../src/dataplane/router-encode.js';
import { canonicalJson } from '../../src/reconciler/canonical.js';
import { objectPath } from '../helpers/bpf.js';
import { describePrivileged } from '../helpers/privileged.js';
import { OVERLAY_LOAD } from './overlay-world.js';
import { ROUTER, routeTables } from './route-world.js';

describePrivileged('router-encode against xdp_port’s maps', ['bpf'], () => {
  let obj: LoadedObject;
  // Interface names do not matter to the routing tables.
  const w = routeTables((p) => `tap-${p}`);

  beforeAll(async () => {
    obj = await loadObject(objectPath('xdp_port'), OVERLAY_LOAD);
    const writes = [
      ...w.routers.map((e) => encodeRouter(e.key, e.value)),
      ...w.routerInterfaces.map((e) => encodeRouterInterface(e.key, e.value)),
      ...w.routes.map((e) => encodeRoute(e.key, e.value)),
    ];
    for (const write of writes) {
      const map = obj.map(write.map);
      try {
        map.update(write.key, write.value);
      } finally {
        map.close();
      }
    }
  });
  afterAll(() => obj?.close());

  const dump = (mapName: string): RawEntry[] => {
    const map = obj.map(mapName);
    try {
      return [...map.entries()].map(([key, value]) => ({ key, value }));
    } finally {
      map.close();
    }
  };
  const sorted = (list: unknown[]) => list.map((e) => canonicalJson(e)).sort();

  it('the maps are what the codecs write: types, key and value sizes', () => {
    const maps = obj.maps();
    const find = (name: string) => maps.find((m) => m.name === name.slice(0, 15) || m.name === name);
    expect(find('xdpnet_routers')).toMatchObject({ type: MapType.HASH, keySize: routerKey.size, valueSize: routerInfo.size });
    expect(find('xdpnet_router_ifaces')).toMatchObject({ type: MapType.HASH, keySize: routerIfaceKey.size, valueSize: routerIface.size });
    expect(find('xdpnet_routes')).toMatchObject({ type: MapType.LPM_TRIE, keySize: routeKey.size, valueSize: routeEntry.size });
  });

  it('every routing table round-trips through the kernel', () => {
    expect(sorted(dump('xdpnet_routers').map(decodeRouter))).toEqual(sorted(w.routers));
    expect(sorted(dump('xdpnet_router_ifaces').map(decodeRouterInterface))).toEqual(sorted(w.routerInterfaces));
    expect(sorted(dump('xdpnet_routes').map(decodeRoute))).toEqual(sorted(w.routes));
  });

  it('a router interface’s map key is found from its table key, as a delete needs', () => {
    const entries = dump('xdpnet_router_ifaces');
    for (const e of w.routerInterfaces) {
      expect(routerInterfaceMapKeyIn(entries, e.key)?.equals(encodeRouterInterface(e.key, e.value).key)).toBe(true);
    }
  });

  it('the LPM trie: longest prefix within a router, never another router’s route', () => {
    const routes = obj.map('xdpnet_routes');
    try {
      // A lookup key is a /32 of the destination; the trie returns the longest stored prefix.
      const lookup = (routerId: string, ip: string) => {
        const value = routes.lookup(routeMapKey({ routerId, prefix: `${ip}/32` }));
        return value === undefined ? undefined : decodeRoute({ key: routeMapKey({ routerId, prefix: '0.0.0.0/0' }), value }).value;
      };
      expect(lookup(ROUTER.a, '10.2.0.99')).toMatchObject({ kind: 'connected', vni: 20 });
      expect(lookup(ROUTER.a, '172.31.255.255')).toMatchObject({ kind: 'nexthop', nexthop: '10.2.0.12' });
      expect(lookup(ROUTER.a, '172.32.0.1')).toMatchObject({ kind: 'external' }); // outside /12: the default
      expect(lookup(ROUTER.b, '10.2.0.99')).toMatchObject({ kind: 'connected', vni: 120 });
      expect(lookup(ROUTER.b, '172.16.0.1')).toBeUndefined(); // A's static and default routes are A's
      expect(lookup(ROUTER.d, '10.1.0.11')).toBeUndefined();
    } finally {
      routes.close();
    }
  });
});
