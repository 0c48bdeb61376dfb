//! `Embedding`: a lookup table from integer ids to learned vectors, and `one_hot`.

use crate::module::repr;
use crate::{init, Forward, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, NDArray, Result};

/// Checks that every id lies in `0..count` before it is used as an index.
fn check_ids<B: Backend>(op: &'static str, ids: &Tensor<i64, B>, count: usize) -> Result<()> {
    if ids.numel() == 0 {
        return Ok(());
    }
    let low = ids.array().min(&[], false)?.to_scalar()?;
    let high = ids.array().max(&[], false)?.to_scalar()?;
    // Compared in i128: `count as i64` would wrap a count above i64::MAX to a negative bound
    // and reject every id, naming the count as if the ids were wrong.
    if low < 0 || i128::from(high) >= count as i128 {
        let bad = if low < 0 { low } else { high };
        return Err(Error::invalid(
            op,
            format!("index {bad} is out of range for {count} entries"),
            ids.shape(),
        ));
    }
    Ok(())
}

/// Rows of `weight` `[num, dim]` picked by `ids` (any shape): the result is `ids.shape + [dim]`
/// (`F.embedding`). Rows picked at `padding_idx` get no gradient.
pub fn embedding<E: Float, B: Backend>(
    ids: &Tensor<i64, B>,
    weight: &Tensor<E, B>,
    padding_idx: Option<usize>,
) -> Result<Tensor<E, B>> {
    if weight.rank() != 2 {
        return Err(Error::invalid(
            "embedding",
            "weight must be [num_embeddings, embedding_dim]",
            weight.shape(),
        ));
    }
    let (num, dim) = (weight.dims()[0], weight.dims()[1]);
    check_ids("embedding", ids, num)?;
    let flat = ids.reshape([ids.numel()])?;
    let rows = weight.index_select(0, &flat)?;
    let rows = match padding_idx {
        // Same values, but the padding rows come from a detached copy: no gradient reaches them.
        Some(pad) => {
            let is_pad = flat
                .array()
                .eq_scalar(pad as i64)?
                .cast::<E>()?
                .reshape([ids.numel(), 1])?;
            Tensor::where_cond(
                &Tensor::from_ndarray(is_pad),
                &weight.detach().index_select(0, &flat)?,
                &rows,
            )?
        }
        None => rows,
    };
    let mut shape = ids.dims().to_vec();
    shape.push(dim);
    rows.reshape(shape)
}

/// `[…, num_classes]` with a 1 at each id and 0 elsewhere (`F.one_hot`); `num_classes = None`
/// uses `max(ids) + 1`. Ids outside `0..num_classes` are an error.
pub fn one_hot<B: Backend>(
    ids: &Tensor<i64, B>,
    num_classes: Option<usize>,
) -> Result<Tensor<i64, B>> {
    let classes = match num_classes {
        // The classes are compared as i64 ids, so more than i64::MAX of them cannot be told
        // apart; PyTorch refuses such a count too (its size calculation overflows).
        Some(c) if i64::try_from(c).is_err() => {
            return Err(Error::invalid(
                "one_hot",
                format!(
                    "num_classes {c} is larger than the largest id, {}",
                    i64::MAX
                ),
                ids.shape(),
            ))
        }
        Some(c) => c,
        None if ids.numel() == 0 => {
            return Err(Error::invalid(
                "one_hot",
                "cannot infer num_classes from an empty tensor",
                ids.shape(),
            ))
        }
        None => {
            let max = ids.array().max(&[], false)?.to_scalar()?;
            usize::try_from(max)
                .ok()
                .and_then(|m| m.checked_add(1))
                .ok_or_else(|| {
                    Error::invalid(
                        "one_hot",
                        format!("cannot infer num_classes from id {max}"),
                        ids.shape(),
                    )
                })?
        }
    };
    check_ids("one_hot", ids, classes)?;
    let mut out_dims = ids.dims().to_vec();
    out_dims.push(classes);
    if nanotorch_ndarray_core::Shape::new(out_dims)
        .checked_numel()
        .is_none()
    {
        return Err(Error::invalid(
            "one_hot",
            format!("{classes} classes give more elements than a usize counts"),
            ids.shape(),
        ));
    }
    let classes_row = NDArray::arange(0.0, classes as f64, 1.0, ids.backend())?;
    let hot = ids.array().unsqueeze(-1)?.eq(&classes_row)?;
    Ok(Tensor::from_ndarray(hot))
}

