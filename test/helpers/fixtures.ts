// Files for the signature-format tests, built here rather than checked in: a minimal PE32 image, an
// MSI made by msitools' wixl, a CAB made by gcab, a PowerShell script and a security catalog; and
// the verifiers that judge the results (osslsigncode verify, gpg --verify in a throwaway GNUPGHOME).
import * as asn1js from 'asn1js';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { removeDir, run, tempDir } from './signing.js';

/**
 * A minimal valid PE32 console executable: DOS header, PE header, a PE32 optional header with the
 * 16 data directories (the certificate table among them) and one .text section holding `ret` and
 * then `payloadBytes` of filler, so its size can be chosen.
 */
export function minimalPe(payloadBytes = 512): Buffer {
  const fileAlignment = 0x200;
  const sectionAlignment = 0x1000;
  const peOffset = 0x80;
  const headersSize = 0x200;
  const rawSize = Math.ceil((payloadBytes + 1) / fileAlignment) * fileAlignment;
  const image = Buffer.alloc(headersSize + rawSize);
  // DOS header: "MZ" and e_lfanew.
  image.write('MZ', 0, 'latin1');
  image.writeUInt32LE(peOffset, 0x3c);
  image.write('This program cannot be run in DOS mode.\r\n$', 0x4e, 'latin1');
  // PE signature and COFF header.
  image.write('PE\0\0', peOffset, 'latin1');
  const coff = peOffset + 4;
  image.writeUInt16LE(0x014c, coff); // i386
  image.writeUInt16LE(1, coff + 2); // one section
  image.writeUInt32LE(0x5f000000, coff + 4); // TimeDateStamp
  image.writeUInt16LE(0xe0, coff + 16); // SizeOfOptionalHeader (PE32)
  image.writeUInt16LE(0x0102, coff + 18); // executable, 32-bit
  // Optional header (PE32).
  const opt = coff + 20;
  image.writeUInt16LE(0x10b, opt);
  image.writeUInt32LE(rawSize, opt + 4); // SizeOfCode
  image.writeUInt32LE(sectionAlignment, opt + 16); // AddressOfEntryPoint
  image.writeUInt32LE(sectionAlignment, opt + 20); // BaseOfCode
  image.writeUInt32LE(0x400000, opt + 28); // ImageBase
  image.writeUInt32LE(sectionAlignment, opt + 32);
  image.writeUInt32LE(fileAlignment, opt + 36);
  image.writeUInt16LE(4, opt + 40); // OS version 4.0
  image.writeUInt16LE(4, opt + 48); // subsystem version 4.0
  image.writeUInt32LE(sectionAlignment + Math.ceil(rawSize / sectionAlignment) * sectionAlignment, opt + 56); // SizeOfImage
  image.writeUInt32LE(headersSize, opt + 60); // SizeOfHeaders
  image.writeUInt16LE(3, opt + 68); // console subsystem
  image.writeUInt32LE(0x100000, opt + 72); // stack reserve
  image.writeUInt32LE(0x1000, opt + 76); // stack commit
  image.writeUInt32LE(0x100000, opt + 80); // heap reserve
  image.writeUInt32LE(0x1000, opt + 84); // heap commit
  image.writeUInt32LE(16, opt + 92); // NumberOfRvaAndSizes
  // Section table: .text.
  const section = opt + 0xe0;
  image.write('.text', section, 'latin1');
  image.writeUInt32LE(payloadBytes + 1, section + 8); // VirtualSize
  image.writeUInt32LE(sectionAlignment, section + 12); // VirtualAddress
  image.writeUInt32LE(rawSize, section + 16); // SizeOfRawData
  image.writeUInt32LE(headersSize, section + 20); // PointerToRawData
  image.writeUInt32LE(0x60000020, section + 36); // code, execute, read
  // Code: ret, then filler.
  image[headersSize] = 0xc3;
  randomBytes(payloadBytes).copy(image, headersSize + 1);
  return image;
}

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
