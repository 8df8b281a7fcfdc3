// Files for the signature-format tests, built here rather than checked in: a minimal PE32 image, an
// MSI made by msitools' wixl, a CAB made by gcab, a PowerShell script and a security catalog; and
// the verifiers that judge the results (osslsigncode verify, gpg --verify in a throwaway GNUPGHOME).
import * as asn1js from 'asn1js';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { removeDir, run, tempDir } from './signing.js';
import { minimalPe } from './pe.js';

export { minimalPe };

async function tool(program: string, args: string[], cwd: string): Promise<void> {
  const result = await run(program, args, { cwd, timeoutMs: 60_000 });
  if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
}

/** An MSI package built by wixl, installing one small file. */
export async function msiPackage(): Promise<Buffer> {
  const dir = tempDir('signet-msi-');
  try {
    writeFileSync(path.join(dir, 'payload.txt'), `payload ${randomBytes(8).toString('hex')}\n`);
    writeFileSync(
      path.join(dir, 'app.wxs'),
      `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Signet Test" Language="1033" Version="1.0.0" Manufacturer="Signet" UpgradeCode="6f1f4a52-6d0e-4b7e-9d58-0e9a1c2b3d4e">
    <Package InstallerVersion="200" Compressed="yes" Comments="Signet test package" />
    <Media Id="1" Cabinet="payload.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="SignetTest">
          <Component Id="Payload" Guid="2b7c6a9e-1f3d-4c5b-8a7e-9d0c1b2a3f4e">
            <File Id="PayloadFile" Name="payload.txt" Source="payload.txt" KeyPath="yes" />
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="Payload" /></Feature>
  </Product>
</Wix>
`,
    );
    await tool('wixl', ['-o', 'app.msi', 'app.wxs'], dir);
    return readFileSync(path.join(dir, 'app.msi'));
  } finally {
    removeDir(dir);
  }
}

/** A CAB archive built by gcab, holding two small files. */
export async function cabArchive(): Promise<Buffer> {
  const dir = tempDir('signet-cab-');
  try {
    writeFileSync(path.join(dir, 'a.txt'), `first ${randomBytes(8).toString('hex')}\n`);
    writeFileSync(path.join(dir, 'b.txt'), `second ${randomBytes(8).toString('hex')}\n`);
    await tool('gcab', ['-c', '-n', 'app.cab', 'a.txt', 'b.txt'], dir);
    return readFileSync(path.join(dir, 'app.cab'));
  } finally {
    removeDir(dir);
  }
}

export function powershellScript(): Buffer {
  return Buffer.from(`# Signet test script ${randomBytes(4).toString('hex')}\r\nWrite-Output "Hello from Signet"\r\n`, 'utf8');
}

/**
 * A security catalog as makecat leaves it before signing: a PKCS#7 SignedData without signers
 * whose content is a certificate trust list (MS_CTL) with a catalog list identifier, a time and
 * a version, and no members.
 */
export function securityCatalog(): Buffer {
  const oid = (value: string) => new asn1js.ObjectIdentifier({ value });
  const ctl = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [oid('1.3.6.1.4.1.311.12.1.1')] }), // MS_CATALOG_LIST
      new asn1js.OctetString({ valueHex: new Uint8Array(randomBytes(16)) }),
      new asn1js.UTCTime({ valueDate: new Date(Math.floor(Date.now() / 1000) * 1000) }),
      new asn1js.Sequence({ value: [oid('1.3.6.1.4.1.311.12.1.2'), new asn1js.Null()] }), // catalog version 1
      new asn1js.Sequence({ value: [] }), // members
    ],
  });
  const signedData = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Set({ value: [new asn1js.Sequence({ value: [oid('2.16.840.1.101.3.4.2.1'), new asn1js.Null()] })] }),
      new asn1js.Sequence({ value: [oid('1.3.6.1.4.1.311.10.1'), new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [ctl] })] }),
      new asn1js.Set({ value: [] }), // signerInfos
    ],
  });
  const contentInfo = new asn1js.Sequence({
    value: [oid('1.2.840.113549.1.7.2'), new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [signedData] })],
  });
  return Buffer.from(contentInfo.toBER(false));
}

