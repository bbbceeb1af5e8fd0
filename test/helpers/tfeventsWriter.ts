/**
 * A small TensorBoard event file writer for tests, written from the format spec alone (record
 * framing, masked CRC32C and the Event/Summary/TensorProto field numbers) and sharing no code with
 * the reader, so a misread field number or CRC on either side shows up as a failing test.
 */

// ---- protobuf wire format ----
function varint(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // negative int64/int32 values are ten-byte two's complement varints
  const bytes: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    bytes.push(b);
  } while (v > 0n);
  return Buffer.from(bytes);
}
const key = (field: number, wire: number): Buffer => varint((field << 3) | wire);
const lengthDelimited = (field: number, body: Buffer): Buffer =>
  Buffer.concat([key(field, 2), varint(body.length), body]);
function fixed64Double(field: number, v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return Buffer.concat([key(field, 1), b]);
}
function fixed32Float(field: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return Buffer.concat([key(field, 5), b]);
}

// ---- messages (tensorflow/core/util/event.proto, framework/summary.proto, framework/tensor.proto) ----
export const DT_FLOAT = 1;
export const DT_DOUBLE = 2;
export const DT_BFLOAT16 = 14;
export const DT_HALF = 19;

export interface TensorSpec {
  dtype: number;
  content?: Buffer;
  floatVal?: number[];
  doubleVal?: number[];
  halfVal?: number[];
  /** Packed (proto3 default) or one field per value (what older writers emit). */
  packed?: boolean;
}

export interface ValueSpec {
  tag: string;
  simple?: number;
  tensor?: TensorSpec;
  plugin?: string;
}

export interface EventSpec {
  step: number;
  wallTime?: number;
  fileVersion?: string;
  values?: ValueSpec[];
}

function encodeTensor(t: TensorSpec): Buffer {
  const parts = [key(1, 0), varint(t.dtype)];
  if (t.content) parts.push(lengthDelimited(4, t.content));
  const repeated = (
    field: number,
    values: number[] | undefined,
    one: (v: number) => Buffer,
    wire: (f: number, v: number) => Buffer,
  ): void => {
    if (!values || values.length === 0) return;
    if (t.packed === false) for (const v of values) parts.push(wire(field, v));
    else parts.push(lengthDelimited(field, Buffer.concat(values.map(one))));
  };
  const f32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    return b;
  };
  const f64 = (v: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return b;
  };
  repeated(5, t.floatVal, f32, fixed32Float);
  repeated(6, t.doubleVal, f64, fixed64Double);
  repeated(
    13,
    t.halfVal,
    (v) => varint(v),
    (f, v) => Buffer.concat([key(f, 0), varint(v)]),
  );
  return Buffer.concat(parts);
}

function encodeValue(v: ValueSpec): Buffer {
  const parts = [lengthDelimited(1, Buffer.from(v.tag, 'utf8'))];
  if (v.simple !== undefined) parts.push(fixed32Float(2, v.simple));
  if (v.tensor) parts.push(lengthDelimited(8, encodeTensor(v.tensor)));
  if (v.plugin !== undefined) {
    const pluginData = lengthDelimited(1, Buffer.from(v.plugin, 'utf8'));
    parts.push(lengthDelimited(9, Buffer.concat([lengthDelimited(1, pluginData), key(4, 0), varint(1)])));
  }
  return Buffer.concat(parts);
}

export function encodeEvent(e: EventSpec): Buffer {
  const parts = [fixed64Double(1, e.wallTime ?? 1_700_000_000 + e.step), key(2, 0), varint(e.step)];
  if (e.fileVersion !== undefined) parts.push(lengthDelimited(3, Buffer.from(e.fileVersion, 'utf8')));
  if (e.values && e.values.length > 0)
    parts.push(lengthDelimited(5, Buffer.concat(e.values.map((v) => lengthDelimited(1, encodeValue(v))))));
  return Buffer.concat(parts);
}

// ---- record framing ----
/** CRC32C (Castagnoli), bit by bit: slow and obviously right. */
function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export function maskedCrc(data: Uint8Array): number {
  const crc = crc32c(data);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

export function frameRecord(data: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.writeBigUInt64LE(BigInt(data.length));
  header.writeUInt32LE(maskedCrc(header.subarray(0, 8)), 8);
  const footer = Buffer.alloc(4);
  footer.writeUInt32LE(maskedCrc(data));
  return Buffer.concat([header, data, footer]);
}

/** A whole event file: the file_version event first, as every writer does, then the given events. */
export function eventFile(events: EventSpec[]): Buffer {
  return Buffer.concat([
    frameRecord(encodeEvent({ step: 0, wallTime: 1_700_000_000, fileVersion: 'brain.Event:2' })),
    ...events.map((e) => frameRecord(encodeEvent(e))),
  ]);
}

/** Half-precision bits of a number (round to nearest), for half_val and DT_HALF tensor_content. */
export function toHalfBits(v: number): number {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (Number.isNaN(v)) return 0x7e00;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) return sign | Math.round((mant | 0x800000) / 2 ** (14 - exp));
  return sign | (exp << 10) | Math.round(mant / 8192);
}
