/**
 * Reads the scalars of an Event protobuf straight from the record's bytes: importing visits one
 * event per scalar, millions of them, so a value (its tag, and a `simple_value` as PyTorch's writers
 * log it or a one-element tensor with the scalars plugin's metadata as TF2's do) is read without
 * building a message, a reader or a string: tags are interned by their bytes and handed over as
 * small integers. A value with any other field (images, histograms of TF1, node names) is decoded in
 * full by protobufjs. Field numbers: tensorflow/core/util/event.proto, framework/summary.proto and
 * framework/tensor.proto.
 */
import { decodeSummaryValue } from './eventSchema';
import { isScalarPlugin, scalarKind, scalarValue, TensorParts, tensorScalar } from './scalars';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

export type ScalarKind = 'simple_value' | 'tensor';

/** Receives an event's scalars once the whole event is read (its step may follow its summary). */
export interface ScalarVisitor {
  /** `kind` says how the writer stored the value: which library wrote it. */
  scalar(tag: number, value: number, kind: ScalarKind, step: number, wallTime: number): void;
  fileVersion(version: string): void;
}

const enum Field {
  ValueTag = (1 << 3) | WIRE_LENGTH_DELIMITED,
  ValueSimple = (2 << 3) | WIRE_FIXED32,
  ValueTensor = (8 << 3) | WIRE_LENGTH_DELIMITED,
  ValueMetadata = (9 << 3) | WIRE_LENGTH_DELIMITED,
  MetadataPluginData = (1 << 3) | WIRE_LENGTH_DELIMITED,
  PluginName = (1 << 3) | WIRE_LENGTH_DELIMITED,
  TensorDtype = (1 << 3) | WIRE_VARINT,
  TensorContent = (4 << 3) | WIRE_LENGTH_DELIMITED,
  FloatPacked = (5 << 3) | WIRE_LENGTH_DELIMITED,
  Float = (5 << 3) | WIRE_FIXED32,
  DoublePacked = (6 << 3) | WIRE_LENGTH_DELIMITED,
  Double = (6 << 3) | WIRE_FIXED64,
  HalfPacked = (13 << 3) | WIRE_LENGTH_DELIMITED,
  Half = (13 << 3) | WIRE_VARINT,
}

const SCALARS_PLUGIN = new TextEncoder().encode('scalars');

export class EventWireReader {
  /** Interned tag names, indexed by the numbers given to `scalar`. */
  readonly tags: string[] = [];
  private readonly tagBytes: Uint8Array[] = [];
  private readonly tagsByHash = new Map<number, number[]>();
  private readonly utf8 = new TextDecoder();
  private view: DataView = new DataView(new ArrayBuffer(0));
  /** The tag that followed each tag last time: writers log the same tags in the same order every step. */
  private readonly successor: number[] = [];
  private previousTag = -1;
  // One event's values, kept until its step and wall time are known; reused between events.
  private readonly pendingTags: number[] = [];
  private readonly pendingValues: number[] = [];
  private readonly pendingKinds: ScalarKind[] = [];
  private pending = 0;
  /** The tensor being read, reused: its content is a view of the record's bytes. */
  private readonly tensor: TensorParts = {
    dtype: 0,
    content: new DataView(new ArrayBuffer(0)),
    contentAt: 0,
    contentBytes: 0,
    floats: 0,
    float: NaN,
    doubles: 0,
    double: NaN,
    halves: 0,
    half: NaN,
  };
  private b: Uint8Array = new Uint8Array(0);
  private pos = 0;

