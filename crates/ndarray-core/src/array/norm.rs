//! Layer normalisation over the last axis and batch normalisation per channel, each as one
//! backend kernel each way ([`Backend::layer_norm_rows`], [`Backend::batch_norm_channels`]);
//! nn composes them from reductions and maps when a backend has no such kernel, and to record
//! second derivatives.

use crate::{Backend, Error, Float, NDArray, Result};

/// An array's storage and layout, as the backend's fused kernels take them.
macro_rules! parts {
    ($a:expr) => {
        (&*$a.storage(), $a.layout())
    };
}

impl<E: Float, B: Backend> NDArray<E, B> {
    /// Layer normalisation of each row (the last axis) of this array in the backend's fused
    /// kernel: `Some((y, mean, rstd))`, `y = (x − mean)·rstd·weight + bias` shaped like `self`
    /// and the statistics of each row (`rstd = 1/√(var + eps)`, biased variance) shaped like
    /// `self` without its last axis; `None` when the backend has no kernel for these arrays.
    /// `weight` and `bias`, if given, are `[n]` for rows of `n`.
    #[allow(clippy::type_complexity)]
    pub fn layer_norm_rows(
        &self,
        weight: Option<&Self>,
        bias: Option<&Self>,
        eps: f64,
    ) -> Result<Option<(Self, Self, Self)>> {
        let rows = self.check_layer_norm(&[weight, bias])?;
        let (w, b) = (weight.map(|w| w.storage()), bias.map(|b| b.storage()));
        let Some(out) = self.backend.layer_norm_rows(
            &self.storage(),
            self.layout(),
            w.as_deref().zip(weight.map(|w| w.layout())),
            b.as_deref().zip(bias.map(|b| b.layout())),
            eps,
        ) else {
            return Ok(None);
        };
        let (y, mean, rstd) = out?;
        Ok(Some((
            Self::contiguous_from(y, self.shape().clone(), &self.backend),
            Self::contiguous_from(mean, rows.clone(), &self.backend),
            Self::contiguous_from(rstd, rows, &self.backend),
        )))
    }

    /// The backward pass of [`NDArray::layer_norm_rows`] (`self` is its input `x`) from the
    /// gradient `grad` of `y` and the forward pass's `mean` and `rstd`: `Some((dx, dweight,
    /// dbias))`, `dx` shaped like `self` and the others `[n]`; `None` when the backend has no
    /// kernel for these arrays.
    #[allow(clippy::type_complexity)]
    pub fn layer_norm_rows_backward(
        &self,
        grad: &Self,
        mean: &Self,
        rstd: &Self,
        weight: Option<&Self>,
    ) -> Result<Option<(Self, Self, Self)>> {
        let rows = self.check_layer_norm(&[weight])?;
        for (what, a, want) in [
            (
                "the gradient must have the input's shape",
                grad,
                self.shape(),
            ),
            ("mean must have one value per row", mean, &rows),
            ("rstd must have one value per row", rstd, &rows),
        ] {
            self.check_device("layer_norm", a)?;
            if a.shape() != want {
                return Err(Error::ShapeMismatch {
                    op: "layer_norm",
                    what,
                    lhs: self.shape().clone(),
                    rhs: a.shape().clone(),
                });
            }
        }
        let w = weight.map(|w| w.storage());
        let Some(out) = self.backend.layer_norm_rows_backward(
            parts!(self),
            parts!(grad),
            parts!(mean),
            parts!(rstd),
            w.as_deref().zip(weight.map(|w| w.layout())),
        ) else {
            return Ok(None);
        };
        let (dx, dw, db) = out?;
        let n = crate::Shape::from(vec![self.dims()[self.rank() - 1]]);
        Ok(Some((
            Self::contiguous_from(dx, self.shape().clone(), &self.backend),
            Self::contiguous_from(dw, n.clone(), &self.backend),
            Self::contiguous_from(db, n, &self.backend),
        )))
    }

    /// Rows of at least one element, and each given per-element array `[n]`, on this device:
    /// the shape of the per-row statistics.
    fn check_layer_norm(&self, per_element: &[Option<&Self>]) -> Result<crate::Shape> {
        let n = self.dims().last().copied().unwrap_or(0);
        if n == 0 {
            return Err(Error::invalid(
                "layer_norm",
                "expected rows of at least one element",
                self.shape(),
            ));
        }
        for a in per_element.iter().flatten() {
            self.check_device("layer_norm", a)?;
            if a.dims() != [n] {
                return Err(Error::ShapeMismatch {
                    op: "layer_norm",
                    what: "weight and bias must be [n] for rows of n",
                    lhs: self.shape().clone(),
                    rhs: a.shape().clone(),
                });
            }
        }
        Ok(crate::Shape::from(self.dims()[..self.rank() - 1].to_vec()))
    }

