// A SoftHSM2 token of the test's own (in a temporary directory, SOFTHSM2_CONF pointing at it) holding
// an ECDSA P-256 key made by openssl and imported, with a matching self-signed code-signing certificate.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { OPENSSL, run } from './signing.js';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface TestToken {
  conf: string;
  label: string;
  keyLabel: string;
  pin: string;
  certificatePem: string;
}

async function must(program: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const result = await run(program, args, { ...options, timeoutMs: 30_000 });
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
}

export async function softhsmToken(parent: string): Promise<TestToken> {
  const dir = path.join(parent, `softhsm-${Date.now()}`);
  mkdirSync(path.join(dir, 'tokens'), { recursive: true });
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const token = { conf, label: 'signet-test', keyLabel: 'code-signing', pin: '246810' };
  await must('softhsm2-util', ['--init-token', '--free', '--label', token.label, '--pin', token.pin, '--so-pin', '13579'], { cwd: dir, env });
  await must(OPENSSL, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=Signet token test', '-days', '2',
    '-addext', 'extendedKeyUsage=codeSigning', '-addext', 'keyUsage=critical,digitalSignature', '-keyout', 'key.pem', '-out', 'cert.pem'], { cwd: dir });
  await must(OPENSSL, ['pkcs8', '-topk8', '-nocrypt', '-in', 'key.pem', '-out', 'key.p8'], { cwd: dir });
  await must('softhsm2-util', ['--import', 'key.p8', '--token', token.label, '--label', token.keyLabel, '--id', '01', '--pin', token.pin], { cwd: dir, env });
  return { ...token, certificatePem: readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
}
