//! Per-sample transforms (torchvision's `transforms`): [`Normalize`], [`RandomCrop`] with padding,
//! [`RandomHorizontalFlip`] and [`Compose`].
//!
//! A transform takes a [`Sample`] and a random number generator seeded for that one sample (any
//! [`RngCore`]; use [`rand::Rng`]'s methods and `rand_distr`'s distributions on it), so a random
//! transform gives the same output for the same (seed, epoch, sample) whichever worker runs it.
//! Images are `[C, H, W]` (a `[H, W]` image is treated as one channel); the channel axis is
//! always axis 0.
//!
//! Any closure `Fn(Sample, &mut dyn RngCore) -> Result<Sample>` is a transform too.

use crate::Sample;
use nanotorch_ndarray_core::{Error, Result, Shape};
use rand::{Rng, RngCore};

/// A function from one sample to another, possibly random.
pub trait Transform: Send + Sync {
    /// Transforms `sample`, drawing any randomness from `rng`. (A trait object rather than a
    /// type parameter, so that transforms can be boxed and composed.)
    fn apply(&self, sample: Sample, rng: &mut dyn RngCore) -> Result<Sample>;
}

impl<F> Transform for F
where
    F: Fn(Sample, &mut dyn RngCore) -> Result<Sample> + Send + Sync,
{
    fn apply(&self, sample: Sample, rng: &mut dyn RngCore) -> Result<Sample> {
        self(sample, rng)
    }
}

impl Transform for Box<dyn Transform> {
    fn apply(&self, sample: Sample, rng: &mut dyn RngCore) -> Result<Sample> {
        (**self).apply(sample, rng)
    }
}

/// `(x - mean[c]) / std[c]` for each value `x` of channel `c` (axis 0). With one mean and one
/// std, every value uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// Per-channel mean and standard deviation (equal lengths, every std finite and non-zero).
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(Error::msg(format!(
                "Normalize: need as many means as stds, at least one (got {} and {})",
                mean.len(),
                std.len()
            )));
        }
        if let Some(s) = std.iter().find(|s| **s == 0.0 || !s.is_finite()) {
            return Err(Error::msg(format!(
                "Normalize: std {s} is not a finite non-zero number"
            )));
        }
        if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
            return Err(Error::msg(format!("Normalize: mean {m} is not finite")));
        }
        Ok(Normalize { mean, std })
    }

    /// One mean and std for every value (e.g. `Normalize::scalar(0.0, 16.0)` scales digits to
    /// `[0, 1]`).
    pub fn scalar(mean: f32, std: f32) -> Result<Self> {
        Self::new(vec![mean], vec![std])
    }
}

impl Transform for Normalize {
    fn apply(&self, mut sample: Sample, _rng: &mut dyn RngCore) -> Result<Sample> {
        if self.mean.len() == 1 {
            let (m, s) = (self.mean[0], self.std[0]);
            sample.features.iter_mut().for_each(|x| *x = (*x - m) / s);
            return Ok(sample);
        }
        let channels = sample.shape.dims().first().copied().unwrap_or(1);
        if channels != self.mean.len()
            || sample.features.is_empty()
            || !sample.features.len().is_multiple_of(channels)
        {
            return Err(Error::invalid(
                "Normalize",
                format!(
                    "{} channel statistics given but the sample has {channels} channels (axis 0)",
                    self.mean.len()
                ),
                &sample.shape,
            ));
        }
        let per_channel = sample.features.len() / channels;
        for (c, chunk) in sample.features.chunks_mut(per_channel).enumerate() {
            let (m, s) = (self.mean[c], self.std[c]);
            chunk.iter_mut().for_each(|x| *x = (*x - m) / s);
        }
        Ok(sample)
    }
}

/// `[C, H, W]` (or `[H, W]`) view of a sample's shape, checking that the features fill it.
fn image_dims(op: &'static str, sample: &Sample) -> Result<(usize, usize, usize)> {
    let shape = &sample.shape;
    if sample.features.len() != shape.numel() {
        return Err(Error::DataLength {
            op,
            len: sample.features.len(),
            shape: shape.clone(),
        });
    }
    match *shape.dims() {
        [c, h, w] => Ok((c, h, w)),
        [h, w] => Ok((1, h, w)),
        _ => Err(Error::invalid(
            op,
            "expects an image shaped [C, H, W] or [H, W]",
            shape,
        )),
    }
}

