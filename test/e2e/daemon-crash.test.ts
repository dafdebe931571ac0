// An acknowledged request is never lost: the real daemon, driven over its
// API by a stream of requests (one in flight at a time), is SIGKILLed at a
// random moment, several rounds over the same state directory. After each
// restart the state served over the API must be exactly the state after all
// acknowledged requests, or after those plus the one in flight (which may
// have become durable just before the kill): nothing lost, nothing half
// applied (a Sync that adds a block of ports is there entirely or not at all).
//
// And a clean restart: state created, daemon stopped with SIGTERM, started
// again, state and revision identical, health back to SERVING.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '../../src/api/client.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import type { XdpNetClient } from '../../src/gen/proto/xdpnet/v1/XdpNet.js';
import { TestDaemon } from '../helpers/daemon.js';
import { seededRandom } from '../helpers/random.js';

const SEED = Number(process.env.XDPNET_CRASH_SEED ?? 7_331);
const ROUNDS = 6;


const uuid = (tag: number, n: number): string =>
  `${tag.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const NET = uuid(1, 1);
const SUBNET = uuid(2, 1);

/** The expected state: port id → name, in the one network and subnet every round uses. */
type Model = Map<string, string>;

function portMessage(n: number, name: string): pb.Port {
  return {
    id: uuid(3, n),
    name,
    networkId: NET,
    macAddress: `fa:16:3e:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`,
    fixedIps: [{ subnetId: SUBNET, ipAddress: `10.0.${(n >> 8) & 0xff}.${(n & 0xff) + 0}` }],
    local: { interfaceName: `tap${n}` },
  };
}

interface Mutation {
  describe: string;
  send(client: XdpNetClient): Promise<unknown>;
  apply(model: Model): void;
}

/** The next request to send, valid against `model`. Port numbers stay in 1..4000 (inside 10.0.0.0/16, never .0/.255 pitfalls: n & 0xff in 1..254). */
function nextMutation(random: () => number, model: Model, counter: { next: number }, ports: Map<string, number>): Mutation {
  const fresh = (): number => {
    let n: number;
    do n = counter.next++;
    while ((n & 0xff) === 0 || (n & 0xff) === 255 || n === 1 /* 10.0.0.1 is the gateway */);
    return n;
  };
  const existing = [...model.keys()];
  const roll = random();
  if (roll < 0.55 || existing.length < 5) {
    const n = fresh();
    const msg = portMessage(n, `p${n}`);
    return {
      describe: `create ${msg.id}`,
      send: (c) => unary((cb) => c.createPort({ port: msg }, cb)),
      apply: (m) => {
        m.set(msg.id!, msg.name!);
        ports.set(msg.id!, n);
      },
    };
  }
  const victim = existing[Math.floor(random() * existing.length)]!;
  if (roll < 0.75) {
    const name = `renamed-${counter.next++}`;
    return {
      describe: `rename ${victim}`,
      send: (c) => unary((cb) => c.updatePort({ port: { ...portMessage(ports.get(victim)!, name) }, updateMask: ['name'] }, cb)),
      apply: (m) => void m.set(victim, name),
    };
  }
  if (roll < 0.9) {
    return {
      describe: `delete ${victim}`,
      send: (c) => unary((cb) => c.deletePort({ id: victim }, cb)),
      apply: (m) => void m.delete(victim),
    };
  }
  // A Sync that keeps everything and adds a block of 40 ports in one commit.
  const block = Array.from({ length: 40 }, () => fresh());
  return {
    describe: `sync +${block.length} ports`,
    send: (c) =>
      unary((cb) =>
        c.sync(
          {
            networks: [{ id: NET, segmentationId: 100 }],
            subnets: [{ id: SUBNET, networkId: NET, cidr: '10.0.0.0/16', gatewayIp: '10.0.0.1' }],
            ports: [
              ...[...model].map(([id, name]) => portMessage(ports.get(id)!, name)),
              ...block.map((n) => portMessage(n, `p${n}`)),
            ],
          },
          cb,
        ),
      ),
    apply: (m) => {
      for (const n of block) {
        m.set(uuid(3, n), `p${n}`);
        ports.set(uuid(3, n), n);
      }
    },
  };
}

async function servedPorts(client: XdpNetClient): Promise<Model> {
  const served: Model = new Map();
  let pageToken = '';
  do {
    const page = await unary<pb.ListPortsResponse__Output>((cb) => client.listPorts({ pageSize: 1000, pageToken }, cb));
    for (const p of page.ports) served.set(p.id, p.name);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return served;
}

const describeModel = (m: Model): string => `${m.size} ports`;

describe('xdpnetd crash safety (SIGKILL during a stream of requests)', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await TestDaemon.start();
  });
  afterAll(() => daemon?.cleanup());

  it(`keeps every acknowledged request and never half-applies one (${ROUNDS} rounds, seed ${SEED})`, async () => {
    const random = seededRandom(SEED);
    const counter = { next: 2 };
    const ports = new Map<string, number>();
    let model: Model = new Map();

    await daemon.waitServing();
    let client = daemon.client();
    await unary((cb) => client.createNetwork({ network: { id: NET, segmentationId: 100 } }, cb));
    await unary((cb) => client.createSubnet({ subnet: { id: SUBNET, networkId: NET, cidr: '10.0.0.0/16', gatewayIp: '10.0.0.1' } }, cb));

    let acknowledged = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Send requests one at a time until the kill lands.
      const killAfterMs = 150 + Math.floor(random() * 900);
      let killed = false;
      const killer = new Promise<void>((resolve) =>
        setTimeout(() => {
          killed = true;
          void daemon.kill().then(resolve);
        }, killAfterMs),
      );
      let inFlight: Mutation | undefined;
      while (!killed) {
        const mutation = nextMutation(random, model, counter, ports);
        inFlight = mutation;
        try {
          await mutation.send(client);
        } catch (err) {
          if (killed) break; // the kill cut it off: maybe durable, maybe not
          throw new Error(`${mutation.describe} refused while the daemon was up: ${(err as Error).message}`);
        }
        mutation.apply(model);
        acknowledged++;
        inFlight = undefined;
      }
      await killer;

      // Restart on the same state and compare.
      daemon.relaunch();
      await daemon.waitServing();
      client = daemon.client();
      const served = await servedPorts(client);
      const withInFlight: Model = new Map(model);
      inFlight?.apply(withInFlight);
      const matchesAcked = JSON.stringify([...served].sort()) === JSON.stringify([...model].sort());
      const matchesInFlight = JSON.stringify([...served].sort()) === JSON.stringify([...withInFlight].sort());
      expect(
        matchesAcked || matchesInFlight,
        `round ${round}: served ${describeModel(served)}; expected ${describeModel(model)} (acknowledged) ` +
          `or ${describeModel(withInFlight)} (with in-flight "${inFlight?.describe}")`,
      ).toBe(true);
      if (!matchesAcked) model = withInFlight;
    }
    // The stream really exercised the daemon.
    expect(acknowledged).toBeGreaterThan(ROUNDS * 5);
  });
});

describe('xdpnetd restart', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await TestDaemon.start();
  });
  afterAll(() => daemon?.cleanup());

  it('serves identical state and revision after SIGTERM and start, and is SERVING again', async () => {
    await daemon.waitServing();
    let client = daemon.client();
    await unary((cb) => client.createNetwork({ network: { id: NET, name: 'tenant', segmentationId: 4242 } }, cb));
    await unary((cb) => client.createSubnet({ subnet: { id: SUBNET, networkId: NET, cidr: '10.0.0.0/16' } }, cb));
    for (let n = 2; n < 30; n++) await unary((cb) => client.createPort({ port: portMessage(n, `p${n}`) }, cb));
    const before = await unary<pb.NodeStatus__Output>((cb) => client.getNodeStatus({}, cb));
    const portsBefore = await unary<pb.ListPortsResponse__Output>((cb) => client.listPorts({ pageSize: 1000 }, cb));

    const exit = await daemon.stop();
    expect(exit.code).toBe(0);
    daemon.relaunch();
    await daemon.waitServing();
    client = daemon.client();

    const after = await unary<pb.NodeStatus__Output>((cb) => client.getNodeStatus({}, cb));
    const portsAfter = await unary<pb.ListPortsResponse__Output>((cb) => client.listPorts({ pageSize: 1000 }, cb));
    expect(after.desiredRevision).toBe(before.desiredRevision);
    expect(after.resourceCounts).toEqual(before.resourceCounts);
    const strip = (ports: pb.Port__Output[]) => ports.map(({ status: _status, ...rest }) => rest);
    expect(strip(portsAfter.ports)).toEqual(strip(portsBefore.ports));
    expect(portsAfter.ports).toHaveLength(28);
    expect(await daemon.health('xdpnet.v1.XdpNet')).toBe('SERVING');
  });
});
