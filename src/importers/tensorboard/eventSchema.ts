/**
 * The parts of TensorFlow's Event protobuf a scalar reader needs (tensorflow/core/util/event.proto,
 * summary.proto, tensor.proto), as protobufjs reflection JSON. Field numbers are the wire contract;
 * fields left out (images, histograms, graphs...) are skipped by the decoder.
 */
import * as protobuf from 'protobufjs/light';

const schema: protobuf.INamespace = {
  nested: {
    tensorboard: {
      nested: {
        Event: {
          fields: {
            wall_time: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            file_version: { type: 'string', id: 3 },
            summary: { type: 'Summary', id: 5 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'SummaryValue', id: 1 } },
        },
        SummaryValue: {
          oneofs: { value: { oneof: ['simple_value', 'tensor'] } },
          fields: {
            tag: { type: 'string', id: 1 },
            simple_value: { type: 'float', id: 2 },
            tensor: { type: 'TensorProto', id: 8 },
            metadata: { type: 'SummaryMetadata', id: 9 },
          },
        },
        SummaryMetadata: {
          fields: {
            plugin_data: { type: 'PluginData', id: 1 },
            data_class: { type: 'int32', id: 4 },
          },
        },
        PluginData: {
          fields: {
            plugin_name: { type: 'string', id: 1 },
            content: { type: 'bytes', id: 2 },
          },
        },
        TensorProto: {
          fields: {
            dtype: { type: 'int32', id: 1 },
            tensor_content: { type: 'bytes', id: 4 },
            float_val: { rule: 'repeated', type: 'float', id: 5 },
            double_val: { rule: 'repeated', type: 'double', id: 6 },
            half_val: { rule: 'repeated', type: 'int32', id: 13 },
          },
        },
      },
    },
  },
};

/** TensorFlow DataType values the scalar reader understands. */
export const DT_FLOAT = 1;
export const DT_DOUBLE = 2;
export const DT_BFLOAT16 = 14;
export const DT_HALF = 19;

export interface TensorProto {
  dtype: number;
  tensor_content: Uint8Array;
  float_val: number[];
  double_val: number[];
  half_val: number[];
}

export interface SummaryValue {
  tag: string;
  /** Which member of the oneof is set. */
  value?: 'simple_value' | 'tensor';
  simple_value: number;
  tensor?: TensorProto;
  metadata?: { plugin_data?: { plugin_name: string } };
}

export interface Event {
  wall_time: number;
  step: number | protobuf.Long;
  file_version: string;
  summary?: { value: SummaryValue[] };
}

const root = protobuf.Root.fromJSON(schema);
const EventType = root.lookupType('tensorboard.Event');
const SummaryValueType = root.lookupType('tensorboard.SummaryValue');

export function decodeEvent(data: Uint8Array): Event {
  return EventType.decode(data) as unknown as Event;
}

export interface ScalarEvent {
  wall_time: number;
  step: number;
  file_version: string;
  /** Each summary value: its tag and simple_value, or the decoded value when it carries a tensor or metadata. */
  values: [tag: string, value: number | SummaryValue][];
}

const WIRE_LENGTH_DELIMITED = 2;

/**
 * An Event read with protobufjs' wire reader, building no message object for the common value
 * (a tag and a simple_value): importing reads one event per scalar, millions of them, and the
 * reflective decoder was most of the time. Values with a tensor or metadata are decoded in full.
 */
export function readScalarEvent(data: Uint8Array): ScalarEvent {
  const r = protobuf.Reader.create(data);
  const event: ScalarEvent = { wall_time: 0, step: 0, file_version: '', values: [] };
  while (r.pos < r.len) {
    const key = r.uint32();
    const field = key >>> 3;
    if (field === 1 && (key & 7) === 1) event.wall_time = r.double();
    else if (field === 2 && (key & 7) === 0) event.step = stepNumber(r.int64() as number | protobuf.Long);
    else if (field === 3 && (key & 7) === WIRE_LENGTH_DELIMITED) event.file_version = r.string();
    else if (field === 5 && (key & 7) === WIRE_LENGTH_DELIMITED) readSummary(r, r.uint32() + r.pos, event.values);
    else r.skipType(key & 7);
  }
  return event;
}

function readSummary(r: protobuf.Reader, end: number, out: ScalarEvent['values']): void {
  while (r.pos < end) {
    const key = r.uint32();
    if (key >>> 3 !== 1 || (key & 7) !== WIRE_LENGTH_DELIMITED) {
      r.skipType(key & 7);
      continue;
    }
    const valueEnd = r.uint32() + r.pos;
    const start = r.pos;
    let tag = '';
    let simple: number | undefined;
    let other = false;
    while (r.pos < valueEnd) {
      const k = r.uint32();
      if (k >>> 3 === 1 && (k & 7) === WIRE_LENGTH_DELIMITED) tag = r.string();
      else if (k >>> 3 === 2 && (k & 7) === 5) simple = r.float();
      else {
        other = true;
        r.skipType(k & 7);
      }
    }
    if (other) out.push([tag, SummaryValueType.decode(r.buf.subarray(start, valueEnd)) as unknown as SummaryValue]);
    else if (simple !== undefined) out.push([tag, simple]);
  }
}

export function stepNumber(step: number | protobuf.Long): number {
  return typeof step === 'number' ? step : protobuf.util.LongBits.from(step).toNumber();
}
