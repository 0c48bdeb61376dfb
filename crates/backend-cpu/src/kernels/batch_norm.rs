//! Batch normalisation in training, fused, one channel at a time: forward, the channel's values
//! (one run of `∏ dims[2..]` per sample) are read for their mean, again for their variance, and
//! normalised and scaled in a third pass; backward, one pass for the two sums and one for the
//! input's gradient. Each channel is summed in one fixed order, so the result is the same bits
//! on any number of threads. Composed, a batch norm took about ten kernels and as many
//! temporaries each way, plus three more passes for the running statistics.

use super::isa::{run_loop, Isa, Loop};
use super::lanes::{fold_lanes, fold_lanes2, sum_lanes, LANES};
use super::{contiguous, optional};
use crate::parallel::{par_ranges, SharedMut};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{Float, Layout};

/// Work per element against a copy, for the threading threshold (three passes forward).
const COST: usize = 4;

/// `[N, C, inner]` of a layout of rank at least 2.
fn geometry(layout: &Layout) -> Option<(usize, usize, usize)> {
    let dims = layout.dims();
    (dims.len() >= 2).then(|| (dims[0], dims[1], dims[2..].iter().product()))
}

/// The forward pass: `(y, mean, var)` (see `Backend::batch_norm_channels`).
pub(crate) fn batch_norm_channels<E: Float>(
    (x, xl): (&[E], &Layout),
    weight: Option<(&[E], &Layout)>,
    bias: Option<(&[E], &Layout)>,
    eps: f64,
) -> Option<(CpuStorage<E>, CpuStorage<E>, CpuStorage<E>)> {
    let x = contiguous((x, xl))?;
    let (n, c, inner) = geometry(xl)?;
    let (weight, bias) = (optional(weight)?, optional(bias)?);
    let (mut y, mut mean, mut var) = (vec![E::ZERO; x.len()], vec![E::ZERO; c], vec![E::ZERO; c]);
    let eps = E::from_f64(eps);
    let isa = Isa::best();
    {
        let (y_at, mean_at, var_at) = (
            SharedMut::new(&mut y),
            SharedMut::new(&mut mean),
            SharedMut::new(&mut var),
        );
        par_ranges(c, 1, x.len() * COST, |channels| {
            for ch in channels {
                run_loop(
                    isa,
                    Forward {
                        x,
                        y: &y_at,
                        geometry: (n, c, inner),
                        ch,
                        affine: (weight.map(|w| w[ch]), bias.map(|b| b[ch])),
                        eps,
                        // SAFETY: `par_ranges` hands out each channel once.
                        stats: unsafe {
                            (
                                &mut mean_at.slice(ch..ch + 1)[0],
                                &mut var_at.slice(ch..ch + 1)[0],
                            )
                        },
                    },
                );
            }
        });
    }
    Some((
        CpuStorage::from_vec(y),
        CpuStorage::from_vec(mean),
        CpuStorage::from_vec(var),
    ))
}

/// One channel of the forward pass, as a [`Loop`] so it is compiled with AVX2 or AVX-512.
struct Forward<'a, E> {
    x: &'a [E],
    /// The output, of which this channel writes only its own runs.
    y: &'a SharedMut<E>,
    geometry: (usize, usize, usize),
    ch: usize,
    affine: (Option<E>, Option<E>),
    eps: E,
    stats: (&'a mut E, &'a mut E),
}

impl<E: Float> Loop for Forward<'_, E> {
    #[inline(always)]
    fn run(self) {
        let (n, c, inner) = self.geometry;
        let run = |s: usize| (s * c + self.ch) * inner..(s * c + self.ch + 1) * inner;
        let count = E::from_f64((n * inner) as f64);
        let mut sums = [E::ZERO; LANES];
        for s in 0..n {
            let lanes = fold_lanes(&self.x[run(s)], E::ZERO, E::ZERO, |a, v| a + v);
            for (t, l) in sums.iter_mut().zip(lanes) {
                *t = *t + l;
            }
        }
        let mean = sum_lanes(sums) / count;
        let mut squares = [E::ZERO; LANES];
        for s in 0..n {
            // Padding with the mean adds nothing to the squares.
            let lanes = fold_lanes(&self.x[run(s)], E::ZERO, mean, |a, v| {
                let d = v - mean;
                a + d * d
            });
            for (t, l) in squares.iter_mut().zip(lanes) {
                *t = *t + l;
            }
        }
        let var = sum_lanes(squares) / count;
        let rstd = E::ONE / (var + self.eps).sqrt();
        let scale = self.affine.0.map_or(rstd, |w| rstd * w);
        let shift = self.affine.1.unwrap_or(E::ZERO);
        for s in 0..n {
            let span = run(s);
            // SAFETY: this channel's runs belong to it alone (one channel per call, each once).
            let out = unsafe { self.y.slice(span.clone()) };
            for (o, &v) in out.iter_mut().zip(&self.x[span]) {
                *o = (v - mean) * scale + shift;
            }
        }
        (*self.stats.0, *self.stats.1) = (mean, var);
    }
}

