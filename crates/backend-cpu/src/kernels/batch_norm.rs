//! Batch normalisation in training, fused: forward, a channel's values (one run of
//! `∏ dims[2..]` per sample) are read for their mean, again for their variance, and normalised
//! and scaled in a third pass; backward, one pass for the two sums and one for the input's
//! gradient. Composed, a batch norm took about ten kernels and as many temporaries each way,
//! plus three more passes for the running statistics.
//!
//! Two orders of work. Long runs are taken a channel at a time, each run folded in vector
//! lanes. Short runs (the 1×1 to 4×4 planes deep in a ResNet on small images) would be mostly
//! a partial, padded chunk each that way: a `[16, 512, 1, 1]` batch norm took 245 µs forward
//! and 355 µs backward for 8192 elements (Zen 4). Those are taken a sample row at a time
//! instead, a block of channels side by side: every position of the block keeps its own running
//! sum over the samples, a vector add along the row, and each channel's positions are added up
//! at the end (7 and 10 µs for that shape). Either way each channel is summed in one fixed
//! order, so the result is the same bits on any number of threads.

use super::isa::{run_loop, Isa, Loop};
use super::lanes::{fold_lanes, fold_lanes2, sum_lanes, LANES};
use super::{contiguous, optional};
use crate::parallel::{par_ranges, SharedMut};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{Float, Layout};
use std::mem::MaybeUninit;
use std::ops::Range;

/// Runs shorter than this are taken a sample row at a time. Measured on Zen 4, one thread,
/// forward + backward: 16×16 planes (`[16, 64, 16, 16]`) 141 µs by channel, 629 µs by row (a
/// block of 64 channels' running sums no longer stays in cache); 8×8 about even (73 and 71
/// µs); 4×4 (`[16, 128, 4, 4]`) 71 µs by channel, 38 µs by row.
const SHORT_RUN: usize = 64;

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
    let (mut mean, mut var) = (vec![E::ZERO; c], vec![E::ZERO; c]);
    let eps = E::from_f64(eps);
    let isa = Isa::best();
    let y = CpuStorage::build(x.len(), |y| {
        let (y, mean_at, var_at) = (
            SharedMut::new(y),
            SharedMut::new(&mut mean),
            SharedMut::new(&mut var),
        );
        par_ranges(c, 1, x.len() * COST, |channels| {
            // SAFETY: `par_ranges` hands out each range of channels once.
            let stats = unsafe {
                (
                    mean_at.slice(channels.clone()),
                    var_at.slice(channels.clone()),
                )
            };
            if inner < SHORT_RUN {
                let rows = ForwardRows {
                    x,
                    y: &y,
                    geometry: (n, c, inner),
                    channels,
                    affine: (weight, bias),
                    eps,
                    stats,
                };
                return run_loop(isa, rows);
            }
            let first = channels.start;
            for ch in channels {
                run_loop(
                    isa,
                    Forward {
                        x,
                        y: &y,
                        geometry: (n, c, inner),
                        ch,
                        affine: (weight.map(|w| w[ch]), bias.map(|b| b[ch])),
                        eps,
                        stats: (&mut stats.0[ch - first], &mut stats.1[ch - first]),
                    },
                );
            }
        });
    });
    Some((y, CpuStorage::from_vec(mean), CpuStorage::from_vec(var)))
}

/// One channel of the forward pass, as a [`Loop`] so it is compiled with AVX2 or AVX-512.
struct Forward<'a, E> {
    x: &'a [E],
    /// The output, of which this channel writes only its own runs.
    y: &'a SharedMut<MaybeUninit<E>>,
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
                o.write((v - mean) * scale + shift);
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
    let (mut dw, mut db) = (vec![E::ZERO; c], vec![E::ZERO; c]);
    let eps = E::from_f64(eps);
    let isa = Isa::best();
    let dx = CpuStorage::build(x.len(), |dx| {
        let (dx, dw_at, db_at) = (
            SharedMut::new(dx),
            SharedMut::new(&mut dw),
            SharedMut::new(&mut db),
        );
        par_ranges(c, 1, x.len() * COST, |channels| {
            // SAFETY: `par_ranges` hands out each range of channels once.
            let sums = unsafe { (dw_at.slice(channels.clone()), db_at.slice(channels.clone())) };
            let stats = |ch: usize| (mean[ch], E::ONE / (var[ch] + eps).sqrt());
            if inner < SHORT_RUN {
                let rows = BackwardRows {
                    x,
                    g,
                    dx: &dx,
                    geometry: (n, c, inner),
                    channels,
                    stats: &stats,
                    weight,
                    sums,
                };
                return run_loop(isa, rows);
            }
            let first = channels.start;
            for ch in channels {
                run_loop(
                    isa,
                    Backward {
                        x,
                        g,
                        dx: &dx,
                        geometry: (n, c, inner),
                        ch,
                        stats: stats(ch),
                        weight: weight.map_or(E::ONE, |w| w[ch]),
                        sums: (&mut sums.0[ch - first], &mut sums.1[ch - first]),
                    },
                );
            }
        });
    });
    Some((dx, CpuStorage::from_vec(dw), CpuStorage::from_vec(db)))
}

