// The raw surface of the C++ addon (native/), and the one place that loads it.
//
// The addon is deliberately thin: it converts values and calls libbpf. Every
// decision (defaults, validation, fallbacks, iteration) is made by the typed
// wrappers in this directory. Nothing outside src/dataplane/ may import this file.
//
// Conventions the C++ side follows:
// - Every failure throws a `BpfError` (the class below, handed to the addon by
//   `setup`) carrying errno, code, the operation name and libbpf's log.
// - "Absent" is not an error: lookups of a missing key return `undefined`,
//   `delete` of a missing key returns `false`, `nextKey` at the end returns `undefined`.
// - Handles own one file descriptor each, have `close()`, are closed when
//   garbage-collected, and are closed at process exit if still open.
// - Object load (the verifier can take seconds) runs off the main thread and
//   returns a Promise; everything else is a fast syscall and synchronous.

import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Error thrown by every failing addon call. */
export class BpfError extends Error {
  override name = 'BpfError';
  /** Positive errno value (e.g. 2 for ENOENT). */
  readonly errno: number;
  /** Symbolic errno name, e.g. "ENOENT", "EPERM". */
  readonly code: string;
  /** The libbpf/syscall operation that failed, e.g. "bpf_object__load". */
  readonly op: string;
  /** libbpf's own messages captured during the call (the verifier log on a failed load). */
  readonly log: string;

  constructor(message: string, errno: number, code: string, op: string, log: string) {
    super(log ? `${message}\n${log}` : message);
    this.errno = errno;
    this.code = code;
    this.op = op;
    this.log = log;
  }
}

