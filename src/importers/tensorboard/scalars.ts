/**
 * The number in a scalar summary value, whichever way the writer stored it: PyTorch's
 * `add_scalar` writes `simple_value`, TF2 writes a one-element tensor (`tensor_content` raw
 * little-endian bytes, or a typed `*_val` list) tagged with the "scalars" plugin.
 */
import { DT_BFLOAT16, DT_DOUBLE, DT_FLOAT, DT_HALF, SummaryValue, TensorProto } from './eventSchema';

/** What decides a tensor's scalar: its type, its raw content, and how many values each typed list holds. */
export interface TensorParts {
  dtype: number;
  /** tensor_content, little-endian: `contentBytes` bytes from `contentAt`; none when the values are in a list. */
  content: DataView;
  contentAt: number;
  contentBytes: number;
  floats: number;
  /** The last float_val (the only one when floats is 1); likewise below. */
  float: number;
  doubles: number;
  double: number;
  halves: number;
  half: number;
}

export function scalarValue(v: SummaryValue): number | undefined {
  const kind = scalarKind(v);
  if (kind === 'simple_value') return v.simple_value;
  return kind === 'tensor' ? tensorScalar(partsOf(v.tensor!)) : undefined;
}

/** How a value stores its scalar, or undefined when it is no scalar. */
export function scalarKind(v: SummaryValue): 'simple_value' | 'tensor' | undefined {
  if (v.value === 'simple_value') return 'simple_value';
  if (v.value !== 'tensor' || !v.tensor) return undefined;
  const plugin = v.metadata?.plugin_data?.plugin_name;
  return isScalarPlugin(plugin) ? 'tensor' : undefined;
}

/** Histograms, images... are carried as tensors too: only the scalars plugin's (or no plugin's) count. */
export function isScalarPlugin(plugin: string | undefined): boolean {
  return !plugin || plugin === 'scalars';
}

const NO_CONTENT = new DataView(new ArrayBuffer(0));

function partsOf(t: TensorProto): TensorParts {
  const c = t.tensor_content; // protobufjs gives a plain empty array when the field is absent
  const last = (values: readonly number[]): number => values[values.length - 1] ?? NaN;
  return {
    dtype: t.dtype,
    content: c.length > 0 ? new DataView(c.buffer, c.byteOffset, c.byteLength) : NO_CONTENT,
    contentAt: 0,
    contentBytes: c.length,
    floats: t.float_val.length,
    float: last(t.float_val),
    doubles: t.double_val.length,
    double: last(t.double_val),
    halves: t.half_val.length,
    half: last(t.half_val),
  };
}

/** A scalar holds exactly one value: raw content of one element, or a typed list of one. */
export function tensorScalar(t: TensorParts): number | undefined {
  const bytes = t.contentBytes;
  switch (t.dtype) {
    case DT_FLOAT:
      if (bytes > 0) return bytes === 4 ? t.content.getFloat32(t.contentAt, true) : undefined;
      return t.floats === 1 ? t.float : undefined;
    case DT_DOUBLE:
      if (bytes > 0) return bytes === 8 ? t.content.getFloat64(t.contentAt, true) : undefined;
      return t.doubles === 1 ? t.double : undefined;
    case DT_HALF:
    case DT_BFLOAT16: {
      let bits: number | undefined;
      if (bytes > 0) bits = bytes === 2 ? t.content.getUint16(t.contentAt, true) : undefined;
      else bits = t.halves === 1 ? t.half : undefined;
      if (bits === undefined) return undefined;
      return t.dtype === DT_HALF ? halfToNumber(bits) : bfloat16ToNumber(bits);
    }
    default:
      return undefined;
  }
}

/** IEEE 754 binary16 bits to a number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const bfloatView = new DataView(new ArrayBuffer(4));

/** bfloat16 bits are the top half of a float32. */
export function bfloat16ToNumber(bits: number): number {
  bfloatView.setUint32(0, (bits & 0xffff) << 16);
  return bfloatView.getFloat32(0);
}
