// Certificates for the mutual-TLS tests, made with the openssl command line
// in a temp directory: a CA, a server certificate for 127.0.0.1 (and
// localhost) signed by it, a client certificate signed by it, and a second,
// unrelated CA with a client certificate of its own — which the server must
// refuse. EC P-256 keys: quick to generate. Valid for two days.
//
//   const pki = makeTestPki();
//   ... pki.server.cert, pki.client.key, pki.ca.cert, pki.otherClient.cert ...
//   pki.cleanup();

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA the server trusts for clients (and clients trust for the server). */
  ca: KeyPair;
  /** subjectAltName IP:127.0.0.1, DNS:localhost; serverAuth. */
  server: KeyPair;
  /** Signed by `ca`; clientAuth. */
  client: KeyPair;
  /** A CA unknown to the server. */
  otherCa: KeyPair;
  /** Signed by `otherCa`; clientAuth. */
  otherClient: KeyPair;
  cleanup(): void;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string, cn: string): KeyPair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl(dir, [
    'req', '-x509', ...KEY_ARGS,
    '-keyout', pair.key, '-out', pair.cert, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair;
}

function makeLeaf(dir: string, name: string, cn: string, ca: KeyPair, extensions: string): KeyPair {
  const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n${extensions}\n`);
  openssl(dir, ['req', '-new', ...KEY_ARGS, '-keyout', pair.key, '-out', csr, '-subj', `/CN=${cn}`]);
  openssl(dir, [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-out', pair.cert, '-days', '2', '-sha256', '-extfile', ext,
  ]);
  return pair;
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'xdpnet-pki-'));
  try {
    const ca = makeCa(dir, 'ca', 'xdpnet test CA');
    const server = makeLeaf(dir, 'server', 'xdpnetd test server', ca, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
    const client = makeLeaf(dir, 'client', 'xdpnet test client', ca, 'extendedKeyUsage=clientAuth');
    const otherCa = makeCa(dir, 'other-ca', 'some other CA');
    const otherClient = makeLeaf(dir, 'other-client', 'xdpnet test client', otherCa, 'extendedKeyUsage=clientAuth');
    return { dir, ca, server, client, otherCa, otherClient, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
