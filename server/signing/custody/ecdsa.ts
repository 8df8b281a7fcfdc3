// ECDSA signatures come in two shapes: r || s (PKCS#11, WebCrypto) and the DER SEQUENCE of two
// INTEGERs (X.509, CMS, what KeySigner returns). P-256 only: 32-byte r and s.
const SIZE = 32;

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** The DER INTEGER of an unsigned big-endian number. */
function derInteger(value: Buffer): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  let bytes = value.subarray(start);
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02]), derLength(bytes.length), bytes]);
}

export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length !== 2 * SIZE) throw new Error(`malformed ECDSA signature: ${raw.length} bytes where r || s has ${2 * SIZE}`);
  const body = Buffer.concat([derInteger(raw.subarray(0, SIZE)), derInteger(raw.subarray(SIZE))]);
  return Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
}

export function ecdsaDerToRaw(der: Buffer): Buffer {
  const malformed = () => new Error('malformed ECDSA signature: not a DER sequence of two integers');
  let offset = 0;
  const readLength = (): number => {
    const first = der[offset++];
    if (first === undefined) throw malformed();
    if (first < 0x80) return first;
    let length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = (length << 8) | (der[offset++] ?? 0);
    return length;
  };
  if (der[offset++] !== 0x30) throw malformed();
  readLength();
  const parts: Buffer[] = [];
  for (let i = 0; i < 2; i++) {
    if (der[offset++] !== 0x02) throw malformed();
    const length = readLength();
    let value = der.subarray(offset, offset + length);
    offset += length;
    while (value.length > SIZE && value[0] === 0) value = value.subarray(1);
    if (value.length > SIZE) throw malformed();
    parts.push(Buffer.concat([Buffer.alloc(SIZE - value.length), value]));
  }
  return Buffer.concat(parts);
}
