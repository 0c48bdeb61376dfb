//! The kernels behind `Cpu`'s `Backend` methods, one file per family. Each has a contiguous
//! fast path (a plain slice loop the compiler vectorises) and a strided path that walks rows of
//! the coalesced layout with the shared `StridedIndex`; large outputs are split across threads
//! by `parallel::par_chunks`.

mod batch_norm;
mod cross_entropy;
mod elementwise;
mod index;
mod isa;
mod lanes;
mod layer_norm;
mod lstm;
mod lstm_sequence;
mod map;
mod prefetch;
mod reduce;
mod softmax;
mod step;
mod window;

pub(crate) use batch_norm::{batch_norm_channels, batch_norm_channels_backward};
pub(crate) use cross_entropy::{cross_entropy_rows, cross_entropy_rows_backward};
pub(crate) use elementwise::{
    binary, binary_inplace, binary_scalar, scalar_inplace, unary, where_cond, TRANSCENDENTAL_COST,
};
pub(crate) use index::{gather, index_select, scatter_add};
pub(crate) use isa::{run_loop, Isa, Loop};
pub(crate) use layer_norm::{layer_norm_rows, layer_norm_rows_backward};
pub(crate) use lstm::{lstm_cell, lstm_cell_backward};
pub(crate) use lstm_sequence::{lstm_recurrence, lstm_recurrence_backward, Recurrence};
pub(crate) use map::{generate, map1, map_contiguous, update};
pub(crate) use reduce::{arg_reduce, reduce};
pub(crate) use softmax::{softmax_last, softmax_last_backward};
pub(crate) use step::{abs_pow_sum, fused_step};
pub(crate) use window::{col2im, im2col, window_argmax, ColumnOrder};

/// The elements of a contiguous layout, or `None` (strided layouts take a composed path).
pub(crate) fn contiguous<'a, E>(
    (data, layout): (&'a [E], &nanotorch_ndarray_core::Layout),
) -> Option<&'a [E]> {
    data.get(layout.contiguous_range()?)
}

/// An optional operand, contiguous: `Some(None)` when absent, `None` when strided.
fn optional<'a, E>(
    a: Option<(&'a [E], &nanotorch_ndarray_core::Layout)>,
) -> Option<Option<&'a [E]>> {
    a.map_or(Some(None), |a| contiguous(a).map(Some))
}