/// Pads the image with `padding` zeros on every side, then cuts a random `height × width` window
/// out of it (torchvision's `RandomCrop(size, padding)`; CIFAR's usual augmentation is
/// `RandomCrop::new(32, 32, 4)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomCrop {
    height: usize,
    width: usize,
    padding: usize,
}

impl RandomCrop {
    /// Crops of `height × width` after zero-padding by `padding` pixels.
    pub fn new(height: usize, width: usize, padding: usize) -> Self {
        RandomCrop {
            height,
            width,
            padding,
        }
    }
}

impl Transform for RandomCrop {
    fn apply(&self, sample: Sample, rng: &mut dyn RngCore) -> Result<Sample> {
        let (c, h, w) = image_dims("RandomCrop", &sample)?;
        let p = self.padding;
        let pad2 = p.saturating_mul(2);
        let (ph, pw) = (h.saturating_add(pad2), w.saturating_add(pad2));
        if self.height > ph || self.width > pw {
            return Err(Error::invalid(
                "RandomCrop",
                format!(
                    "crop {}x{} is larger than the padded image {ph}x{pw}",
                    self.height, self.width
                ),
                &sample.shape,
            ));
        }
        let top = rng.gen_range(0..=ph - self.height);
        let left = rng.gen_range(0..=pw - self.width);
        let mut out = vec![0.0f32; c * self.height * self.width];
        for ch in 0..c {
            for y in 0..self.height {
                // Row `top + y` of the padded image is row `top + y - p` of the original.
                let Some(sy) = (top + y).checked_sub(p).filter(|&sy| sy < h) else {
                    continue;
                };
                for x in 0..self.width {
                    if let Some(sx) = (left + x).checked_sub(p).filter(|&sx| sx < w) {
                        out[(ch * self.height + y) * self.width + x] =
                            sample.features[(ch * h + sy) * w + sx];
                    }
                }
            }
        }
        let shape = if sample.shape.rank() == 3 {
            Shape::from([c, self.height, self.width])
        } else {
            Shape::from([self.height, self.width])
        };
        Sample::new(out, shape, sample.label)
    }
}

/// Mirrors the image left–right with probability `p` (torchvision's `RandomHorizontalFlip`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomHorizontalFlip {
    p: f64,
}

impl RandomHorizontalFlip {
    /// Flips with probability `p` (clamped to `[0, 1]`; NaN never flips).
    pub fn new(p: f64) -> Self {
        RandomHorizontalFlip {
            p: p.clamp(0.0, 1.0),
        }
    }
}

impl Default for RandomHorizontalFlip {
    /// `p = 0.5`.
    fn default() -> Self {
        Self::new(0.5)
    }
}

impl Transform for RandomHorizontalFlip {
    fn apply(&self, mut sample: Sample, rng: &mut dyn RngCore) -> Result<Sample> {
        let (_, _, w) = image_dims("RandomHorizontalFlip", &sample)?;
        // `gen::<f64>() < p` rather than `gen_bool(p)`, which panics on a NaN `p`; NaN never flips.
        if rng.gen::<f64>() < self.p && w > 0 {
            sample.features.chunks_mut(w).for_each(<[f32]>::reverse);
        }
        Ok(sample)
    }
}

/// Transforms applied one after another (torchvision's `Compose`), all drawing from the one
/// per-sample generator in turn.
#[derive(Default)]
pub struct Compose {
    transforms: Vec<Box<dyn Transform>>,
}

impl Compose {
    /// The transforms, applied first to last.
    pub fn new(transforms: Vec<Box<dyn Transform>>) -> Self {
        Compose { transforms }
    }

    /// Appends a transform.
    pub fn then(mut self, transform: impl Transform + 'static) -> Self {
        self.transforms.push(Box::new(transform));
        self
    }
}

impl std::fmt::Debug for Compose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compose({} transforms)", self.transforms.len())
    }
}

