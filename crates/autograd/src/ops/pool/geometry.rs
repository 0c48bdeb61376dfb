//! Window geometry shared by the pooling ops: PyTorch's argument checks and output sizes, and
//! the host-built table of which input position each window slot reads.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Element, Error, Result, Shape};

/// The windows along one spatial axis: output `o` reads the positions
/// `starts[o] + j·dilation` for `j < lens[o]`; those outside `0..size` are padding.
#[derive(Debug, Clone)]
pub(super) struct Axis {
    pub size: usize,
    pub starts: Vec<isize>,
    pub lens: Vec<usize>,
    pub dilation: usize,
}

impl Axis {
    /// The single window of an axis of size 1 (the missing height of 1-D pooling).
    pub fn unit() -> Axis {
        Axis {
            size: 1,
            starts: vec![0],
            lens: vec![1],
            dilation: 1,
        }
    }

    pub fn out(&self) -> usize {
        self.starts.len()
    }

    /// The most slots of any window (the window axis of the gathered table).
    pub fn slots(&self) -> usize {
        self.lens.iter().copied().max().unwrap_or(0)
    }

    /// Input position of slot `j` of window `o`, if it is inside the input.
    fn position(&self, o: usize, j: usize) -> Option<usize> {
        if j >= self.lens[o] {
            return None;
        }
        let p = self.starts[o] + (j * self.dilation) as isize;
        (0..self.size as isize).contains(&p).then_some(p as usize)
    }
}

/// One axis of a sliding-window pooling, as PyTorch's arguments.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sliding {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub dilation: usize,
}

/// Reads one argument of a [`Sliding`].
type Field = fn(&Sliding) -> usize;

/// The sliding windows of `specs` over `sizes`, after PyTorch's checks (`pooling_output_shape`):
/// positive kernel, stride and dilation, padding at most half the kernel, and an output of at
/// least one window. With `ceil_mode` a last partial window is kept if it starts inside the
/// input or its left padding.
pub(super) fn sliding(
    op: &'static str,
    shape: &Shape,
    sizes: &[usize],
    specs: &[Sliding],
    ceil_mode: bool,
) -> Result<Vec<Axis>> {
    let list = |f: Field| show(&specs.iter().map(f).collect::<Vec<_>>());
    let invalid = |msg: String| Error::invalid(op, msg, shape);
    let fields: [(&str, Field); 3] = [
        ("kernel size", |s| s.kernel),
        ("stride", |s| s.stride),
        ("dilation", |s| s.dilation),
    ];
    for (name, field) in fields {
        if specs.iter().any(|s| field(s) == 0) {
            return Err(invalid(format!(
                "{name} must be positive, got {}",
                list(field)
            )));
        }
    }
    if specs.iter().any(|s| s.padding > s.kernel / 2) {
        return Err(invalid(format!(
            "pad should be at most half of kernel size, but got padding={} and kernel_size={}",
            list(|s| s.padding),
            list(|s| s.kernel)
        )));
    }
    let outs: Vec<isize> = sizes
        .iter()
        .zip(specs)
        .map(|(&size, s)| {
            let (size, k, st, p, d) = (
                size as isize,
                s.kernel as isize,
                s.stride as isize,
                s.padding as isize,
                s.dilation as isize,
            );
            let span = size + 2 * p - d * (k - 1) - 1 + if ceil_mode { st - 1 } else { 0 };
            let mut out = span.div_euclid(st) + 1;
            if ceil_mode && (out - 1) * st >= size + p {
                out -= 1;
            }
            out
        })
        .collect();
    if outs.iter().any(|&o| o < 1) {
        return Err(invalid(format!(
            "kernel {} with dilation {} spans more than the input {} padded by {}: \
             output size {outs:?} is too small",
            list(|s| s.kernel),
            list(|s| s.dilation),
            show(sizes),
            list(|s| s.padding),
        )));
    }
    Ok(sizes
        .iter()
        .zip(specs)
        .zip(outs)
        .map(|((&size, s), out)| Axis {
            size,
            starts: (0..out)
                .map(|o| (o as usize * s.stride) as isize - s.padding as isize)
                .collect(),
            lens: vec![s.kernel; out as usize],
            dilation: s.dilation,
        })
        .collect())
}