export interface Fixture {
  fileName: string;
  data: Buffer;
  /** Bytes inside what the signature covers: changing them must break it. */
  marker: Buffer;
}

/** One file of each kind Authenticode signs. */
export async function authenticodeFixtures(): Promise<Record<'pe' | 'msi' | 'cab' | 'powershell' | 'cat', Fixture>> {
  const [msi, cab] = await Promise.all([msiPackage(), cabArchive()]);
  const pe = minimalPe();
  const catalog = securityCatalog();
  return {
    pe: { fileName: 'app.exe', data: pe, marker: pe.subarray(0x201, 0x211) },
    msi: { fileName: 'setup.msi', data: msi, marker: Buffer.from('Signet test package', 'latin1') },
    cab: { fileName: 'bundle.cab', data: cab, marker: Buffer.from('first ', 'latin1') },
    powershell: { fileName: 'install.ps1', data: powershellScript(), marker: Buffer.from('Hello from Signet', 'utf8') },
    cat: { fileName: 'drivers.cat', data: catalog, marker: catalogIdentifier(catalog) },
  };
}

function catalogIdentifier(catalog: Buffer): Buffer {
  // The 16 random bytes after the OCTET STRING header that follows the MS_CATALOG_LIST OID.
  const oid = Buffer.from('060a2b0601040182370c0101', 'hex');
  const at = catalog.indexOf(oid) + oid.length + 2;
  return catalog.subarray(at, at + 16);
}

/** A copy of `signed` with the first byte of `marker` changed. */
export function tampered(signed: Buffer, marker: Buffer): Buffer {
  const at = signed.indexOf(marker);
  if (at < 0) throw new Error('the marker is not in the signed file');
  const copy = Buffer.from(signed);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

/** `osslsigncode verify` of a signed file against the signer's certificate (and a TSA root, when given). */
export async function osslsigncodeVerify(signed: Buffer, fileName: string, certificatePem: string, tsaRootPem?: string): Promise<{ status: number; output: string }> {
  const dir = tempDir('signet-verify-ac-');
  try {
    writeFileSync(path.join(dir, fileName), signed);
    writeFileSync(path.join(dir, 'ca.pem'), certificatePem);
    const args = ['verify', '-CAfile', 'ca.pem', '-ignore-crl', '-in', fileName];
    if (tsaRootPem) {
      writeFileSync(path.join(dir, 'tsa.pem'), tsaRootPem);
      args.push('-TSA-CAfile', 'tsa.pem');
    }
    const result = await run('osslsigncode', args, { cwd: dir, timeoutMs: 60_000 });
    return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
  } finally {
    removeDir(dir);
  }
}

/** `gpg --verify` of a detached signature with only `publicKeyArmored` known, in a throwaway GNUPGHOME. */
export async function gpgVerify(signature: Buffer, data: Buffer, publicKeyArmored: string): Promise<{ status: number; output: string }> {
  const home = tempDir('signet-gnupg-');
  try {
    const env = { ...process.env, GNUPGHOME: home };
    writeFileSync(path.join(home, 'key.asc'), publicKeyArmored);
    writeFileSync(path.join(home, 'data'), data);
    writeFileSync(path.join(home, 'data.asc'), signature);
    const imported = await run('gpg', ['--batch', '--import', 'key.asc'], { env, cwd: home });
    if (imported.status !== 0) throw new Error(`gpg --import failed: ${imported.stderr}`);
    const verified = await run('gpg', ['--batch', '--status-fd', '1', '--verify', 'data.asc', 'data'], { env, cwd: home });
    return { status: verified.status, output: `${verified.stdout}\n${verified.stderr}` };
  } finally {
    await run('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home } }).catch(() => undefined);
    removeDir(home);
  }
}