impl Transform for Compose {
    fn apply(&self, mut sample: Sample, rng: &mut dyn RngCore) -> Result<Sample> {
        for t in &self.transforms {
            sample = t.apply(sample, rng)?;
        }
        Ok(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{generator, DataRng};

    /// The per-sample generator the loader would hand over, for seed `seed`.
    fn rng(seed: u64) -> DataRng {
        generator(seed, 0)
    }

    fn image(c: usize, h: usize, w: usize) -> Sample {
        let n = c * h * w;
        Sample::new((0..n).map(|v| v as f32 + 1.0).collect(), [c, h, w], 3).unwrap()
    }

    #[test]
    fn normalize_per_channel_and_scalar() {
        let s = Sample::new(vec![1.0, 3.0, 10.0, 20.0], [2, 2], 0).unwrap();
        let n = Normalize::new(vec![2.0, 10.0], vec![1.0, 5.0]).unwrap();
        let out = n.apply(s.clone(), &mut rng(0)).unwrap();
        assert_eq!(out.features, vec![-1.0, 1.0, 0.0, 2.0]);
        let out = Normalize::scalar(0.0, 2.0)
            .unwrap()
            .apply(s.clone(), &mut rng(0))
            .unwrap();
        assert_eq!(out.features, vec![0.5, 1.5, 5.0, 10.0]);
        let three = Normalize::new(vec![0.0; 3], vec![1.0; 3]).unwrap();
        assert!(three.apply(s, &mut rng(0)).is_err());
        assert!(Normalize::new(vec![0.0], vec![0.0]).is_err());
        assert!(Normalize::new(vec![0.0, 1.0], vec![1.0]).is_err());
    }

    #[test]
    fn flip_mirrors_each_row() {
        let s = image(1, 2, 3);
        let always = RandomHorizontalFlip::new(1.0);
        let out = always.apply(s.clone(), &mut rng(0)).unwrap();
        assert_eq!(out.features, vec![3.0, 2.0, 1.0, 6.0, 5.0, 4.0]);
        let never = RandomHorizontalFlip::new(0.0);
        assert_eq!(never.apply(s.clone(), &mut rng(0)).unwrap(), s);
        // p = 0.5 flips about half the time.
        let half = RandomHorizontalFlip::default();
        let flips = (0..2000)
            .filter(|&i| half.apply(s.clone(), &mut rng(i)).unwrap() != s)
            .count();
        assert!((850..1150).contains(&flips), "{flips}");
        let mut bad = s.clone();
        bad.features.pop(); // features no longer fill the shape: an error, not a panic
        assert!(always.apply(bad.clone(), &mut rng(0)).is_err());
        assert!(RandomCrop::new(1, 1, 0).apply(bad, &mut rng(0)).is_err());
        let flat = Sample::new(vec![1.0; 4], [4], 0).unwrap();
        assert!(always.apply(flat, &mut rng(0)).is_err());
    }

    #[test]
    fn crop_without_padding_of_full_size_is_identity() {
        let s = image(2, 3, 3);
        let out = RandomCrop::new(3, 3, 0)
            .apply(s.clone(), &mut rng(9))
            .unwrap();
        assert_eq!(out, s);
    }

    #[test]
    fn crop_with_padding_is_a_shifted_window_with_zero_border() {
        let s = image(1, 4, 4);
        let crop = RandomCrop::new(4, 4, 2);
        let mut seen_shift = false;
        for seed in 0..50 {
            let out = crop.apply(s.clone(), &mut rng(seed)).unwrap();
            assert_eq!(out.shape, Shape::from([1, 4, 4]));
            // Each output value is 0 (padding) or the original value; originals keep their
            // relative positions: find the shift from any non-zero entry and check all of them.
            let mut shift = None;
            for y in 0..4 {
                for x in 0..4 {
                    let v = out.features[y * 4 + x];
                    if v != 0.0 {
                        let src = v as usize - 1;
                        let d = (src / 4) as isize - y as isize;
                        let e = (src % 4) as isize - x as isize;
                        assert!(d.abs() <= 2 && e.abs() <= 2);
                        assert_eq!(*shift.get_or_insert((d, e)), (d, e));
                    }
                }
            }
            seen_shift |= shift.is_some_and(|s| s != (0, 0));
        }
        assert!(seen_shift);
        assert!(RandomCrop::new(9, 4, 2).apply(s, &mut rng(0)).is_err());
    }

    #[test]
    fn compose_applies_in_order_and_is_seeded() {
        let t = Compose::new(vec![Box::new(RandomCrop::new(2, 2, 1))])
            .then(RandomHorizontalFlip::default())
            .then(Normalize::scalar(1.0, 2.0).unwrap());
        let s = image(3, 4, 4);
        let a = t.apply(s.clone(), &mut rng(4)).unwrap();
        let b = t.apply(s.clone(), &mut rng(4)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.shape, Shape::from([3, 2, 2]));
        let outs: std::collections::HashSet<String> = (0..20)
            .map(|i| format!("{:?}", t.apply(s.clone(), &mut rng(i)).unwrap()))
            .collect();
        assert!(outs.len() > 5);
    }
}