/// One channel of the backward pass, as a [`Loop`].
struct Backward<'a, E> {
    x: &'a [E],
    g: &'a [E],
    /// The input's gradient, of which this channel writes only its own runs.
    dx: &'a SharedMut<MaybeUninit<E>>,
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
                d.write(scale * (g - mean_g - xh * mean_gx));
            }
        }
        (*self.sums.0, *self.sums.1) = (sum_gx, sum_g);
    }
}

/// A block of channels of the forward pass, a sample row at a time (runs shorter than
/// [`SHORT_RUN`]), as a [`Loop`]: the same arithmetic as [`Forward`], summed position by position.
struct ForwardRows<'a, E> {
    x: &'a [E],
    /// The output, of which this block writes only its own positions.
    y: &'a SharedMut<MaybeUninit<E>>,
    geometry: (usize, usize, usize),
    channels: Range<usize>,
    affine: (Option<&'a [E]>, Option<&'a [E]>),
    eps: E,
    /// The block's means and variances.
    stats: (&'a mut [E], &'a mut [E]),
}

impl<E: Float> Loop for ForwardRows<'_, E> {
    #[inline(always)]
    fn run(self) {
        let (n, _, inner) = self.geometry;
        let (block, first) = (
            Block::new(self.geometry, &self.channels),
            self.channels.start,
        );
        let count = E::from_f64((n * inner) as f64);
        let per_channel = |sums: &[E]| -> Vec<E> {
            (0..self.channels.len())
                .map(|k| sum(&sums[block.channel(k)]) / count)
                .collect()
        };
        let means = per_channel(&block.fold(n, |acc, s| add_along(acc, &self.x[block.row(s)])));
        let centre = block.spread(|k| means[k]);
        let vars = per_channel(&block.fold(n, |acc: &mut [E], s| {
            let row = &self.x[block.row(s)];
            for ((a, &v), &m) in acc.iter_mut().zip(row).zip(&centre) {
                let d = v - m;
                *a = *a + d * d;
            }
        }));
        let scales: Vec<E> = vars
            .iter()
            .enumerate()
            .map(|(k, &var)| {
                let rstd = E::ONE / (var + self.eps).sqrt();
                self.affine.0.map_or(rstd, |w| rstd * w[first + k])
            })
            .collect();
        let scale = block.spread(|k| scales[k]);
        let shift = block.spread(|k| self.affine.1.map_or(E::ZERO, |b| b[first + k]));
        for s in 0..n {
            // SAFETY: this block's positions of each row belong to it alone.
            let out = unsafe { self.y.slice(block.row(s)) };
            let row = &self.x[block.row(s)];
            for (((o, &v), &m), (&a, &b)) in out
                .iter_mut()
                .zip(row)
                .zip(&centre)
                .zip(scale.iter().zip(&shift))
            {
                o.write((v - m) * a + b);
            }
        }
        self.stats.0.copy_from_slice(&means);
        self.stats.1.copy_from_slice(&vars);
    }
}

/// A block of channels of the backward pass, a sample row at a time, as a [`Loop`]: the same
/// arithmetic as [`Backward`], summed position by position.
struct BackwardRows<'a, E, S> {
    x: &'a [E],
    g: &'a [E],
    /// The input's gradient, of which this block writes only its own positions.
    dx: &'a SharedMut<MaybeUninit<E>>,
    geometry: (usize, usize, usize),
    channels: Range<usize>,
    /// A channel's mean and `rstd`.
    stats: &'a S,
    weight: Option<&'a [E]>,
    /// The block's `Σ g·x̂` (dweight) and `Σ g` (dbias).
    sums: (&'a mut [E], &'a mut [E]),
}

