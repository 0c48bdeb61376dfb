//! `lstm_recurrence` and its backward pass: the backend's fused recurrence (taken when no step
//! has a mask) against the step-by-step path (taken when one has: here every mask is all ones,
//! so the values must not change), bit for bit. The step-by-step path is built from ops the
//! other families check (`matmul`, `lstm_cell`), and the `nn` fixtures check it against PyTorch.

use super::{ensure, make_view, ok, run, to_f64, CaseResult, Rng};
use crate::{Backend, Float, NDArray};
use proptest::test_runner::TestCaseError;

/// The fused and the step-by-step recurrence agree bit for bit, forward and backward, for
/// small shapes and for batches big enough that the CPU cuts them into blocks across threads.
pub fn check_lstm_recurrence<B: Backend>(b: &B) {
    fn one<E: Float, B: Backend>(b: &B, seed: u64) -> CaseResult {
        let mut rng = Rng(seed);
        let steps = rng.below(6);
        let (batch, hidden) = if rng.chance(50) {
            (1 + rng.below(5), 1 + rng.below(20))
        } else {
            (24 + rng.below(20), [40, 48, 72, 80][rng.below(4)])
        };
        let reverse = rng.chance(50);
        let mut view = |dims: &[usize]| -> std::result::Result<NDArray<E, B>, TestCaseError> {
            // Small values, so that sums over a hidden state of 80 leave the gates unsaturated.
            let (a, _) = make_view::<E, B>(b, &mut rng, dims, false, &mut |r| r.grid() / 16.0)?;
            // Mostly contiguous: the fused kernels take those (views go step by step).
            if rng.chance(75) {
                return ok("contiguous", a.contiguous());
            }
            Ok(a)
        };
        let xp = view(&[steps * batch, 4 * hidden])?;
        let w_hh = view(&[4 * hidden, hidden])?;
        let (h0, c0) = (view(&[batch, hidden])?, view(&[batch, hidden])?);
        let d_all = view(&[steps + 2, batch, hidden])?;
        let w_hh_t = ok("contiguous", w_hh.t().and_then(|w| w.contiguous()))?;
        let ones = ok("ones", NDArray::full([batch, 1], E::ONE, b))?;
        let runs = [vec![None; steps], vec![Some(ones); steps]];
        let mut got = Vec::new();
        for masks in &runs {
            let (out, trace) = ok(
                "lstm_recurrence",
                NDArray::lstm_recurrence(&xp, &w_hh_t, (&h0, &c0), masks, reverse, true),
            )?;
            let trace = trace.ok_or_else(|| TestCaseError::fail("lstm_recurrence: no trace"))?;
            let (d_pre, dh0, dc0) = ok(
                "lstm_recurrence backward",
                NDArray::lstm_recurrence_backward(&d_all, &w_hh, &trace, masks, reverse),
            )?;
            let cells = &trace.cells;
            let arrays = [
                &out,
                &trace.h_prev,
                &cells.qd,
                &cells.s_c,
                &cells.f,
                &d_pre,
                &dh0,
                &dc0,
            ];
            got.push(
                arrays
                    .map(to_f64)
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        let names = ["out", "h_prev", "qd", "s_c", "f", "d_pre", "dh0", "dc0"];
        for (k, name) in names.iter().enumerate() {
            let (fused, composed) = (&got[0][k], &got[1][k]);
            ensure(
                fused.len() == composed.len()
                    && fused
                        .iter()
                        .zip(composed)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                || {
                    format!(
                        "lstm_recurrence {name} (steps {steps}, batch {batch}, hidden {hidden}, \
                         reverse {reverse}): fused {fused:?} differs from step by step {composed:?}"
                    )
                },
            )?;
        }
        Ok(())
    }
    run("lstm_recurrence f32", |s| one::<f32, B>(b, s));
    run("lstm_recurrence f64", |s| one::<f64, B>(b, s));
}