/// `padding_idx` as a row number: negative counts from the end, as in PyTorch; out of range is
/// an error.
fn resolve_padding(padding_idx: Option<i64>, num_embeddings: usize) -> Result<Option<usize>> {
    padding_idx
        .map(|p| {
            let n = num_embeddings as i64;
            let resolved = if p < 0 { p + n } else { p };
            if (0..n).contains(&resolved) {
                Ok(resolved as usize)
            } else {
                Err(Error::msg(format!(
                    "Embedding: padding_idx {p} is out of range for {num_embeddings} embeddings"
                )))
            }
        })
        .transpose()
}

/// A table of `num_embeddings` vectors of size `embedding_dim` (`nn.Embedding`), initialised
/// from N(0, 1); the `padding_idx` row starts at zero and is never trained.
pub struct Embedding<E: Float = f32, B: Backend = Cpu> {
    /// `[num_embeddings, embedding_dim]`.
    pub weight: Tensor<E, B>,
    padding_idx: Option<usize>,
}

impl<E: Float, B: Backend> Embedding<E, B> {
    /// A table without padding.
    pub fn new(num_embeddings: usize, embedding_dim: usize, backend: &B) -> Result<Self> {
        Self::with_padding(num_embeddings, embedding_dim, None, backend)
    }

    /// A table whose `padding_idx` row (negative counts from the end, as in PyTorch) is zero
    /// and receives no gradient.
    pub fn with_padding(
        num_embeddings: usize,
        embedding_dim: usize,
        padding_idx: Option<i64>,
        backend: &B,
    ) -> Result<Self> {
        let padding_idx = resolve_padding(padding_idx, num_embeddings)?;
        let weight = init::normal([num_embeddings, embedding_dim], 0.0, 1.0, backend)?;
        if let Some(pad) = padding_idx {
            let zeros = Tensor::<E, B>::zeros([embedding_dim], backend)?;
            weight.array().narrow(0, pad, 1)?.assign(zeros.array())?;
        }
        Ok(Embedding {
            weight,
            padding_idx,
        })
    }

    /// Wraps an existing table (`nn.Embedding.from_pretrained`; pass a detached tensor to freeze
    /// it). `padding_idx` as in [`Embedding::with_padding`].
    pub fn from_pretrained(weight: Tensor<E, B>, padding_idx: Option<i64>) -> Result<Self> {
        if weight.rank() != 2 {
            return Err(Error::invalid(
                "Embedding::from_pretrained",
                "weight must be [num_embeddings, embedding_dim]",
                weight.shape(),
            ));
        }
        let padding_idx = resolve_padding(padding_idx, weight.dims()[0])?;
        Ok(Embedding {
            weight,
            padding_idx,
        })
    }

    /// The vectors of `ids`: `ids.shape + [embedding_dim]` (the same as [`Embedding::lookup`]).
    pub fn forward(&self, ids: &Tensor<i64, B>) -> Result<Tensor<E, B>> {
        embedding(ids, &self.weight, self.padding_idx)
    }

    /// The vectors of `ids`: `ids.shape + [embedding_dim]`.
    pub fn lookup(&self, ids: &Tensor<i64, B>) -> Result<Tensor<E, B>> {
        embedding(ids, &self.weight, self.padding_idx)
    }

    /// The padding row, if any.
    pub fn padding_idx(&self) -> Option<usize> {
        self.padding_idx
    }
}

impl<E: Float, B: Backend> Module<E, B> for Embedding<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.parameter("weight", &self.weight);
    }

    fn extra_repr(&self) -> String {
        let d = self.weight.dims();
        let mut out = format!(
            "{}, {}",
            d.first().copied().unwrap_or(0),
            d.get(1).copied().unwrap_or(0)
        );
        if let Some(pad) = self.padding_idx {
            out.push_str(&format!(", padding_idx={pad}"));
        }
        out
    }
}

/// The single-tensor form, so an embedding can open a `Sequential`: ids arrive as floats and
/// must be whole numbers. Prefer the inherent `forward` with an `i64` tensor.
impl<E: Float, B: Backend> Forward<E, B> for Embedding<E, B> {
    fn forward(&self, ids: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let as_ids = ids.cast::<i64>()?;
        let round_trip = as_ids.cast::<E>()?;
        if round_trip.ne(&ids.detach())?.sum_all()?.item()?.to_f64() != 0.0 {
            return Err(Error::invalid(
                "Embedding",
                "ids given as floats must be whole numbers",
                ids.shape(),
            ));
        }
        self.lookup(&as_ids)
    }
}

impl<E: Float, B: Backend> std::fmt::Display for Embedding<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<E, B, _>(self))
    }
}
