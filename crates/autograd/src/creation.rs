//! Making tensors: from data, filled, ranges, identity, random (through the global seeded
//! generator, so `manual_seed` makes them reproducible), and the `*_like` family.

use crate::generator::next_seed;
use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Element, Error, Float, NDArray, RandomDist, Result, Shape};

impl<E: Element, B: Backend> Tensor<E, B> {
    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: impl Into<Shape>, value: E, backend: &B) -> Result<Self> {
        Ok(Self::from_ndarray(NDArray::full(shape, value, backend)?))
    }

    /// A tensor of zeros.
    pub fn zeros(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::full(shape, E::ZERO, backend)
    }

    /// A tensor of ones.
    pub fn ones(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::full(shape, E::ONE, backend)
    }

    /// `start, start + step, …` below `end` (`torch.arange`).
    pub fn arange(start: f64, end: f64, step: f64, backend: &B) -> Result<Self> {
        Ok(Self::from_ndarray(NDArray::arange(
            start, end, step, backend,
        )?))
    }

    /// Zeros with `other`'s shape and device.
    pub fn zeros_like(other: &Self) -> Result<Self> {
        Self::zeros(other.shape().clone(), other.backend())
    }

    /// Ones with `other`'s shape and device.
    pub fn ones_like(other: &Self) -> Result<Self> {
        Self::ones(other.shape().clone(), other.backend())
    }

    /// `value` everywhere, with `other`'s shape and device.
    pub fn full_like(other: &Self, value: E) -> Result<Self> {
        Self::full(other.shape().clone(), value, other.backend())
    }

    /// The `n × n` identity matrix.
    pub fn eye(n: usize, backend: &B) -> Result<Self> {
        let mut data = vec![E::ZERO; n * n];
        for i in 0..n {
            data[i * n + i] = E::ONE;
        }
        Self::from_vec(data, [n, n], backend)
    }
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// `steps` evenly spaced values from `start` to `end` inclusive (`torch.linspace`).
    pub fn linspace(start: f64, end: f64, steps: usize, backend: &B) -> Result<Self> {
        let data = (0..steps)
            .map(|i| {
                if steps == 1 {
                    E::from_f64(start)
                } else {
                    E::from_f64(start + (end - start) * i as f64 / (steps - 1) as f64)
                }
            })
            .collect();
        Self::from_vec(data, [steps], backend)
    }

    /// Draws from `dist` using the global generator.
    pub fn random(shape: impl Into<Shape>, dist: RandomDist, backend: &B) -> Result<Self> {
        Ok(Self::from_ndarray(NDArray::random(
            shape,
            dist,
            next_seed(),
            backend,
        )?))
    }

    /// Uniform on `[0, 1)` (`torch.rand`).
    pub fn rand(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::random(
            shape,
            RandomDist::Uniform {
                low: 0.0,
                high: 1.0,
            },
            backend,
        )
    }

    /// Standard normal (`torch.randn`).
    pub fn randn(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::random(
            shape,
            RandomDist::Normal {
                mean: 0.0,
                std: 1.0,
            },
            backend,
        )
    }

    /// Uniform on `[0, 1)` with `other`'s shape and device.
    pub fn rand_like(other: &Self) -> Result<Self> {
        Self::rand(other.shape().clone(), other.backend())
    }

    /// Standard normal with `other`'s shape and device.
    pub fn randn_like(other: &Self) -> Result<Self> {
        Self::randn(other.shape().clone(), other.backend())
    }
}

impl<B: Backend> Tensor<i64, B> {
    /// Integers uniform in `low..high` (`torch.randint`).
    pub fn randint(low: i64, high: i64, shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        let shape = shape.into();
        if high <= low {
            return Err(Error::invalid(
                "randint",
                format!("empty range {low}..{high}"),
                &shape,
            ));
        }
        let draws = NDArray::<f64, B>::random(
            shape,
            RandomDist::Uniform {
                low: low as f64,
                high: high as f64,
            },
            next_seed(),
            backend,
        )?;
        // floor, then clamp: rounding can land exactly on `high` for huge ranges.
        let ints = draws
            .floor()?
            .minimum_scalar((high - 1) as f64)?
            .cast::<i64>()?;
        Ok(Self::from_ndarray(ints))
    }
}
