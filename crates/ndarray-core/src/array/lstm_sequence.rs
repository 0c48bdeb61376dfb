//! `lstm_recurrence`: one LSTM layer's recurrence in one direction over a whole sequence,
//! forward and backward, through the backend's fused kernel where it has one (the CPU's runs
//! each thread's block of the batch through every step), else step by step with array ops:
//! per step one product `h·W_hhᵀ` and one fused cell forward, one cell backward and one product
//! `d_pre·W_hh` backward. Both paths compute every element with the same kernels in the same
//! order, so they give the same bits.

use super::lstm::LstmSaved;
use super::NDArray;
use crate::{Backend, BinaryOp, Error, Float, Result, Shape};

/// What a sequence's forward pass keeps for its backward pass, all by time index.
#[derive(Debug, Clone)]
pub struct LstmTrace<E: Float, B: Backend> {
    /// The state each step started from, `[steps, batch, hidden]`.
    pub h_prev: NDArray<E, B>,
    /// Every step's cell factors, `[steps·batch, 4·hidden]` and `[steps·batch, hidden]`.
    pub cells: LstmSaved<E, B>,
}

impl<E: Float, B: Backend> LstmTrace<E, B> {
    /// Zeroed arrays for a sequence of `steps` steps of `[batch, hidden]` states.
    pub fn zeros(steps: usize, batch: usize, hidden: usize, backend: &B) -> Result<Self> {
        let rows = steps * batch;
        Ok(LstmTrace {
            h_prev: NDArray::zeros([steps, batch, hidden], backend)?,
            cells: LstmSaved {
                qd: NDArray::zeros([rows, 4 * hidden], backend)?,
                s_c: NDArray::zeros([rows, hidden], backend)?,
                f: NDArray::zeros([rows, hidden], backend)?,
            },
        })
    }

    /// Step `t`'s rows of the cell factors.
    fn cells_at(&self, t: usize, batch: usize) -> Result<LstmSaved<E, B>> {
        Ok(LstmSaved {
            qd: rows_of(&self.cells.qd, t, batch)?,
            s_c: rows_of(&self.cells.s_c, t, batch)?,
            f: rows_of(&self.cells.f, t, batch)?,
        })
    }
}

/// Step `t` of a `[steps·batch, width]` array as a `[batch, width]` view.
fn rows_of<E: Float, B: Backend>(
    a: &NDArray<E, B>,
    t: usize,
    batch: usize,
) -> Result<NDArray<E, B>> {
    a.narrow(0, t * batch, batch)
}

/// The time steps in the order a direction visits them.
fn time_order(steps: usize, reverse: bool) -> Box<dyn Iterator<Item = usize>> {
    if reverse {
        Box::new((0..steps).rev())
    } else {
        Box::new(0..steps)
    }
}

const OP: &str = "lstm_recurrence";

/// The backend's fresh contiguous storages, in order, each wrapped with the shape the caller
/// names as it takes it; an error if the backend returned too few.
fn wrap_each<E: Float, B: Backend>(
    storages: Vec<B::Storage<E>>,
    backend: &B,
) -> impl FnMut(Vec<usize>) -> Result<NDArray<E, B>> + '_ {
    let mut storages = storages.into_iter();
    move |shape| match storages.next() {
        Some(s) => Ok(NDArray::contiguous_from(s, shape, backend)),
        None => Err(Error::msg(
            "lstm_recurrence: the backend returned too few arrays",
        )),
    }
}

/// `a` has shape `want`, else an error saying `what`.
fn expect<E: Float, B: Backend>(
    a: &NDArray<E, B>,
    want: &[usize],
    what: &'static str,
) -> Result<()> {
    if a.dims() == want {
        return Ok(());
    }
    Err(Error::ShapeMismatch {
        op: OP,
        what,
        lhs: a.shape().clone(),
        rhs: Shape::from(want.to_vec()),
    })
}

