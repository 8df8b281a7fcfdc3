// Signature formats (SPEC §4), as people read them and as downloads are named; shared by server and UI.
import type { SignatureFormat } from './entities.js';

export const FORMAT_LABELS: Record<SignatureFormat, string> = {
  'cms-detached': 'Detached CMS (.p7s)',
  authenticode: 'Authenticode (signed in place)',
  'openpgp-detached': 'Detached OpenPGP (.asc)',
};

export const FORMAT_HELP: Record<SignatureFormat, string> = {
  'cms-detached': 'A detached CMS/PKCS#7 signature of any file; openssl cms -verify checks it.',
  authenticode: 'PE files (.exe, .dll, .sys, .efi), MSI, CAB, CAT and PowerShell scripts, signed in place; Windows and osslsigncode verify -in check them.',
  'openpgp-detached': "An ASCII-armored OpenPGP signature of any file, made with the certificate's OpenPGP key; gpg --verify checks it.",
};

/** Requests made before formats existed were detached CMS. */
export function formatOf(request: { signatureFormat?: SignatureFormat }): SignatureFormat {
  return request.signatureFormat ?? 'cms-detached';
}

/** What the signed-artifact download is called, and its media type. */
export function signedDownload(format: SignatureFormat, fileName: string): { fileName: string; contentType: string } {
  switch (format) {
    case 'authenticode':
      return { fileName, contentType: 'application/octet-stream' };
    case 'openpgp-detached':
      return { fileName: `${fileName}.asc`, contentType: 'application/pgp-signature' };
    default:
      return { fileName: `${fileName}.p7s`, contentType: 'application/pkcs7-signature' };
  }
}

/** RFC 3161 timestamps apply to CMS and Authenticode; OpenPGP signatures carry their own creation time. */
export function formatTakesTimestamp(format: SignatureFormat): boolean {
  return format !== 'openpgp-detached';
}