/// The backward pass: `(dx, dweight, dbias)` (see `Backend::batch_norm_channels_backward`).
pub(crate) fn batch_norm_channels_backward<E: Float>(
    (x, xl): (&[E], &Layout),
    (g, gl): (&[E], &Layout),
    (mean, ml): (&[E], &Layout),
    (var, vl): (&[E], &Layout),
    weight: Option<(&[E], &Layout)>,
    eps: f64,
) -> Option<(CpuStorage<E>, CpuStorage<E>, CpuStorage<E>)> {
    let (x, g) = (contiguous((x, xl))?, contiguous((g, gl))?);
    let (mean, var) = (contiguous((mean, ml))?, contiguous((var, vl))?);
    let weight = optional(weight)?;
    let (n, c, inner) = geometry(xl)?;
    let (mut dx, mut dw, mut db) = (vec![E::ZERO; x.len()], vec![E::ZERO; c], vec![E::ZERO; c]);
    let eps = E::from_f64(eps);
    let isa = Isa::best();
    {
        let (dx_at, dw_at, db_at) = (
            SharedMut::new(&mut dx),
            SharedMut::new(&mut dw),
            SharedMut::new(&mut db),
        );
        par_ranges(c, 1, x.len() * COST, |channels| {
            for ch in channels {
                run_loop(
                    isa,
                    Backward {
                        x,
                        g,
                        dx: &dx_at,
                        geometry: (n, c, inner),
                        ch,
                        stats: (mean[ch], E::ONE / (var[ch] + eps).sqrt()),
                        weight: weight.map_or(E::ONE, |w| w[ch]),
                        // SAFETY: `par_ranges` hands out each channel once.
                        sums: unsafe {
                            (
                                &mut dw_at.slice(ch..ch + 1)[0],
                                &mut db_at.slice(ch..ch + 1)[0],
                            )
                        },
                    },
                );
            }
        });
    }
    Some((
        CpuStorage::from_vec(dx),
        CpuStorage::from_vec(dw),
        CpuStorage::from_vec(db),
    ))
}

/// One channel of the backward pass, as a [`Loop`].
struct Backward<'a, E> {
    x: &'a [E],
    g: &'a [E],
    /// The input's gradient, of which this channel writes only its own runs.
    dx: &'a SharedMut<E>,
    geometry: (usize, usize, usize),
    ch: usize,
    /// The channel's mean and `rstd`.
    stats: (E, E),
    weight: E,
    /// The channel's `Σ g·x̂` (dweight) and `Σ g` (dbias).
    sums: (&'a mut E, &'a mut E),
}

impl<E: Float> Loop for Backward<'_, E> {
    #[inline(always)]
    fn run(self) {
        let (n, c, inner) = self.geometry;
        let (mean, rstd) = self.stats;
        let run = |s: usize| (s * c + self.ch) * inner..(s * c + self.ch + 1) * inner;
        let (mut sum_g, mut sum_gx) = ([E::ZERO; LANES], [E::ZERO; LANES]);
        for s in 0..n {
            let span = run(s);
            let (x, g) = (&self.x[span.clone()], &self.g[span]);
            let lanes_g = fold_lanes(g, E::ZERO, E::ZERO, |a, v| a + v);
            // Σ g·(x − mean): the padding's g is 0.
            let lanes_gx = fold_lanes2((g, E::ZERO), (x, mean), E::ZERO, |a, u, v| {
                a + u * (v - mean)
            });
            for ((t, l), (tx, lx)) in sum_g
                .iter_mut()
                .zip(lanes_g)
                .zip(sum_gx.iter_mut().zip(lanes_gx))
            {
                *t = *t + l;
                *tx = *tx + lx;
            }
        }
        let (sum_g, sum_gx) = (sum_lanes(sum_g), sum_lanes(sum_gx) * rstd);
        let count = E::from_f64((n * inner) as f64);
        let (mean_g, mean_gx) = (sum_g / count, sum_gx / count);
        let scale = rstd * self.weight;
        for s in 0..n {
            let span = run(s);
            // SAFETY: this channel's runs belong to it alone (one channel per call, each once).
            let out = unsafe { self.dx.slice(span.clone()) };
            for ((d, &x), &g) in out.iter_mut().zip(&self.x[span.clone()]).zip(&self.g[span]) {
                let xh = (x - mean) * rstd;
                *d = scale * (g - mean_g - xh * mean_gx);
            }
        }
        (*self.sums.0, *self.sums.1) = (sum_gx, sum_g);
    }
}
