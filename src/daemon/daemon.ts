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
import { NetlinkEvents } from '../dataplane/netlink-events.js';
import { UnderlayNexthops } from '../dataplane/nexthops.js';
import { NodeDataplane } from '../dataplane/node.js';
import { OverlayTables } from '../dataplane/overlay-tables.js';
import { RouterTables } from '../dataplane/router-tables.js';
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
}

/** Stops following the kernel and closes handles; programs stay attached, maps pinned. */
function closeBpf(parts: Partial<BpfParts>): void {
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
        bpf.node = await NodeDataplane.start({
          bpffsRoot: config.bpffs_root,
          vtepIp: config.vtep_ip,
          underlayInterface: config.underlay_interface,
          physicalInterfaces: Object.values(config.physical_networks),
          logger,
        });
        bpf.events = await NetlinkEvents.open({ logger });
        bpf.nexthops = await UnderlayNexthops.start({
          map: bpf.node.maps.requireShared('xdpnet_nexthops'),
          underlayInterface: config.underlay_interface,
          logger,
          events: bpf.events,
        });
        tables = new BpfTables(new OverlayTables(bpf.node, bpf.nexthops), new RouterTables(bpf.node));
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
      const ctx = createApiContext({ config, logger, state, reconciler, node: bpf.node, startedUnixMs, underlayMtu, listening: () => api?.listening ?? [] });
      api = await ApiServer.start(ctx, listenOptions(config));
      const metrics = config.metrics.address
        ? await serveMetrics(createRegistry(ctx.metricsSource), config.metrics.address)
        : undefined;

      if (bpf.events) followInterfaces(bpf.events, reconciler);
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
 */
function followInterfaces(events: NetlinkEvents, reconciler: Reconciler): void {
  events.subscribe((e) => {
    if (e.type === 'link' || e.type === 'resync') reconciler.requestFullPass();
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
