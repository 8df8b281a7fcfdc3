// A time-stamping authority on loopback for the tests: a root and a TSA certificate made by openssl
// here, and a small HTTP server that answers each RFC 3161 query with `openssl ts -reply`.
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { OPENSSL, removeDir, run, tempDir } from './signing.js';

export interface TestTsa {
  url: string;
  /** The root that issued the TSA's certificate: what verifiers trust. */
  rootPem: string;
  /** The queries it answered. */
  answered: number;
  close(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const result = await run(OPENSSL, args, { cwd, timeoutMs: 30_000 });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
}

export async function startTestTsa(): Promise<TestTsa> {
  const dir = tempDir('signet-tsa-');
  writeFileSync(
    path.join(dir, 'tsa.cnf'),
    [
      '[ tsa ]',
      'default_tsa = signet_test_tsa',
      '[ signet_test_tsa ]',
      `dir = ${dir}`,
      'serial = $dir/serial',
      'crypto_device = builtin',
      'signer_cert = $dir/tsa.pem',
      'certs = $dir/root.pem',
      'signer_key = $dir/tsa.key',
      'signer_digest = sha256',
      'default_policy = 1.3.6.1.4.1.99999.1',
      'digests = sha256, sha384, sha512',
      'accuracy = secs:1',
      'ordering = yes',
      'tsa_name = yes',
      'ess_cert_id_chain = no',
      'ess_cert_id_alg = sha256',
      '[ tsa_cert ]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = critical, timeStamping',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'serial'), '01\n');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=Signet Test TSA Root', '-days', '30',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'root.key', '-out', 'root.pem'], dir);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=Signet Test TSA', '-keyout', 'tsa.key', '-out', 'tsa.csr'], dir);
  await openssl(['x509', '-req', '-in', 'tsa.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '30', '-extfile', 'tsa.cnf', '-extensions', 'tsa_cert', '-out', 'tsa.pem'], dir);

  let sequence = 0;
  const tsa: TestTsa = {
    url: '',
    rootPem: readFileSync(path.join(dir, 'root.pem'), 'utf8'),
    answered: 0,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      removeDir(dir);
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const n = ++sequence;
      const query = path.join(dir, `q${n}.tsq`);
      const reply = path.join(dir, `r${n}.tsr`);
      writeFileSync(query, Buffer.concat(chunks));
      const result = await run(OPENSSL, ['ts', '-reply', '-config', path.join(dir, 'tsa.cnf'), '-queryfile', query, '-out', reply], { cwd: dir, timeoutMs: 30_000 });
      if (result.status !== 0) {
        res.writeHead(500).end(result.stderr);
        return;
      }
      tsa.answered += 1;
      res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(readFileSync(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tsa.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tsa`;
  return tsa;
}

/** A loopback URL where nothing listens: a TSA that does not answer. */
export async function silentTsaUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/tsa`;
}

/** `openssl ts -verify` of a token against the SHA-256 of what it stamps, trusting the test root. */
export async function opensslTsVerify(tokenDer: Buffer, digestHex: string, rootPem: string): Promise<{ status: number; output: string }> {
  const dir = tempDir('signet-tsverify-');
  try {
    writeFileSync(path.join(dir, 'token.der'), tokenDer);
    writeFileSync(path.join(dir, 'root.pem'), rootPem);
    const result = await run(OPENSSL, ['ts', '-verify', '-token_in', '-in', 'token.der', '-digest', digestHex, '-CAfile', 'root.pem'], { cwd: dir });
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
  } finally {
    removeDir(dir);
  }
}
