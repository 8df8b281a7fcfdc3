// Events from the commit channel are sent on as the commit script wrote them (issue 12): the
// node's Socket.IO encoder puts EncodedJson into the packet as it is. What goes on the wire is
// Socket.IO's own format, exactly what the standard encoder writes for the same event, so clients
// keep the standard parser.
import { describe, expect, it } from 'vitest';
import * as parser from 'socket.io-parser';
import { EncodedJson, signetParser } from '../../../server/realtime/encodedEvents.js';

const standard = new parser.Encoder();
const signet = new signetParser.Encoder();

function decoded(text: string): unknown {
  const decoder = new parser.Decoder();
  let packet: unknown;
  decoder.on('decoded', (value: unknown) => (packet = value));
  decoder.add(text);
  return packet;
}

describe("the node's Socket.IO encoder", () => {
  const payload = { seq: 7, entry: { seq: 3, action: 'org.update', target: { name: 'Ünïcode "quoted"\nline' } } };

  it('writes an EncodedJson argument as the standard encoder writes the object it holds', () => {
    const event = { type: parser.PacketType.EVENT, nsp: '/', data: ['audit', new EncodedJson(JSON.stringify(payload))] };
    const plain = { type: parser.PacketType.EVENT, nsp: '/', data: ['audit', payload] };
    expect(signet.encode(event as never)).toEqual(standard.encode(plain as never));
    expect(decoded(signet.encode(event as never)[0] as string)).toEqual({ type: parser.PacketType.EVENT, nsp: '/', data: ['audit', payload] });
  });

  it('keeps the namespace and acknowledgement id, and encodes other arguments as usual', () => {
    const event = { type: parser.PacketType.EVENT, nsp: '/admin', id: 12, data: ['change', new EncodedJson('{"seq":1}'), { more: [1, 2] }] };
    const plain = { type: parser.PacketType.EVENT, nsp: '/admin', id: 12, data: ['change', { seq: 1 }, { more: [1, 2] }] };
    expect(signet.encode(event as never)).toEqual(standard.encode(plain as never));
  });

  it('leaves every other packet to the standard encoder (acknowledgements, binary, connects)', () => {
    const packets = [
      { type: parser.PacketType.ACK, nsp: '/', id: 4, data: [{ ok: true, result: { name: 'x' } }] },
      { type: parser.PacketType.EVENT, nsp: '/', data: ['file', Buffer.from('bytes')] },
      { type: parser.PacketType.CONNECT, nsp: '/', data: { sid: 'abc' } },
    ];
    for (const packet of packets) expect(signet.encode(packet as never)).toEqual(standard.encode(packet as never));
  });
});
