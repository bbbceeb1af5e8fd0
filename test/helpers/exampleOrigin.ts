/** The example of a traced NaN: "NaN born in blocks.2.gate, LogGate.forward, model.py:10". */
import type { NonfiniteOrigin } from '../../src/shared/nonfiniteOrigin';

export const LOG_GATE_ORIGIN: NonfiniteOrigin = {
  phase: 'forward',
  module: 'blocks.2.gate',
  class: 'LogGate',
  file: 'model.py',
  line: 10,
  value: NaN,
};
