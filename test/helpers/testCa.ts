// A certificate authority run with the openssl CLI, as a test's stand-in for a public CA: a root, an
// intermediate that issues, and `issue(csr)`, which checks the request's signature and issues a
// certificate for it (code signing unless told otherwise). Its files live in a scratch directory.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OPENSSL, removeDir, run, tempDir } from './signing.js';

export interface TestCa {
  rootPem: string;
  intermediatePem: string;
  /** Issues a certificate for the CSR (PEM), signed by the intermediate; returns the leaf PEM. */
  issue(csrPem: string, options?: { extendedKeyUsage?: string; days?: number }): Promise<string>;
  /** `openssl verify` of a leaf against the root, with the intermediate as untrusted chain. */
  verify(leafPem: string): Promise<{ status: number; output: string }>;
  /** `openssl req -verify -text` of a CSR: its exit status and the printed request. */
  inspectRequest(csrPem: string): Promise<{ status: number; output: string }>;
  close(): void;
}

export async function startTestCa(name = 'Signet Test'): Promise<TestCa> {
  const dir = tempDir('signet-test-ca-');
  const file = (name: string) => path.join(dir, name);
  const openssl = async (args: string[]) => {
    const result = await run(OPENSSL, args, { cwd: dir });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  };
  writeFileSync(
    file('ca.cnf'),
    [
      '[intermediate]',
      'basicConstraints = critical, CA:TRUE, pathlen:0',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/O=${name}/CN=${name} Root CA`, '-days', '30',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', 'root.key', '-out', 'root.pem']);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/O=${name}/CN=${name} Code Signing CA`, '-keyout', 'inter.key', '-out', 'inter.csr']);
  await openssl(['x509', '-req', '-in', 'inter.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '30', '-extfile', 'ca.cnf', '-extensions', 'intermediate', '-out', 'inter.pem']);
  let issued = 0;
  return {
    rootPem: readFileSync(file('root.pem'), 'utf8'),
    intermediatePem: readFileSync(file('inter.pem'), 'utf8'),
    async issue(csrPem, options = {}) {
      issued += 1;
      const csr = `leaf-${issued}.csr`;
      const ext = `leaf-${issued}.cnf`;
      writeFileSync(file(csr), csrPem);
      writeFileSync(
        file(ext),
        [
          '[leaf]',
          'basicConstraints = critical, CA:FALSE',
          'keyUsage = critical, digitalSignature',
          `extendedKeyUsage = ${options.extendedKeyUsage ?? 'codeSigning'}`,
          'subjectKeyIdentifier = hash',
          'authorityKeyIdentifier = keyid',
          '',
        ].join('\n'),
      );
      // A CA checks the request's proof of possession first.
      await openssl(['req', '-verify', '-noout', '-in', csr]);
      await openssl(['x509', '-req', '-in', csr, '-CA', 'inter.pem', '-CAkey', 'inter.key', '-CAcreateserial', '-days', String(options.days ?? 20), '-extfile', ext, '-extensions', 'leaf', '-out', `leaf-${issued}.pem`]);
      return readFileSync(file(`leaf-${issued}.pem`), 'utf8');
    },
    async verify(leafPem) {
      writeFileSync(file('verify-leaf.pem'), leafPem);
      const result = await run(OPENSSL, ['verify', '-CAfile', 'root.pem', '-untrusted', 'inter.pem', '-purpose', 'any', 'verify-leaf.pem'], { cwd: dir });
      return { status: result.status, output: result.stdout + result.stderr };
    },
    async inspectRequest(csrPem) {
      writeFileSync(file('inspect.csr'), csrPem);
      const result = await run(OPENSSL, ['req', '-verify', '-noout', '-text', '-nameopt', 'RFC2253', '-in', 'inspect.csr'], { cwd: dir });
      return { status: result.status, output: result.stdout + result.stderr };
    },
    close: () => removeDir(dir),
  };
}