impl<E: Float, B: Backend> NDArray<E, B> {
    /// One LSTM layer's recurrence in one direction: from the input's share of the gates `xp`
    /// (`[steps·batch, 4·hidden]`, gates i, f, g, o, biases included), `W_hhᵀ` (`w_hh_t`,
    /// `[hidden, 4·hidden]`) and the state `(h0, c0)` (`[batch, hidden]`), returns
    /// `[steps + 2, batch, hidden]`: every step's output `h` by time index, then `h_n`, then
    /// `c_n`. `reverse` runs time backwards. `masks[t]` (`[batch, 1]`, 1 or 0), where given,
    /// says which sequences still run at step `t`: an ended one keeps its state and outputs 0.
    /// With `keep_trace`, also returns what [`NDArray::lstm_recurrence_backward`] needs.
    pub fn lstm_recurrence(
        xp: &Self,
        w_hh_t: &Self,
        (h0, c0): (&Self, &Self),
        masks: &[Option<Self>],
        reverse: bool,
        keep_trace: bool,
    ) -> Result<(Self, Option<LstmTrace<E, B>>)> {
        for a in [w_hh_t, h0, c0] {
            xp.check_device(OP, a)?;
        }
        let [batch, hidden] = *h0.dims() else {
            return Err(Error::invalid(OP, "h0 must be [batch, hidden]", h0.shape()));
        };
        expect(c0, &[batch, hidden], "c0 must have h0's shape")?;
        expect(
            w_hh_t,
            &[hidden, 4 * hidden],
            "W_hh^T must be [hidden, 4*hidden]",
        )?;
        let steps = masks.len();
        expect(
            xp,
            &[steps * batch, 4 * hidden],
            "xp must be [steps*batch, 4*hidden], one step per mask",
        )?;
        let backend = &xp.backend;
        if masks.iter().all(Option::is_none) {
            let fused = backend.lstm_recurrence(
                (&xp.storage(), xp.layout()),
                (&w_hh_t.storage(), w_hh_t.layout()),
                [(&h0.storage(), h0.layout()), (&c0.storage(), c0.layout())],
                reverse,
                keep_trace,
            );
            if let Some(arrays) = fused {
                let mut next = wrap_each(arrays?, backend);
                let out = next(vec![steps + 2, batch, hidden])?;
                let trace = if keep_trace {
                    let rows = steps * batch;
                    Some(LstmTrace {
                        h_prev: next(vec![steps, batch, hidden])?,
                        cells: LstmSaved {
                            qd: next(vec![rows, 4 * hidden])?,
                            s_c: next(vec![rows, hidden])?,
                            f: next(vec![rows, hidden])?,
                        },
                    })
                } else {
                    None
                };
                return Ok((out, trace));
            }
        }
        let trace = keep_trace
            .then(|| LstmTrace::zeros(steps, batch, hidden, backend))
            .transpose()?;
        let out = Self::zeros([steps + 2, batch, hidden], backend)?;
        let (mut h, mut c) = (h0.clone(), c0.clone());
        for t in time_order(steps, reverse) {
            if let Some(tr) = &trace {
                tr.h_prev.narrow(0, t, 1)?.assign(&h)?;
            }
            // `h·W_hhᵀ + xp`: the sum the step-by-step layer forms as `xp + h·W_hhᵀ` (same bits).
            let pre = h.matmul(w_hh_t)?;
            pre.binary_assign(BinaryOp::Add, &rows_of(xp, t, batch)?)?;
            let cells = trace.as_ref().map(|tr| tr.cells_at(t, batch)).transpose()?;
            let (h_new, c_new) = Self::lstm_cell_into(&pre, &c, cells.as_ref())?;
            let out_t = match &masks[t] {
                None => {
                    h = h_new;
                    c = c_new;
                    h.clone()
                }
                Some(m) => {
                    let out_t = h_new.binary(BinaryOp::Mul, m)?;
                    h = Self::where_cond(m, &h_new, &h)?;
                    c = Self::where_cond(m, &c_new, &c)?;
                    out_t
                }
            };
            out.narrow(0, t, 1)?.assign(&out_t)?;
        }
        out.narrow(0, steps, 1)?.assign(&h)?;
        out.narrow(0, steps + 1, 1)?.assign(&c)?;
        Ok((out, trace))
    }

