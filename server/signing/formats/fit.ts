// Whether a file fits its artifact configuration's signature format, judged by its content (and,
// for scripts, which have no magic number, by name and text encoding). Run at submission so that a
// file that cannot be signed is refused with the reason, and again by the worker before signing.
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { SignatureFormat } from '../../../src/lib/shared/entities.js';

export type AuthenticodeKind = 'pe' | 'msi' | 'cab' | 'cat' | 'powershell';

const PE_EXTENSIONS = ['.exe', '.dll', '.sys', '.efi'];
const SCRIPT_EXTENSIONS = ['.ps1', '.psm1', '.psd1'];
const EXTENSIONS: Record<AuthenticodeKind, string[]> = {
  pe: PE_EXTENSIONS,
  msi: ['.msi'],
  cab: ['.cab'],
  cat: ['.cat'],
  powershell: SCRIPT_EXTENSIONS,
};
const KIND_NAMES: Record<AuthenticodeKind, string> = {
  pe: 'a PE file (.exe, .dll, .sys, .efi)',
  msi: 'an MSI package',
  cab: 'a CAB archive',
  cat: 'a security catalog (.cat)',
  powershell: 'a PowerShell script (.ps1, .psm1, .psd1)',
};
const AUTHENTICODE_ACCEPTS = 'PE files (.exe, .dll, .sys, .efi), MSI, CAB, CAT and PowerShell scripts (.ps1, .psm1, .psd1)';

const HEAD_BYTES = 64 * 1024;
const CFB_MAGIC = Buffer.from('d0cf11e0a1b11ae1', 'hex');
const MS_CTL_OID_DER = Buffer.from('06092b0601040182370a01', 'hex'); // OBJECT IDENTIFIER 1.3.6.1.4.1.311.10.1
const SIGNED_DATA_OID_DER = Buffer.from('06092a864886f70d010702', 'hex');

/** What the content says the file is, or why it is no PE when it claims to be one. */
function sniff(head: Buffer, size: number): { kind: Exclude<AuthenticodeKind, 'powershell'> } | { notPe: string } | null {
  if (head.subarray(0, 2).toString('latin1') === 'MZ') {
    if (size < 64) return { notPe: 'it is too short for a DOS header' };
    const peOffset = head.readUInt32LE(0x3c);
    if (peOffset + 24 + 2 > head.length) return { notPe: `its PE header offset (0x${peOffset.toString(16)}) is past the start of the file Signet reads` };
    if (!head.subarray(peOffset, peOffset + 4).equals(Buffer.from('PE\0\0', 'latin1'))) return { notPe: 'it has an MZ header but no PE signature where the header points' };
    const magic = head.readUInt16LE(peOffset + 24);
    if (magic !== 0x10b && magic !== 0x20b) return { notPe: `its optional header magic 0x${magic.toString(16)} is neither PE32 nor PE32+` };
    const directories = head.readUInt32LE(peOffset + 24 + (magic === 0x20b ? 108 : 92));
    if (directories < 5) return { notPe: 'it has no certificate table directory' };
    return { kind: 'pe' };
  }
  if (head.subarray(0, 8).equals(CFB_MAGIC)) return { kind: 'msi' };
  if (head.subarray(0, 4).toString('latin1') === 'MSCF') return { kind: 'cab' };
  if (head[0] === 0x30) {
    const window = head.subarray(0, 64);
    if (window.includes(SIGNED_DATA_OID_DER) && head.includes(MS_CTL_OID_DER)) return { kind: 'cat' };
  }
  return null;
}

function isScriptText(head: Buffer): boolean {
  if (head.length === 0) return false;
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) return true; // UTF-16 with a BOM
  if (head.includes(0)) return false;
  return !head.toString('utf8').includes('\ufffd');
}

/** The Authenticode kind of a file, or the reason it cannot be Authenticode-signed. */
export function authenticodeKind(fileName: string, head: Buffer, size: number): { kind: AuthenticodeKind } | { problem: string } {
  const extension = path.extname(fileName).toLowerCase();
  const sniffed = sniff(head, size);
  if (SCRIPT_EXTENSIONS.includes(extension)) {
    if (sniffed) return { problem: `${fileName} is named like a PowerShell script but its content is ${'kind' in sniffed ? KIND_NAMES[sniffed.kind] : 'binary'}` };
    if (!isScriptText(head)) return { problem: `${fileName} is named like a PowerShell script but is not text (UTF-8, or UTF-16 with a byte-order mark)` };
    return { kind: 'powershell' };
  }
  if (!sniffed) {
    const claimed = (Object.keys(EXTENSIONS) as AuthenticodeKind[]).find((kind) => EXTENSIONS[kind].includes(extension));
    const what = claimed ? `is named like ${KIND_NAMES[claimed]} but its content is not` : 'is not a file Authenticode can sign';
    return { problem: `${fileName} ${what}: Authenticode signs ${AUTHENTICODE_ACCEPTS}` };
  }
  if ('notPe' in sniffed) return { problem: `${fileName} is not a valid PE file: ${sniffed.notPe}` };
  if (!EXTENSIONS[sniffed.kind].includes(extension)) {
    return { problem: `${fileName} is ${KIND_NAMES[sniffed.kind]} by content but named ${extension || 'without an extension'}; name it ${EXTENSIONS[sniffed.kind].join(' or ')}` };
  }
  return { kind: sniffed.kind };
}

export async function readHead(file: string): Promise<{ head: Buffer; size: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(HEAD_BYTES, size));
    await handle.read(head, 0, head.length, 0);
    return { head, size };
  } finally {
    await handle.close();
  }
}

/** Why the stored file cannot be signed in `format`, or null when it can. */
export async function formatProblem(format: SignatureFormat, fileName: string, file: string): Promise<string | null> {
  if (format !== 'authenticode') return null; // detached CMS and OpenPGP sign any file
  const { head, size } = await readHead(file);
  const fit = authenticodeKind(fileName, head, size);
  return 'problem' in fit ? fit.problem : null;
}
