// Packet builder/parser for BPF table tests and e2e tests. Split by concern
// under ./frames/; import everything from here.
//   eth({ src, dst }).ipv4({ src, dst }).udp({ sport, dport }).payload('x').build()
//   parseFrame(buf).eth.ipv4?.ttl
export * from './frames/addr.js';
export * from './frames/checksum.js';
export * from './frames/layers.js';
export * from './frames/build.js';
export * from './frames/parse.js';
export * from './frames/hexdiff.js';
export * from './frames/flowhash.js';