  /** Reads the event in `bytes[start, end)`; throws on malformed wire data, calling the visitor for nothing then. */
  read(bytes: Uint8Array, start: number, end: number, visitor: ScalarVisitor): void {
    if (bytes !== this.b) {
      this.b = bytes;
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.pos = start;
    this.pending = 0;
    let step = 0;
    let wallTime = 0;
    let version: string | undefined;
    while (this.pos < end) {
      const key = this.varint32(end);
      const field = key >>> 3;
      const wire = key & 7;
      if (field === 1 && wire === WIRE_FIXED64) wallTime = this.float64(end);
      else if (field === 2 && wire === WIRE_VARINT) step = this.int64(end);
      else if (field === 3 && wire === WIRE_LENGTH_DELIMITED) {
        const length = this.varint32(end);
        version = this.utf8.decode(bytes.subarray(this.pos, this.within(this.pos + length, end)));
        this.pos += length;
      } else if (field === 5 && wire === WIRE_LENGTH_DELIMITED) {
        const length = this.varint32(end);
        this.summary(this.within(this.pos + length, end));
      } else this.skip(wire, end);
    }
    if (version) visitor.fileVersion(version);
    for (let i = 0; i < this.pending; i++)
      visitor.scalar(this.pendingTags[i], this.pendingValues[i], this.pendingKinds[i], step, wallTime);
  }

  private summary(end: number): void {
    while (this.pos < end) {
      const key = this.varint32(end);
      if (key !== ((1 << 3) | WIRE_LENGTH_DELIMITED)) {
        this.skip(key & 7, end);
        continue;
      }
      const length = this.varint32(end);
      this.value(this.pos, this.within(this.pos + length, end));
    }
  }

  private value(start: number, end: number): void {
    let tag = -1;
    let kind: ScalarKind | undefined; // the oneof's member: the last one on the wire
    let simple = NaN;
    let fromTensor: number | undefined;
    let scalarPlugin = true;
    let other = false;
    while (this.pos < end) {
      const key = this.varint32(end);
      if (key === Field.ValueTag) {
        const length = this.varint32(end);
        tag = this.intern(this.pos, this.within(this.pos + length, end));
        this.pos += length;
      } else if (key === Field.ValueSimple) {
        simple = this.float32(end);
        kind = 'simple_value';
      } else if (key === Field.ValueTensor) {
        fromTensor = this.tensorScalar(this.within(this.varint32(end) + this.pos, end));
        kind = 'tensor';
      } else if (key === Field.ValueMetadata)
        scalarPlugin = this.hasScalarPlugin(this.within(this.varint32(end) + this.pos, end));
      else {
        other = true;
        this.skip(key & 7, end);
      }
    }
    let value: number | undefined;
    if (other) {
      const decoded = decodeSummaryValue(this.b.subarray(start, end));
      kind = scalarKind(decoded);
      value = scalarValue(decoded);
    } else if (kind === 'simple_value') value = simple;
    else if (kind === 'tensor' && scalarPlugin) value = fromTensor;
    if (kind === undefined || value === undefined) return; // not a scalar
    this.pendingTags[this.pending] = tag < 0 ? this.intern(0, 0) : tag;
    this.pendingValues[this.pending] = value;
    this.pendingKinds[this.pending] = kind;
    this.pending++;
  }

  /** The scalar of the TensorProto ending at `end`, or undefined when it holds no single number. */
  private tensorScalar(end: number): number | undefined {
    const t = this.tensor;
    t.dtype = 0;
    t.content = this.view;
    t.contentBytes = 0;
    t.floats = t.doubles = t.halves = 0;
    while (this.pos < end) {
      const key = this.varint32(end);
      switch (key) {
        case Field.TensorDtype:
          t.dtype = this.varint32(end);
          break;
        case Field.TensorContent: {
          t.contentBytes = this.varint32(end);
          t.contentAt = this.pos;
          this.pos = this.within(this.pos + t.contentBytes, end);
          break;
        }
        case Field.Float:
          t.float = this.float32(end);
          t.floats++;
          break;
        case Field.FloatPacked:
          for (const listEnd = this.within(this.varint32(end) + this.pos, end); this.pos < listEnd; t.floats++)
            t.float = this.float32(listEnd);
          break;
        case Field.Double:
          t.double = this.float64(end);
          t.doubles++;
          break;
        case Field.DoublePacked:
          for (const listEnd = this.within(this.varint32(end) + this.pos, end); this.pos < listEnd; t.doubles++)
            t.double = this.float64(listEnd);
          break;
        case Field.Half:
          t.half = this.varint32(end);
          t.halves++;
          break;
        case Field.HalfPacked:
          for (const listEnd = this.within(this.varint32(end) + this.pos, end); this.pos < listEnd; t.halves++)
            t.half = this.varint32(listEnd);
          break;
        default:
          this.skip(key & 7, end);
      }
    }
    return tensorScalar(t);
  }

  /** Whether the SummaryMetadata ending at `end` names no plugin or the scalars plugin. */
  private hasScalarPlugin(end: number): boolean {
    let nameAt = 0;
    let nameEnd = 0;
    while (this.pos < end) {
      const key = this.varint32(end);
      if (key !== Field.MetadataPluginData) {
        this.skip(key & 7, end);
        continue;
      }
      const dataEnd = this.within(this.varint32(end) + this.pos, end);
      while (this.pos < dataEnd) {
        const k = this.varint32(dataEnd);
        if (k !== Field.PluginName) {
          this.skip(k & 7, dataEnd);
          continue;
        }
        const length = this.varint32(dataEnd);
        nameAt = this.pos;
        nameEnd = this.pos = this.within(this.pos + length, dataEnd);
      }
    }
    if (nameEnd === nameAt) return isScalarPlugin(undefined);
    if (nameEnd - nameAt !== SCALARS_PLUGIN.length) return false;
    for (let i = 0; i < SCALARS_PLUGIN.length; i++) if (this.b[nameAt + i] !== SCALARS_PLUGIN[i]) return false;
    return true;
  }

  /** The number of the tag in `b[start, end)`, decoding its text only the first time it is seen. */
  private intern(start: number, end: number): number {
    const predicted = this.previousTag < 0 ? undefined : this.successor[this.previousTag];
    const id = predicted !== undefined && this.sameBytes(predicted, start, end) ? predicted : this.lookUp(start, end);
    if (this.previousTag >= 0) this.successor[this.previousTag] = id;
    this.previousTag = id;
    return id;
  }

  private sameBytes(id: number, start: number, end: number): boolean {
    const known = this.tagBytes[id];
    if (known.length !== end - start) return false;
    const b = this.b;
    for (let i = 0; i < known.length; i++) if (known[i] !== b[start + i]) return false;
    return true;
  }

  private lookUp(start: number, end: number): number {
    const b = this.b;
    let hash = end - start;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ b[i], 0x01000193);
    let ids = this.tagsByHash.get(hash);
    if (ids) {
      for (const id of ids) if (this.sameBytes(id, start, end)) return id;
    } else this.tagsByHash.set(hash, (ids = []));
    const id = this.tags.length;
    this.tagBytes.push(b.slice(start, end));
    this.tags.push(this.utf8.decode(b.subarray(start, end)));
    ids.push(id);
    return id;
  }

