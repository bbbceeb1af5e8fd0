/** Wire protocol v1 message types (see docs/protocol.md). Shared by the server, the CLI and the log reader. */
import type { NonfiniteOrigin } from '../shared/nonfiniteOrigin';

export type { NonfiniteOrigin };

export const PROTOCOL_VERSION = 1;
export const STREAM_PATH = '/v1/stream';
export const HEALTH_PATH = '/v1/health';

export type Framework = 'pytorch' | 'tensorflow' | 'jax' | 'other';
export const FRAMEWORKS: readonly Framework[] = ['pytorch', 'tensorflow', 'jax', 'other'];

export type RunStatus = 'completed' | 'failed' | 'interrupted';
export const RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'interrupted'];

export interface RunStartMessage {
  type: 'run_start';
  run_id: string;
  name?: string;
  framework?: Framework;
  layers?: string[];
  threshold?: number;
  meta?: Record<string, unknown>;
  /** Optional client sequence number; the server acknowledges it once the message is recorded. */
  seq?: number;
}

export interface StepMessage {
  type: 'step';
  run_id: string;
  step: number;
  /**
   * Absent: not measured (a step that carries only its loss or learning rate, such as an old
   * trainer_state.json's); such a step counts in no norm statistic and raises no alert.
   */
  total_norm?: number;
  layer_norms?: number[];
  loss?: number;
  lr?: number;
  clipped?: boolean;
  time?: number;
  /** Rank of the sending process in a distributed run; absent means rank 0. */
  rank?: number;
  /** True when the optimizer step was skipped: by an AMP loss scaler (inf/NaN in scaled grads), or see skip_reason. */
  skipped?: boolean;
  /** Why a step was skipped when not by a loss scaler: 'nonfinite' is the client's step guard. */
  skip_reason?: string;
  /** Where this non-finite step's NaN/Inf was born, as far as the client traced it. */
  nonfinite_origin?: NonfiniteOrigin;
  seq?: number;
}

export interface RunEndMessage {
  type: 'run_end';
  run_id: string;
  status: RunStatus;
  message?: string;
  seq?: number;
}

export type ClientMessage = RunStartMessage | StepMessage | RunEndMessage;

export type ErrorCode =
  | 'bad_json'
  | 'bad_message'
  | 'unknown_type'
  | 'too_many_messages'
  | 'rate_limited'
  | 'limit_exceeded'
  | 'recording_failed';

/** Server -> client: something in a frame was rejected; the rest of the frame and the connection survive. */
export interface ErrorMessage {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** Index of the offending message inside a batched frame. */
  index?: number;
  run_id?: string;
  seq?: number;
}

/** Server -> client: every message with `seq <= seq` from this connection is recorded. */
export interface AckMessage {
  type: 'ack';
  seq: number;
}

export type ServerMessage = ErrorMessage | AckMessage;
