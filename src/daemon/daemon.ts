// xdpnetd: desired state + reconciler + dataplane + API, started and stopped
// in one place.
//
// Start order matters: the desired state is loaded first (nothing can be
// acknowledged before it is durable), the dataplane adopts what is pinned,
// the API starts NOT_SERVING, and health turns SERVING when the reconciler's
// first full pass has finished. Stop leaves the dataplane running.

import type { Server as HttpServer } from 'node:http';
import type { Logger as PinoLogger } from 'pino';
import { ApiServer, type ListenOptions } from '../api/server.js';
import { ConntrackGc } from '../dataplane/conntrack-gc.js';
import { ExternalNexthops } from '../dataplane/external-nexthops.js';
import { EXT_NEXTHOPS_MAP_NAME, EXT_NH_MISS_MAP_NAME, SNAT_CT_MAP_NAME } from '../dataplane/layouts.js';
import { NetlinkEvents } from '../dataplane/netlink-events.js';
import { UnderlayNexthops } from '../dataplane/nexthops.js';
import { NodeDataplane } from '../dataplane/node.js';
import { OverlayTables } from '../dataplane/overlay-tables.js';
import { RouterTables } from '../dataplane/router-tables.js';
import { ExternalAnnouncer } from '../dataplane/snat-announce.js';
import { SnatTables } from '../dataplane/snat-tables.js';
import { FipTables } from '../dataplane/fip-tables.js';
import { VtepDemand } from '../dataplane/vtep-demand.js';
import { BpfTables } from '../dataplane/tables.js';
import { FakeDataplane } from '../reconciler/fake-dataplane.js';
import { Reconciler } from '../reconciler/reconciler.js';
import type { Dataplane } from '../reconciler/dataplane.js';
import { DesiredState } from '../store/desired-state.js';
import type { Config } from './config.js';
import { createApiContext } from './api-context.js';
import { createRegistry, serveMetrics } from './metrics.js';

/** What the BPF dataplane runs besides the reconciler: the node's programs and maps, and what follows the kernel. */
interface BpfParts {
  node: NodeDataplane;
  /** rtnetlink notifications, shared by the next hops and the interface watch. */
  events: NetlinkEvents;
  /** Keeps xdpnet_nexthops resolved for the VTEPs the flood lists name. */
  nexthops: UnderlayNexthops;
  /** Expires SNAT connections (xdpnet_snat_ct). */
  conntrack: ConntrackGc;
  /** On a node with external NICs: keeps xdpnet_ext_nexthops resolved, and announces external IPs. */
  external?: { nexthops: ExternalNexthops; announcer: ExternalAnnouncer };
}

/** Stops following the kernel and closes handles; programs stay attached, maps pinned. */
function closeBpf(parts: Partial<BpfParts>): void {
  parts.conntrack?.close();
  parts.external?.nexthops.close();
  parts.external?.announcer.close();
  parts.nexthops?.close();
  parts.events?.close();
  parts.node?.close();
}

export class Daemon {
  private constructor(
    private readonly logger: PinoLogger,
    private readonly state: DesiredState,
    private readonly bpf: BpfParts | undefined,
    private readonly reconciler: Reconciler,
    private readonly api: ApiServer,
    private readonly metrics: HttpServer | undefined,
  ) {}

  get listening(): readonly string[] {
    return this.api.listening;
  }