/// `3` for one axis, `(3, 2)` for two: how PyTorch's pooling arguments are written.
fn show(values: &[usize]) -> String {
    match values {
        [one] => one.to_string(),
        _ => format!(
            "({})",
            values
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Which flat input position `r·W + c` each slot of each window reads, over a `[h, w]` plane:
/// `slots[k·L + l]` for window slot `k` (row-major over the window, PyTorch's scan order) and
/// output `l` (row-major over the output), or `sentinel = h·w` for padding.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub slots: Vec<i64>,
    pub k: usize,
    pub l: usize,
    pub sentinel: i64,
    /// Per output, its first slot inside the input (or the sentinel): PyTorch's index when every
    /// value of the window is −∞.
    pub first_valid: Vec<i64>,
}

impl Table {
    pub fn new(rows: &Axis, cols: &Axis) -> Table {
        let (kh, kw) = (rows.slots(), cols.slots());
        let (oh, ow) = (rows.out(), cols.out());
        let (k, l) = (kh * kw, oh * ow);
        let sentinel = (rows.size * cols.size) as i64;
        let mut slots = vec![sentinel; k * l];
        let mut first_valid = vec![sentinel; l];
        for (i, j) in (0..oh).flat_map(|i| (0..ow).map(move |j| (i, j))) {
            let out = i * ow + j;
            for (a, b) in (0..kh).flat_map(|a| (0..kw).map(move |b| (a, b))) {
                if let (Some(r), Some(c)) = (rows.position(i, a), cols.position(j, b)) {
                    let flat = (r * cols.size + c) as i64;
                    slots[(a * kw + b) * l + out] = flat;
                    if first_valid[out] == sentinel {
                        first_valid[out] = flat;
                    }
                }
            }
        }
        Table {
            slots,
            k,
            l,
            sentinel,
            first_valid,
        }
    }
}

/// The leading axes and spatial sizes of a pooling input: `[n, c, ...spatial]` or, as PyTorch
/// also takes, unbatched `[c, ...spatial]`.
pub(super) fn split_dims<E: Element, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    spatial: usize,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let r = x.rank();
    if r != spatial + 1 && r != spatial + 2 {
        let names = if spatial == 1 { "l" } else { "h, w" };
        return Err(Error::invalid(
            op,
            format!("expects a [n, c, {names}] or [c, {names}] tensor"),
            x.shape(),
        ));
    }
    let dims = x.dims();
    Ok((dims[..r - spatial].to_vec(), dims[r - spatial..].to_vec()))
}

/// `x` viewed as `[nc, H·W + 1]` with `fill` in the last column, and gathered at every slot of
/// `table`: `[nc, K, L]`. Differentiable in `x` (gather's backward is a scatter-add).
pub(super) fn gather_windows<E: Element, B: Backend>(
    x: &Tensor<E, B>,
    fill: E,
    table: &Table,
) -> Result<Tensor<E, B>> {
    let padded = with_fill(x, fill, table.sentinel as usize)?;
    let nc = padded.dims()[0];
    let index = Tensor::from_vec(table.slots.clone(), [1, table.k * table.l], x.backend())?
        .expand([nc, table.k * table.l])?;
    padded.gather(1, &index)?.reshape([nc, table.k, table.l])
}

/// `x` (`[nc, H·W]`, any shape with that many elements) with `fill` appended: gathering from it
/// at a table's slots reads `fill` at the sentinel.
pub(super) fn with_fill<E: Element, B: Backend>(
    x: &Tensor<E, B>,
    fill: E,
    plane: usize,
) -> Result<Tensor<E, B>> {
    let nc = x.numel() / plane.max(1);
    Tensor::cat(
        &[
            x.reshape([nc, plane])?,
            Tensor::full([nc, 1], fill, x.backend())?,
        ],
        1,
    )
}
