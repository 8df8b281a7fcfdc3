// Events sent on as the commit script wrote them. Every commit's events reach a node as the JSON
// sockets receive (commit.lua writes them so); reading that JSON only to have Socket.IO write it
// again would cost each delivery a parse and a stringify of the whole event. So a delivery carries
// the text, wrapped as EncodedJson, and the Socket.IO server's encoder (this parser, given to the
// Server) puts it into the packet as it is. The wire format is Socket.IO's own: clients use the
// standard parser. Everything else is encoded by the standard encoder.
//
// Only for emits on this node (io.local, a socket's own emit): the Redis adapter would send the
// wrapper itself to other nodes, which never needs to happen (every node delivers from the channel).
import * as parser from 'socket.io-parser';

/** JSON text to be sent as it is, as one argument of an event. */
export class EncodedJson {
  constructor(readonly json: string) {}
}

interface Packet {
  type: parser.PacketType;
  nsp: string;
  data?: unknown;
  id?: number;
}

class Encoder extends parser.Encoder {
  override encode(packet: Packet): Array<string | Buffer> {
    const { data } = packet;
    if (packet.type !== parser.PacketType.EVENT || !Array.isArray(data) || !data.some((argument) => argument instanceof EncodedJson)) {
      return super.encode(packet as never);
    }
    // As encodeAsString writes an event: type, namespace (other than '/'), ack id, the arguments.
    let text = String(packet.type);
    if (packet.nsp && packet.nsp !== '/') text += `${packet.nsp},`;
    if (packet.id !== undefined && packet.id !== null) text += packet.id;
    const parts = data.map((argument) => (argument instanceof EncodedJson ? argument.json : JSON.stringify(argument)));
    return [`${text}[${parts.join(',')}]`];
  }
}

/** Socket.IO's parser, with an encoder that sends EncodedJson arguments as they are. */
export const signetParser = { protocol: parser.protocol, PacketType: parser.PacketType, Decoder: parser.Decoder, Encoder };