  private within(at: number, end: number): number {
    if (at > end) throw new RangeError(`a length runs past its message (byte ${at} of ${end})`);
    return at;
  }

  private varint32(end: number): number {
    const b = this.b;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= end) throw new RangeError('a varint runs past the end of its message');
      const byte = b[this.pos++];
      result |= (byte & 0x7f) << shift;
      if (byte < 0x80) return result >>> 0;
    }
    // Longer varints (negative int32s) carry 64 bits; keep the low 32 as protobufjs does.
    for (let i = 0; i < 5; i++) {
      if (this.pos >= end) throw new RangeError('a varint runs past the end of its message');
      if (b[this.pos++] < 0x80) return result >>> 0;
    }
    throw new RangeError('a varint is longer than 10 bytes');
  }

  /** A signed 64-bit varint as a number (exact up to 2^53, as protobufjs' Long.toNumber). */
  private int64(end: number): number {
    const b = this.b;
    let low = 0;
    let high = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw new RangeError('a varint runs past the end of its message');
      const byte = b[this.pos++];
      if (i < 4) low |= (byte & 0x7f) << (7 * i);
      else if (i === 4) {
        low |= (byte & 0x0f) << 28;
        high |= (byte & 0x7f) >> 4;
      } else high |= (byte & 0x7f) << (7 * i - 32);
      if (byte < 0x80) return (high | 0) * 2 ** 32 + (low >>> 0);
    }
    throw new RangeError('a varint is longer than 10 bytes');
  }

  private float64(end: number): number {
    const at = this.pos;
    this.pos = this.within(at + 8, end);
    return this.view.getFloat64(at, true);
  }

  private float32(end: number): number {
    const at = this.pos;
    this.pos = this.within(at + 4, end);
    return this.view.getFloat32(at, true);
  }

  private skip(wire: number, end: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.int64(end);
        return;
      case WIRE_FIXED64:
        this.pos = this.within(this.pos + 8, end);
        return;
      case WIRE_LENGTH_DELIMITED: {
        const length = this.varint32(end);
        this.pos = this.within(this.pos + length, end);
        return;
      }
      case WIRE_START_GROUP:
        for (;;) {
          const key = this.varint32(end);
          if ((key & 7) === WIRE_END_GROUP) return;
          this.skip(key & 7, end);
        }
      case WIRE_FIXED32:
        this.pos = this.within(this.pos + 4, end);
        return;
      default:
        throw new RangeError(`invalid wire type ${wire} at byte ${this.pos}`);
    }
  }
}
