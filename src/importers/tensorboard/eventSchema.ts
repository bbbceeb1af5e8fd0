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

export function decodeSummaryValue(data: Uint8Array): SummaryValue {
  return SummaryValueType.decode(data) as unknown as SummaryValue;
}

/** An int64 field's value as a number (exact up to 2^53). */
export function stepNumber(step: number | protobuf.Long): number {
  return typeof step === 'number' ? step : protobuf.util.LongBits.from(step).toNumber();
}
