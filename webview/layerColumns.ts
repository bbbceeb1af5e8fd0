/** Geometry of a LayerView: which steps each column covers. */
import { LayerView } from '../src/shared/webviewProtocol';

export function stepsPerColumn(view: LayerView): number {
  return (view.to - view.from + 1) / view.columns;
}

/** First and last whole step of column c. */
export function columnSteps(view: LayerView, c: number): { first: number; last: number } {
  const per = stepsPerColumn(view);
  return {
    first: Math.ceil(view.from + c * per),
    last: Math.max(Math.ceil(view.from + c * per), Math.ceil(view.from + (c + 1) * per) - 1),
  };
}

export function columnAt(view: LayerView, step: number): number {
  return Math.floor((step - view.from) / stepsPerColumn(view));
}
