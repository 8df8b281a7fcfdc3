// Compares two V8 heap snapshots (before and after opening N connections): what the heap gained,
// by kind of object (constructor name for objects, function name for closures, else the node
// type), in bytes and objects per connection.
import { readFileSync } from 'node:fs';

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function aggregate(file: string): Map<string, { count: number; bytes: number }> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const totals = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    const name = heap.strings[heap.nodes[i + nameAt]!] ?? '';
    const key =
      type === 'object' ? name.split(' ')[0] || '(object)'
      : type === 'closure' ? `closure ${name || '(anonymous)'}`
      : type === 'native' ? `native ${name.slice(0, 40)}`
      : `(${type})`;
    const entry = totals.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += heap.nodes[i + sizeAt]!;
    totals.set(key, entry);
  }
  return totals;
}

export interface HeapGrowth {
  kind: string;
  bytesPerConnection: number;
  objectsPerConnection: number;
}

export function heapGrowth(beforeFile: string, afterFile: string, connections: number, top = 20): { totalBytesPerConnection: number; top: HeapGrowth[] } {
  const before = aggregate(beforeFile);
  const after = aggregate(afterFile);
  const rows: HeapGrowth[] = [];
  let total = 0;
  for (const [kind, now] of after) {
    const was = before.get(kind) ?? { count: 0, bytes: 0 };
    const bytes = now.bytes - was.bytes;
    total += bytes;
    rows.push({
      kind,
      bytesPerConnection: Math.round((bytes / connections) * 10) / 10,
      objectsPerConnection: Math.round(((now.count - was.count) / connections) * 100) / 100,
    });
  }
  rows.sort((a, b) => b.bytesPerConnection - a.bytesPerConnection);
  return { totalBytesPerConnection: Math.round(total / connections), top: rows.slice(0, top) };
}

export function formatHeapGrowth(title: string, growth: ReturnType<typeof heapGrowth>): string {
  return [
    `${title}: ${growth.totalBytesPerConnection} bytes of heap objects per connection (snapshot diff)`,
    ...growth.top.map(
      (row) => `    ${String(row.bytesPerConnection).padStart(8)} B  ${String(row.objectsPerConnection).padStart(6)} objects  ${row.kind}`,
    ),
  ].join('\n');
}