impl<E: Float, S: Fn(usize) -> (E, E)> Loop for BackwardRows<'_, E, S> {
    #[inline(always)]
    fn run(self) {
        let (n, _, inner) = self.geometry;
        let (block, first) = (
            Block::new(self.geometry, &self.channels),
            self.channels.start,
        );
        let count = E::from_f64((n * inner) as f64);
        let (means, rstds): (Vec<E>, Vec<E>) =
            self.channels.clone().map(|ch| (self.stats)(ch)).unzip();
        let (centre, rstd) = (block.spread(|k| means[k]), block.spread(|k| rstds[k]));
        let sum_g = block.fold(n, |acc, s| add_along(acc, &self.g[block.row(s)]));
        let sum_gx = block.fold(n, |acc: &mut [E], s| {
            let (x, g) = (&self.x[block.row(s)], &self.g[block.row(s)]);
            for (((a, &u), &v), &m) in acc.iter_mut().zip(g).zip(x).zip(&centre) {
                *a = *a + u * (v - m);
            }
        });
        for (k, &r) in rstds.iter().enumerate() {
            self.sums.0[k] = sum(&sum_gx[block.channel(k)]) * r;
            self.sums.1[k] = sum(&sum_g[block.channel(k)]);
        }
        let (dweight, dbias) = (&*self.sums.0, &*self.sums.1);
        let mean_g = block.spread(|k| dbias[k] / count);
        let mean_gx = block.spread(|k| dweight[k] / count);
        let scale = block.spread(|k| rstds[k] * self.weight.map_or(E::ONE, |w| w[first + k]));
        for s in 0..n {
            // SAFETY: this block's positions of each row belong to it alone.
            let out = unsafe { self.dx.slice(block.row(s)) };
            let (x, g) = (&self.x[block.row(s)], &self.g[block.row(s)]);
            let stats = centre.iter().zip(&rstd).zip(mean_g.iter().zip(&mean_gx));
            for ((((d, &x), &g), &a), ((&m, &r), (&mg, &mgx))) in
                out.iter_mut().zip(x).zip(g).zip(&scale).zip(stats)
            {
                let xh = (x - m) * r;
                d.write(a * (g - mg - xh * mgx));
            }
        }
    }
}

/// The positions of a block of channels in each sample's row of `c · inner` values.
struct Block {
    row: usize,
    inner: usize,
    positions: Range<usize>,
}

impl Block {
    fn new((_, c, inner): (usize, usize, usize), channels: &Range<usize>) -> Self {
        Block {
            row: c * inner,
            inner,
            positions: channels.start * inner..channels.end * inner,
        }
    }

    /// Where sample `s`'s values of the block lie.
    fn row(&self, s: usize) -> Range<usize> {
        s * self.row + self.positions.start..s * self.row + self.positions.end
    }

    /// The positions of the block's channel `k` (counted from the block's first).
    fn channel(&self, k: usize) -> Range<usize> {
        k * self.inner..(k + 1) * self.inner
    }

    /// One value per position: channel `k`'s `value(k)` on each of its positions.
    fn spread<E: Float>(&self, value: impl Fn(usize) -> E) -> Vec<E> {
        (0..self.positions.len())
            .map(|p| value(p / self.inner))
            .collect()
    }

    /// One running value per position, from zero, updated by `step(acc, s)` for each sample
    /// in order.
    fn fold<E: Float>(&self, n: usize, mut step: impl FnMut(&mut [E], usize)) -> Vec<E> {
        let mut acc = vec![E::ZERO; self.positions.len()];
        for s in 0..n {
            step(&mut acc, s);
        }
        acc
    }
}

/// `acc[j] += row[j]`.
#[inline(always)]
fn add_along<E: Float>(acc: &mut [E], row: &[E]) {
    for (a, &v) in acc.iter_mut().zip(row) {
        *a = *a + v;
    }
}

/// The values added up in order.
#[inline(always)]
fn sum<E: Float>(values: &[E]) -> E {
    values.iter().fold(E::ZERO, |a, &v| a + v)
}
