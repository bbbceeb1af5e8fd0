/**
 * What VS Code does to a webview message on its way: JSON, except typed arrays and ArrayBuffers,
 * which travel as binary and are revived with their type. Plain NaN/Infinity become null, which is
 * why the dashboard protocol keeps non-finite numbers in typed arrays or WireNumber strings.
 */
type TypedArrayName =
  | 'Float64Array'
  | 'Float32Array'
  | 'Int32Array'
  | 'Uint8Array'
  | 'Uint32Array'
  | 'Int8Array'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Uint8ClampedArray';

export function throughVsCodeTransport<T>(message: T): T {
  const buffers: ArrayBuffer[] = [];
  const json = JSON.stringify(message, (_key, value: unknown) => {
    if (ArrayBuffer.isView(value)) {
      buffers.push(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer);
      return { $$vscodeBuffer: value.constructor.name as TypedArrayName, index: buffers.length - 1 };
    }
    return value;
  });
  if (json === undefined) return undefined as T;
  return JSON.parse(json, (_key, value: unknown) => {
    if (value && typeof value === 'object' && '$$vscodeBuffer' in value) {
      const ref = value as { $$vscodeBuffer: TypedArrayName; index: number };
      const Type = (globalThis as unknown as Record<TypedArrayName, new (b: ArrayBuffer) => unknown>)[
        ref.$$vscodeBuffer
      ];
      return new Type(buffers[ref.index]);
    }
    return value;
  }) as T;
}
