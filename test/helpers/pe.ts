// A minimal valid PE32 image, built byte by byte (no Windows compiler here); used by the tests and
// the bench, so it imports nothing.
import { randomBytes } from 'node:crypto';

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

