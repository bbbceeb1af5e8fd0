/** Lightning-style metrics.csv texts for property tests: cells as real tables have them, bad ones included. */
import fc from 'fast-check';

/** Python reprs, pandas' spellings, exponents, numbers JSON would not take, and cells that are no number. */
export const cellArb = fc.oneof(
  { weight: 4, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }).map(String) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map(String) },
  { weight: 2, arbitrary: fc.constant('') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('nan', 'inf', '-inf', 'NaN', '1e-05', '1.0', '-0.0', '007', '.5', '5.', ' 0.25'),
  },
  { weight: 1, arbitrary: fc.constantFrom('1e400', '2E+3', '1' + '0'.repeat(45), 'high', '0x10') },
);

/**
 * A table's text: rows of two layer norms, maybe a total, the learning rate and the step loss; steps
 * repeat over consecutive rows (to be merged) and now and then a step cell is bad or a row is blank.
 */
export const lightningTableArb = fc
  .record({
    rows: fc.array(
      fc.tuple(
        fc.nat({ max: 3 }),
        fc.array(cellArb, { minLength: 6, maxLength: 6 }),
        fc.constantFrom('row', 'row', 'row', 'row', 'row', 'bad step', 'blank'),
      ),
      { minLength: 1, maxLength: 60 },
    ),
    withTotal: fc.boolean(),
    endsWithBreak: fc.boolean(),
  })
  .map(({ rows, withTotal, endsWithBreak }) => {
    const header = withTotal
      ? 'epoch,grad_2.0_norm/a.weight,grad_2.0_norm/b.weight,grad_2.0_norm_total,lr-Adam,step,train_loss_step'
      : 'epoch,grad_2.0_norm/a.weight,grad_2.0_norm/b.weight,unused,lr-Adam,step,train_loss_step';
    let step = 0;
    const lines = rows.map(([advance, [a, b, total, lr, loss, epoch], kind]) => {
      step += advance; // rows of one step are merged
      if (kind === 'blank') return '';
      return [epoch, a, b, total, lr, kind === 'bad step' ? 'x' : step, loss].join(',');
    });
    // Without a final line break the last row was cut off mid-write.
    return [header, ...lines].join('\n') + (endsWithBreak ? '\n' : '');
  });
