//! Making tensors: from data, filled, ranges, identity, random (through the global seeded
//! generator, so `manual_seed` makes them reproducible), and the `*_like` family.

use crate::generator::next_seed;
use crate::Tensor;
use nanotorch_ndarray_core::{
    size, Backend, Element, Error, Float, NDArray, RandomDist, Result, Shape,
};

/// `err` re-labelled with `op`, the constructor the user called, when it is one of the errors a
/// constructor raises about its size (a count that overflows, a buffer that cannot be had):
/// `randn` is built on `NDArray::random`, and its errors must say `randn`.
fn named(op: &'static str, err: Error) -> Error {
    match size::relabel_alloc(op, err) {
        Error::InvalidArgument { msg, shape, .. } => Error::InvalidArgument { op, msg, shape },
        other => other,
    }
}

impl<E: Element, B: Backend> Tensor<E, B> {
    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: impl Into<Shape>, value: E, backend: &B) -> Result<Self> {
        Ok(Self::from_ndarray(NDArray::full(shape, value, backend)?))
    }

    /// A tensor of zeros. A shape whose element count overflows or whose buffer cannot be
    /// allocated is an error naming `zeros`, never a panic or an abort:
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    ///
    /// let err = Tensor::<f32, Cpu>::zeros([usize::MAX, 2], &Cpu).unwrap_err().to_string();
    /// assert!(err.starts_with("zeros: the element count (36893488147419103230)"), "{err}");
    /// assert!(err.contains("overflows a usize"), "{err}");
    /// ```
    pub fn zeros(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Ok(Self::from_ndarray(NDArray::zeros(shape, backend)?))
    }

    /// A tensor of ones.
    pub fn ones(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Ok(Self::from_ndarray(NDArray::ones(shape, backend)?))
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

    /// The `n × n` identity matrix. An `n` whose square overflows or cannot be allocated is an
    /// error naming `eye`.
    pub fn eye(n: usize, backend: &B) -> Result<Self> {
        let shape = Shape::from([n, n]);
        let len = size::buffer_len::<E>("eye", &shape)?;
        let mut data = size::try_host_vec("eye", len)?;
        data.resize(len, E::ZERO);
        // n + 1 apart: n·n fits in a usize (checked just above), so every index does too.
        data.iter_mut().step_by(n + 1).for_each(|d| *d = E::ONE);
        Self::from_vec(data, shape, backend)
    }
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// `steps` evenly spaced values from `start` to `end` inclusive (`torch.linspace`).
    pub fn linspace(start: f64, end: f64, steps: usize, backend: &B) -> Result<Self> {
        size::check_host_buffer::<E>("linspace", steps)?;
        let mut data = size::try_host_vec("linspace", steps)?;
        data.extend((0..steps).map(|i| {
            if steps == 1 {
                E::from_f64(start)
            } else {
                E::from_f64(start + (end - start) * i as f64 / (steps - 1) as f64)
            }
        }));
        Self::from_vec(data, [steps], backend)
    }

    /// Draws from `dist` using the global generator.
    pub fn random(shape: impl Into<Shape>, dist: RandomDist, backend: &B) -> Result<Self> {
        Self::random_named("random", shape.into(), dist, backend)
    }

    /// [`random`](Tensor::random) with size errors naming `op` (`rand`, `randn`).
    fn random_named(op: &'static str, shape: Shape, dist: RandomDist, backend: &B) -> Result<Self> {
        let array = NDArray::random(shape, dist, next_seed(), backend).map_err(|e| named(op, e))?;
        Ok(Self::from_ndarray(array))
    }

    /// Uniform on `[0, 1)` (`torch.rand`).
    pub fn rand(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::random_named(
            "rand",
            shape.into(),
            RandomDist::Uniform {
                low: 0.0,
                high: 1.0,
            },
            backend,
        )
    }

    /// Standard normal (`torch.randn`).
    pub fn randn(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::random_named(
            "randn",
            shape.into(),
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
        // Drawn in f64 and converted: the size check must be the i64 result's and the f64
        // draws' (both 8 bytes an element), and its errors must say `randint`.
        let draws = NDArray::<f64, B>::random(
            shape,
            RandomDist::Uniform {
                low: low as f64,
                high: high as f64,
            },
            next_seed(),
            backend,
        )
        .map_err(|e| named("randint", e))?;
        // floor, then clamp: rounding can land exactly on `high` for huge ranges.
        let ints = draws
            .floor()?
            .minimum_scalar((high - 1) as f64)?
            .cast::<i64>()?;
        Ok(Self::from_ndarray(ints))
    }
}

#[cfg(test)]
mod tests {
    //! Issue 13, defect 3: each of these panicked, aborted or returned a wrong shape before the
    //! checked sizes of `nanotorch_ndarray_core::size`.
    use super::*;
    use nanotorch_backend_cpu::Cpu;

    type T = Tensor<f32, Cpu>;

    /// The error's op and message.
    #[track_caller]
    fn refused<V: std::fmt::Debug>(result: Result<V>) -> (&'static str, String) {
        let err = result.expect_err("an absurd size must be refused");
        let op = match &err {
            Error::InvalidArgument { op, .. } | Error::Alloc { op, .. } => *op,
            other => panic!("unexpected error kind: {other:?}"),
        };
        (op, err.to_string())
    }

    #[test]
    fn counts_that_overflow_are_errors_naming_the_constructor() {
        // Was a "capacity overflow" panic.
        let (op, msg) = refused(T::zeros([usize::MAX, 2], &Cpu));
        assert_eq!(op, "zeros");
        assert!(msg.contains("overflows a usize"), "{msg}");
        // Was a tensor with numel() == 0.
        let (op, msg) = refused(T::zeros([1 << 32, 1 << 32], &Cpu));
        assert_eq!((op, msg.contains("18446744073709551616")), ("zeros", true));
        assert_eq!(refused(T::ones([1 << 32, 1 << 32], &Cpu)).0, "ones");
        assert_eq!(refused(T::full([usize::MAX, 3], 1.0, &Cpu)).0, "full");
        assert_eq!(refused(T::randn([1 << 32, 1 << 32], &Cpu)).0, "randn");
        assert_eq!(refused(T::rand([1 << 32, 1 << 32], &Cpu)).0, "rand");
        let ints = Tensor::<i64, Cpu>::randint(0, 5, [1 << 32, 1 << 32], &Cpu);
        assert_eq!(refused(ints).0, "randint");
        // Was an index panic (n * n wrapped to 0).
        let (op, msg) = refused(T::eye(1 << 32, &Cpu));
        assert_eq!(op, "eye");
        assert!(msg.contains("overflows a usize"), "{msg}");
        // Was a "capacity overflow" panic.
        let (op, msg) = refused(T::arange(0.0, 1e30, 1.0, &Cpu));
        assert_eq!(op, "arange");
        assert!(msg.contains("1e30 elements"), "{msg}");
        assert_eq!(
            refused(T::linspace(0.0, 1.0, usize::MAX, &Cpu)).0,
            "linspace"
        );
    }

    #[test]
    fn buffers_that_cannot_be_allocated_are_errors_not_aborts() {
        // 4 TiB of f32: was an allocator abort that killed the process.
        let (op, msg) = refused(T::randn([1 << 40], &Cpu));
        assert_eq!(op, "randn");
        assert!(
            msg.starts_with("randn: cannot allocate 1099511627776 elements of f32: 4.0 TiB"),
            "{msg}"
        );
        assert_eq!(refused(T::eye(1 << 20, &Cpu)).0, "eye");
        assert_eq!(refused(T::zeros([1 << 62], &Cpu)).0, "zeros");
    }

    #[test]
    fn reshape_infers_and_refuses_as_documented() {
        let x = T::zeros([8], &Cpu).unwrap();
        // usize::MAX is the older spelling of -1.
        assert_eq!(x.reshape([4, usize::MAX]).unwrap().dims(), &[4, 2]);
        let empty = T::zeros([0], &Cpu).unwrap();
        assert_eq!(empty.reshape([4, usize::MAX]).unwrap().dims(), &[4, 0]);
        let err = x.reshape([4, usize::MAX - 1]).unwrap_err().to_string();
        assert!(err.starts_with("reshape: the element count"), "{err}");
    }

    #[test]
    fn small_constructors_still_work() {
        let eye = T::eye(3, &Cpu).unwrap();
        assert_eq!(
            eye.to_vec().unwrap(),
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        );
        assert_eq!(T::eye(0, &Cpu).unwrap().dims(), &[0, 0]);
        assert_eq!(T::eye(1, &Cpu).unwrap().to_vec().unwrap(), [1.0]);
        let l = T::linspace(0.0, 1.0, 3, &Cpu).unwrap();
        assert_eq!(l.to_vec().unwrap(), [0.0, 0.5, 1.0]);
        assert_eq!(T::zeros([0, usize::MAX], &Cpu).unwrap().numel(), 0);
    }
}