/** Kernel BPF map types we care about by number (uapi enum bpf_map_type). */
export interface NativeMapInfo {
  id: number;
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export interface NativeProgramInfo {
  id: number;
  name: string;
  type: number;
  /** 8-byte program tag as hex. */
  tag: string;
}

export interface NativeLinkInfo {
  id: number;
  /** uapi enum bpf_link_type (BPF_LINK_TYPE_XDP = 6, BPF_LINK_TYPE_TCX = 11). */
  type: number;
  progId: number;
  /** For XDP and TCX links, the interface; 0 otherwise. */
  ifindex: number;
  /** For TCX links, the attach type (46 ingress, 47 egress); 0 otherwise. */
  attachType: number;
}

export interface NativeXdpQuery {
  /** uapi XDP_ATTACHED_*: 0 none, 1 drv, 2 skb, 3 hw, 4 multi. */
  attachMode: number;
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
}

export interface NativeTestRunOptions {
  data: Buffer;
  /** Sets xdp_md.ingress_ifindex (must exist in the caller's network namespace). 0 = no context. */
  ingressIfindex: number;
  /** xdp_md.rx_queue_index, only meaningful with ingressIfindex. */
  rxQueueIndex: number;
  repeat: number;
  /** BPF_F_TEST_* flags (e.g. BPF_F_TEST_XDP_LIVE_FRAMES = 2). */
  flags: number;
  /** Size of the output buffer; must allow for headers the program pushes. */
  dataSizeOut: number;
  /** With BPF_F_TEST_XDP_LIVE_FRAMES, frames per batch (0 = kernel default). */
  batchSize: number;
}

export interface NativeTestRunResult {
  retval: number;
  data: Buffer;
  durationNs: number;
}

export interface NativeObjectMapDesc {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  pinPath: string | null;
  /** true for .rodata/.data/.bss/.kconfig maps that libbpf creates for globals. */
  internal: boolean;
}

export interface NativeObjectProgramDesc {
  name: string;
  section: string;
  type: number;
}

export interface NativeBtfMember {
  name: string;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Non-zero for bitfields. */
  bitfieldSize: number;
  /** Size of the member's (resolved) type in bytes. */
  size: number;
  /** Member type name as written, typedefs kept (e.g. "__be32", "__u8[6]"). */
  typeName: string;
}

export interface NativeBtfStruct {
  size: number;
  members: NativeBtfMember[];
}

export interface NativeBtfDescription {
  structs: Record<string, NativeBtfStruct>;
  enums: Record<string, Record<string, number>>;
  /** Variables in .rodata: name -> { offset, size }. */
  rodata: Record<string, { offset: number; size: number }>;
}

export interface NativeMap {
  readonly fd: number;
  info(): NativeMapInfo;
  /** Value buffer for per-CPU maps is possibleCpus() * roundUp8(valueSize) bytes. */
  lookup(key: Buffer): Buffer | undefined;
  update(key: Buffer, value: Buffer, flags: number): void;
  delete(key: Buffer): boolean;
  /** Key following `key` (or the first key for null); undefined at the end. */
  nextKey(key: Buffer | null): Buffer | undefined;
  /**
   * One step of BPF_MAP_LOOKUP_BATCH. `cursor` is null for the first call, then the
   * returned `cursor`. `done` is true when the map has been fully traversed.
   */
  lookupBatch(cursor: Buffer | null, maxCount: number): { keys: Buffer; values: Buffer; count: number; cursor: Buffer; done: boolean };
  /** keys/values are `count` packed entries; returns the count the kernel processed. */
  updateBatch(keys: Buffer, values: Buffer, count: number, flags: number): number;
  deleteBatch(keys: Buffer, count: number): number;
  pin(path: string): void;
  close(): void;
}

export interface NativeLink {
  readonly fd: number;
  info(): NativeLinkInfo;
  pin(path: string): void;
  /** Detach the program from its hook (BPF_LINK_DETACH); the link fd stays valid but defunct. */
  detach(): void;
  /** Atomically replace the link's program. */
  updateProgram(progFd: number): void;
  close(): void;
}

export interface NativeProgram {
  readonly fd: number;
  info(): NativeProgramInfo;
  testRun(opts: NativeTestRunOptions): NativeTestRunResult;
  /** bpf_link_create(BPF_XDP) with XDP_FLAGS_* in `flags` (DRV_MODE 4, SKB_MODE 2). */
  attachXdpLink(ifindex: number, flags: number): NativeLink;
  /** Netlink path (bpf_xdp_attach); `expectedProgFd` 0 = none, else XDP_FLAGS_REPLACE semantics. */
  attachXdpNetlink(ifindex: number, flags: number, expectedProgFd: number): void;
  /** bpf_link_create with BPF_TCX_INGRESS (46) or BPF_TCX_EGRESS (47). */
  attachTcx(ifindex: number, attachType: number): NativeLink;
  pin(path: string): void;
  close(): void;
}

export interface NativeObject {
  readonly name: string;
  readonly loaded: boolean;
  /** Before load: set a `const volatile` global in .rodata; value length must equal its size. */
  setRodata(variable: string, value: Buffer): void;
  /** Before load. */
  setMapMaxEntries(map: string, maxEntries: number): void;
  /**
   * Before load. A map already pinned there is reused if compatible (same type, key and
   * value sizes, max_entries, map_extra, name as the kernel keeps it, and flags apart
   * from those the kernel adds or drops by itself, e.g. BPF_F_RDONLY_PROG on device
   * maps; BTF is not compared); load() rejects with an EINVAL BpfError naming the map,
   * the pin and every mismatch otherwise. With nothing pinned there, the map is
   * created and pinned there after load.
   */
  setMapPinPath(map: string, path: string | null): void;
  maps(): NativeObjectMapDesc[];
  programs(): NativeObjectProgramDesc[];
  /**
   * Reuses pinned maps (see setMapPinPath), then runs the verifier, on a worker thread.
   * Rejects with BpfError whose log holds the verifier log.
   */
  load(): Promise<void>;
  /** After load: a new handle (own dup'd fd) that outlives the object. */
  map(name: string): NativeMap;
  /** After load: a new handle (own dup'd fd) that outlives the object. */
  program(name: string): NativeProgram;
  close(): void;
}

export interface NativeBinding {
  /** Must be called once before anything else; hands the addon the error class. */
  setup(errorClass: typeof BpfError): void;
  openObject(path: string): NativeObject;
  openPinnedMap(path: string): NativeMap;
  openPinnedLink(path: string): NativeLink;
  openPinnedProgram(path: string): NativeProgram;
  /** Unlink a pinned object (any type) from bpffs. */
  unpin(path: string): void;
  /** Mounts bpffs at `path` (which must exist) unless one is there; true if it mounted. */
  ensureBpffs(path: string): boolean;
  /** Netlink detach of whatever non-link XDP program is on the interface in the mode given by flags. */
  detachXdpNetlink(ifindex: number, flags: number): void;
  queryXdp(ifindex: number): NativeXdpQuery;
  listLinks(): NativeLinkInfo[];
  programInfoById(id: number): NativeProgramInfo | undefined;
  describeBtf(objectPath: string): NativeBtfDescription;
  possibleCpus(): number;
  libbpfVersion(): string;
}

/**
 * The installation root: the nearest directory above this file holding
 * xdpnet's package.json. That is the repository for src/ (tests) and dist/
 * (built), and /usr/local/lib/xdpnet once installed (make install).
 */
export const REPO_ROOT = ((): string => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'xdpnet') return dir;
  }
  throw new Error(`xdpnet's package.json not found above ${fileURLToPath(import.meta.url)}`);
})();

function findAddon(): string {
  const path = join(REPO_ROOT, 'native/build/Release/xdpnet_native.node');
  if (!existsSync(path)) throw new Error(`xdpnet native addon not built (expected ${path}); run \`make build\``);
  return path;
}

let binding: NativeBinding | undefined;

/** The loaded addon, initialised with the error class. */
export function native(): NativeBinding {
  if (!binding) {
    const require = createRequire(import.meta.url);
    const loaded = require(findAddon()) as NativeBinding;
    loaded.setup(BpfError);
    binding = loaded;
  }
  return binding;
}