    /// The backward pass of [`NDArray::lstm_recurrence`] (backpropagation through time): from
    /// the gradient `d_all` of its output, `W_hh` (`[4·hidden, hidden]`), the trace and the same
    /// `masks` and `reverse`, returns `(d_pre, dh0, dc0)`: every step's gate gradients
    /// (`[steps·batch, 4·hidden]`, from which the weights', biases' and input's gradients are
    /// one product or sum each) and the gradients of the initial state.
    pub fn lstm_recurrence_backward(
        d_all: &Self,
        w_hh: &Self,
        trace: &LstmTrace<E, B>,
        masks: &[Option<Self>],
        reverse: bool,
    ) -> Result<(Self, Self, Self)> {
        let dims = trace.h_prev.dims();
        let [steps, batch, hidden] = *dims else {
            return Err(Error::invalid(
                OP,
                "the trace's h_prev must be [steps, batch, hidden]",
                trace.h_prev.shape(),
            ));
        };
        expect(
            d_all,
            &[steps + 2, batch, hidden],
            "the gradient must be [steps + 2, batch, hidden]",
        )?;
        expect(
            w_hh,
            &[4 * hidden, hidden],
            "W_hh must be [4*hidden, hidden]",
        )?;
        expect(
            &trace.cells.qd,
            &[steps * batch, 4 * hidden],
            "the trace's qd",
        )?;
        expect(
            &trace.cells.s_c,
            &[steps * batch, hidden],
            "the trace's s_c",
        )?;
        expect(&trace.cells.f, &[steps * batch, hidden], "the trace's f")?;
        if masks.len() != steps {
            return Err(Error::invalid(
                OP,
                "one mask per step",
                trace.h_prev.shape(),
            ));
        }
        for a in [w_hh, &trace.cells.qd, &trace.cells.s_c, &trace.cells.f] {
            d_all.check_device(OP, a)?;
        }
        let backend = &d_all.backend;
        if masks.iter().all(Option::is_none) {
            let cells = [&trace.cells.qd, &trace.cells.s_c, &trace.cells.f];
            let fused = backend.lstm_recurrence_backward(
                (&d_all.storage(), d_all.layout()),
                (&w_hh.storage(), w_hh.layout()),
                [
                    (&cells[0].storage(), cells[0].layout()),
                    (&cells[1].storage(), cells[1].layout()),
                    (&cells[2].storage(), cells[2].layout()),
                ],
                reverse,
            );
            if let Some(arrays) = fused {
                let mut next = wrap_each(arrays?, backend);
                let d_pre = next(vec![steps * batch, 4 * hidden])?;
                let (dh, dc) = (next(vec![batch, hidden])?, next(vec![batch, hidden])?);
                return Ok((d_pre, dh, dc));
            }
        }
        let d_pre = Self::zeros([steps * batch, 4 * hidden], backend)?;
        let state = |k: usize| d_all.narrow(0, k, 1)?.reshape([batch, hidden]);
        // The gradients reaching the state after the last step: from `h_n` and `c_n`.
        let (mut dh, mut dc) = (state(steps)?, state(steps + 1)?);
        let zero = Self::zeros(Vec::<usize>::new(), backend)?;
        for t in time_order(steps, !reverse) {
            let cells = trace.cells_at(t, batch)?;
            // `h'` feeds both the next step and this step's output.
            let dh_cell = dh.binary(BinaryOp::Add, &state(t)?)?;
            let d_pre_t = rows_of(&d_pre, t, batch)?;
            let dc_prev = match &masks[t] {
                None => cells.backward_into(&dh_cell, &dc, &d_pre_t)?,
                // An ended sequence skipped the step: its state's gradient passes by the cell.
                Some(m) => {
                    let dh_cell = Self::where_cond(m, &dh_cell, &zero)?;
                    let dc_cell = Self::where_cond(m, &dc, &zero)?;
                    let dc_prev = cells.backward_into(&dh_cell, &dc_cell, &d_pre_t)?;
                    Self::where_cond(m, &dc_prev, &dc)?
                }
            };
            let dh_prev = d_pre_t.matmul(w_hh)?;
            dh = match &masks[t] {
                None => dh_prev,
                Some(m) => Self::where_cond(m, &dh_prev, &dh)?,
            };
            dc = dc_prev;
        }
        Ok((d_pre, dh, dc))
    }
}