    /// Batch normalisation's training pass over this `[N, C, *]` array in the backend's fused
    /// kernel: `Some((y, mean, var))`, `y = (x − mean)·rstd·weight + bias` shaped like `self`
    /// and each channel's mean and biased variance (`[C]`, `rstd = 1/√(var + eps)`); `None`
    /// when the backend has no kernel for these arrays. `weight` and `bias`, if given, are `[C]`.
    #[allow(clippy::type_complexity)]
    pub fn batch_norm_channels(
        &self,
        weight: Option<&Self>,
        bias: Option<&Self>,
        eps: f64,
    ) -> Result<Option<(Self, Self, Self)>> {
        let channels = self.check_batch_norm(&[weight, bias])?;
        let (w, b) = (weight.map(|w| w.storage()), bias.map(|b| b.storage()));
        let Some(out) = self.backend.batch_norm_channels(
            &self.storage(),
            self.layout(),
            w.as_deref().zip(weight.map(|w| w.layout())),
            b.as_deref().zip(bias.map(|b| b.layout())),
            eps,
        ) else {
            return Ok(None);
        };
        let (y, mean, var) = out?;
        Ok(Some((
            Self::contiguous_from(y, self.shape().clone(), &self.backend),
            Self::contiguous_from(mean, channels.clone(), &self.backend),
            Self::contiguous_from(var, channels, &self.backend),
        )))
    }

    /// The backward pass of [`NDArray::batch_norm_channels`] (`self` is its input `x`) from the
    /// gradient `grad` of `y` and the forward pass's `mean` and `var`: `Some((dx, dweight,
    /// dbias))`, `dx` shaped like `self` and the others `[C]`; `None` when the backend has no
    /// kernel for these arrays.
    #[allow(clippy::type_complexity)]
    pub fn batch_norm_channels_backward(
        &self,
        grad: &Self,
        mean: &Self,
        var: &Self,
        weight: Option<&Self>,
        eps: f64,
    ) -> Result<Option<(Self, Self, Self)>> {
        let channels = self.check_batch_norm(&[weight])?;
        for (what, a, want) in [
            (
                "the gradient must have the input's shape",
                grad,
                self.shape(),
            ),
            ("mean must be [C]", mean, &channels),
            ("var must be [C]", var, &channels),
        ] {
            self.check_device("batch_norm", a)?;
            if a.shape() != want {
                return Err(Error::ShapeMismatch {
                    op: "batch_norm",
                    what,
                    lhs: self.shape().clone(),
                    rhs: a.shape().clone(),
                });
            }
        }
        let w = weight.map(|w| w.storage());
        let Some(out) = self.backend.batch_norm_channels_backward(
            parts!(self),
            parts!(grad),
            parts!(mean),
            parts!(var),
            w.as_deref().zip(weight.map(|w| w.layout())),
            eps,
        ) else {
            return Ok(None);
        };
        let (dx, dw, db) = out?;
        Ok(Some((
            Self::contiguous_from(dx, self.shape().clone(), &self.backend),
            Self::contiguous_from(dw, channels.clone(), &self.backend),
            Self::contiguous_from(db, channels, &self.backend),
        )))
    }

    /// `[N, C, *]` with at least two values per channel, and each given per-channel array
    /// `[C]`, on this device: the shape `[C]`.
    fn check_batch_norm(&self, per_channel: &[Option<&Self>]) -> Result<crate::Shape> {
        let count = self.numel() / self.dims().get(1).copied().unwrap_or(1).max(1);
        if self.rank() < 2 || count < 2 {
            return Err(Error::invalid(
                "batch_norm",
                "expected [N, C, *] with more than one value per channel",
                self.shape(),
            ));
        }
        let c = self.dims()[1];
        for a in per_channel.iter().flatten() {
            self.check_device("batch_norm", a)?;
            if a.dims() != [c] {
                return Err(Error::ShapeMismatch {
                    op: "batch_norm",
                    what: "weight and bias must be [C]",
                    lhs: self.shape().clone(),
                    rhs: a.shape().clone(),
                });
            }
        }
        Ok(crate::Shape::from(vec![c]))
    }
}