  /** Resolves once every part is up; health turns SERVING later, when `ready` resolves. */
  static async start(config: Config, logger: PinoLogger): Promise<Daemon> {
    const startedUnixMs = Date.now();
    const state = await DesiredState.open(config.state_dir, {
      onListenerError: (err) => logger.error({ err }, 'a desired-state listener threw'),
    });
    const bpf: Partial<BpfParts> = {};
    let reconciler: Reconciler | undefined;
    let api: ApiServer | undefined;
    try {
      let tables: Dataplane;
      if (config.dataplane === 'bpf') {
        const { snat } = config;
        const node = await NodeDataplane.start({
          bpffsRoot: config.bpffs_root,
          vtepIp: config.vtep_ip,
          underlayInterface: config.underlay_interface,
          physicalNetworks: config.physical_networks,
          snat: {
            portMin: snat.port_range.min,
            portMax: snat.port_range.max,
            conntrackMax: snat.conntrack_max,
            dropUnsolicited: snat.drop_unsolicited,
            verifyIpv4Checksum: snat.verify_ipv4_checksum,
          },
          logger,
        });
        bpf.node = node;
        bpf.events = await NetlinkEvents.open({ logger });
        bpf.nexthops = await UnderlayNexthops.start({
          map: node.maps.requireShared('xdpnet_nexthops'),
          underlayInterface: config.underlay_interface,
          logger,
          events: bpf.events,
        });
        if (node.externalInterfaces.size > 0) {
          bpf.external = {
            nexthops: ExternalNexthops.start({
              map: node.maps.require(EXT_NEXTHOPS_MAP_NAME),
              missMap: node.maps.require(EXT_NH_MISS_MAP_NAME),
              events: bpf.events,
              logger,
            }),
            announcer: new ExternalAnnouncer(node.externalProgram, logger),
          };
        }
        const external = bpf.external;
        let snatTables: SnatTables | undefined;
        const t = snat.timeouts;
        const conntrack = new ConntrackGc({
          map: node.maps.require(SNAT_CT_MAP_NAME),
          timeouts: {
            tcpEstablished: t.tcp_established_seconds,
            tcpOpening: t.tcp_opening_seconds,
            tcpClosing: t.tcp_closing_seconds,
            tcpReset: t.tcp_reset_seconds,
            udp: t.udp_seconds,
            udpReplied: t.udp_replied_seconds,
            icmp: t.icmp_seconds,
          },
          intervalMs: snat.gc_interval_seconds * 1000,
          logger,
          liveZones: () => snatTables?.liveZones(),
          ...(external ? { remotes: external.nexthops } : {}),
        });
        bpf.conntrack = conntrack;
        // The table is counted by the collector's walks, not key by key on every status or scrape.
        node.maps.setEntryCounter(SNAT_CT_MAP_NAME, () => conntrack.entryCount());
        // Both the flood lists and the routes through another node's gateway
        // name VTEPs that need underlay next hops; one source's full pass must
        // not drop the other's.
        const vteps = new VtepDemand(bpf.nexthops);
        const fipTables = new FipTables(node, {
          ...(external ? { announcer: external.announcer } : {}),
          requestFullPass: () => reconciler?.requestFullPass(),
        });
        snatTables = new SnatTables(node, {
          ...(external ? { announcer: external.announcer } : {}),
          nexthops: fipTables.followSides(external?.nexthops),
          onZoneLost: () => conntrack.requestWalk(),
        });
        const overlay = new OverlayTables(node, vteps.source('floodList'));
        // The remote MACs' fdb entries carry copies of their VTEPs' next hops.
        bpf.nexthops.onChange((vtep) => overlay.nexthopChanged(vtep));
        tables = new BpfTables(
          overlay,
          new RouterTables(node, vteps.source('routes')),
          snatTables,
          fipTables,
          { ...(external ? { routeObserver: external.nexthops } : {}) },
        );
        conntrack.start();
      } else {
        logger.warn({}, 'dataplane: fake — nothing is programmed into the kernel');
        tables = new FakeDataplane();
      }
      reconciler = new Reconciler(state, tables, {
        node: { vtepIp: config.vtep_ip },
        fullPassIntervalMs: config.reconcile.full_pass_interval_seconds * 1000,
        logger,
      });
      const underlayMtu = config.underlay_mtu ?? bpf.node?.underlayMtu ?? 1500;
      const ctx = createApiContext({
        config,
        logger,
        state,
        reconciler,
        node: bpf.node,
        conntrack: bpf.conntrack,
        startedUnixMs,
        underlayMtu,
        listening: () => api?.listening ?? [],
      });
      api = await ApiServer.start(ctx, listenOptions(config));
      const metrics = config.metrics.address
        ? await serveMetrics(createRegistry(ctx.metricsSource), config.metrics.address)
        : undefined;

      if (bpf.events) followInterfaces(bpf.events, reconciler, bpf.node, logger);
      const daemon = new Daemon(logger, state, bpf.node ? (bpf as BpfParts) : undefined, reconciler, api, metrics);
      const serving = api;
      reconciler.start().then(
        () => {
          serving.setServing(true);
          logger.info({ revision: state.revision }, 'first reconcile finished: serving');
        },
        (err: unknown) => logger.error({ err }, 'reconciler failed to start'),
      );
      const metricsAt = metrics?.address();
      logger.info(
        {
          listening: api.listening,
          metrics: metricsAt && typeof metricsAt === 'object' ? `${metricsAt.address}:${metricsAt.port}` : null,
          dataplane: config.dataplane,
        },
        'xdpnetd started',
      );
      return daemon;
    } catch (err) {
      await api?.stop(0);
      await reconciler?.stop();
      closeBpf(bpf);
      await state.close();
      throw err;
    }
  }

  /** Stops serving and exits cleanly; programs stay attached and maps pinned. */
  async stop(): Promise<void> {
    this.logger.info({}, 'stopping: the dataplane stays in place');
    await this.api.stop();
    await this.reconciler.stop();
    await new Promise<void>((resolve) => (this.metrics ? this.metrics.close(() => resolve()) : resolve()));
    await this.state.close();
    if (this.bpf) closeBpf(this.bpf);
  }
}

/**
 * Interfaces that come, go or are recreated (a VM's tap) ask for a full pass:
 * its list() re-reads the interfaces, removes what a vanished interface left,
 * and the pass sets ports up on the interfaces as they are now. A resync
 * (notifications were lost) may hide any of that. Requests coalesce, so a
 * burst of events costs one pass; the periodic full pass stays the safety net.
 * The node's own interfaces (the underlay, the external NICs) are put right
 * by the node itself: a recreated one gets its programs again, then a full
 * pass moves the tables to its new ifindex.
 */
function followInterfaces(events: NetlinkEvents, reconciler: Reconciler, node: NodeDataplane | undefined, logger: PinoLogger): void {
  const own = node ? new Set([node.underlayInterface, ...node.externalInterfaces.keys()]) : new Set<string>();
  events.subscribe((e) => {
    if (e.type !== 'link' && e.type !== 'resync') return;
    reconciler.requestFullPass();
    if (!node || (e.type === 'link' && !own.has(e.link.name))) return;
    node.repairInterfaces().then(
      // The tables follow the new ifindexes in a full pass after the programs are back.
      (r) => r.reattached.length > 0 && reconciler.requestFullPass(),
      (err: unknown) => logger.error({ err }, 'cannot attach the node interfaces’ programs again; the next link event retries'),
    );
  });
}

function listenOptions(config: Config): ListenOptions {
  const { socket, tcp } = config.api;
  return {
    ...(socket ? { socket } : {}),
    ...(tcp
      ? { tcp: { address: tcp.address, tls: { certFile: tcp.tls.cert_file, keyFile: tcp.tls.key_file, caFile: tcp.tls.ca_file } } }
      : {}),
  };
}
