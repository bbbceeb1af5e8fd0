/**
 * The number in a scalar summary value, whichever way the writer stored it: PyTorch's
 * `add_scalar` writes `simple_value`, TF2 writes a one-element tensor (`tensor_content` raw
 * little-endian bytes, or a typed `*_val` list) tagged with the "scalars" plugin.
 */
import { DT_BFLOAT16, DT_DOUBLE, DT_FLOAT, DT_HALF, SummaryValue, TensorProto } from './eventSchema';

export function scalarValue(v: SummaryValue): number | undefined {
  const kind = scalarKind(v);
  if (kind === 'simple_value') return v.simple_value;
  return kind === 'tensor' ? tensorScalar(v.tensor!) : undefined;
}

/** How a value stores its scalar, or undefined when it is no scalar. */
export function scalarKind(v: SummaryValue): 'simple_value' | 'tensor' | undefined {
  if (v.value === 'simple_value') return 'simple_value';
  if (v.value !== 'tensor' || !v.tensor) return undefined;
  const plugin = v.metadata?.plugin_data?.plugin_name;
  if (plugin && plugin !== 'scalars') return undefined; // histograms, images... carried as tensors
  return 'tensor';
}

function tensorScalar(t: TensorProto): number | undefined {
  const content = t.tensor_content;
  const bytes = content.length > 0 ? Buffer.from(content.buffer, content.byteOffset, content.byteLength) : undefined;
  switch (t.dtype) {
    case DT_FLOAT:
      return bytes ? (bytes.length === 4 ? bytes.readFloatLE(0) : undefined) : single(t.float_val);
    case DT_DOUBLE:
      return bytes ? (bytes.length === 8 ? bytes.readDoubleLE(0) : undefined) : single(t.double_val);
    case DT_HALF:
    case DT_BFLOAT16: {
      const bits = bytes ? (bytes.length === 2 ? bytes.readUInt16LE(0) : undefined) : single(t.half_val);
      if (bits === undefined) return undefined;
      return t.dtype === DT_HALF ? halfToNumber(bits) : bfloat16ToNumber(bits);
    }
    default:
      return undefined;
  }
}

/** A scalar holds exactly one value; anything longer is not a scalar summary. */
function single(values: readonly number[]): number | undefined {
  return values.length === 1 ? values[0] : undefined;
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
