//! Element-wise functions of one tensor: forward through a backend `UnaryOp`, backward as the
//! derivative times the incoming gradient.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Float, Result, UnaryOp};

mod param;

/// √(2/π), the constant inside tanh-GELU.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// 1/√(2π), the standard normal density at 0.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl<E: Float, B: Backend> Tensor<E, B> {
    /// `op(self)` with `backward(x, out, grad)` as its rule.
    #[track_caller]
    fn unary_op<F>(&self, op: UnaryOp, backward: F) -> Result<Self>
    where
        F: Fn(&Self, &Self, &Self) -> Result<Self> + Send + Sync + 'static,
    {
        let out = self.array().unary(op)?;
        Tensor::try_from_op(out, op.name(), &[self], move |inputs, out, g| {
            Ok(vec![Some(backward(&inputs[0], out, g)?)])
        })
    }

    /// -x
    #[track_caller]
    pub fn neg(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Neg, |_, _, g| g.neg())
    }

    /// e^x
    #[track_caller]
    pub fn exp(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Exp, |_, out, g| g.mul(out))
    }

    /// ln x
    #[track_caller]
    pub fn log(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Log, |x, _, g| g.div(x))
    }

    /// ln(1 + x)
    #[track_caller]
    pub fn log1p(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Log1p, |x, _, g| g.div(&x.add_scalar(E::ONE)?))
    }

    /// e^x − 1
    #[track_caller]
    pub fn expm1(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Expm1, |_, out, g| g.mul(&out.add_scalar(E::ONE)?))
    }

    /// √x
    #[track_caller]
    pub fn sqrt(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Sqrt, |_, out, g| {
            g.div(out)?.mul_scalar(E::from_f64(0.5))
        })
    }

    /// 1/√x
    #[track_caller]
    pub fn rsqrt(&self) -> Result<Self> {
        // d(x^-1/2)/dx = -1/2 · x^-3/2 = -1/2 · out / x
        self.unary_op(UnaryOp::Rsqrt, |x, out, g| {
            g.mul(out)?.div(x)?.mul_scalar(E::from_f64(-0.5))
        })
    }

    /// 1/x
    #[track_caller]
    pub fn recip(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Recip, |_, out, g| g.mul(&out.square()?)?.neg())
    }

    /// x²
    #[track_caller]
    pub fn square(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Square, |x, _, g| {
            g.mul(x)?.mul_scalar(E::from_f64(2.0))
        })
    }

    /// |x| (gradient `sign(x)`, 0 at 0 as in PyTorch)
    #[track_caller]
    pub fn abs(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Abs, |x, _, g| g.mul(&x.detach().sign()?))
    }

    /// sign(x): piecewise constant, so its gradient is 0.
    #[track_caller]
    pub fn sign(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Sign, |_, _, g| g.mul_scalar(E::ZERO))
    }

    /// ⌊x⌋ (gradient 0).
    #[track_caller]
    pub fn floor(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Floor, |_, _, g| g.mul_scalar(E::ZERO))
    }

    /// ⌈x⌉ (gradient 0).
    #[track_caller]
    pub fn ceil(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Ceil, |_, _, g| g.mul_scalar(E::ZERO))
    }

    /// Round half to even (gradient 0).
    #[track_caller]
    pub fn round(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Round, |_, _, g| g.mul_scalar(E::ZERO))
    }

    /// sin x
    #[track_caller]
    pub fn sin(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Sin, |x, _, g| g.mul(&x.cos()?))
    }

    /// cos x
    #[track_caller]
    pub fn cos(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Cos, |x, _, g| g.mul(&x.sin()?)?.neg())
    }

    /// tanh x (gradient `1 − tanh²`)
    #[track_caller]
    pub fn tanh(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Tanh, |_, out, g| {
            g.mul(&out.square()?.rsub_scalar(E::ONE)?)
        })
    }

    /// 1/(1 + e^−x) (gradient `σ(1 − σ)`)
    #[track_caller]
    pub fn sigmoid(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Sigmoid, |_, out, g| {
            g.mul(out)?.mul(&out.rsub_scalar(E::ONE)?)
        })
    }

    /// max(x, 0) (gradient 0 at 0, as in PyTorch)
    #[track_caller]
    pub fn relu(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Relu, |x, _, g| {
            g.mul(&x.compare_scalar(BinaryOp::Gt, E::ZERO)?)
        })
    }

    /// GELU with the exact normal CDF: x·Φ(x).
    #[track_caller]
    pub fn gelu(&self) -> Result<Self> {
        // d/dx x·Φ(x) = Φ(x) + x·φ(x): one table op (`gelu_erf_grad`), differentiable itself.
        self.unary_op(UnaryOp::GeluErf, |x, _, g| g.mul(&x.gelu_erf_grad()?))
    }

    /// `Φ(x) + x·φ(x)`, the derivative of exact GELU (its backward pass in one kernel).
    #[track_caller]
    pub fn gelu_erf_grad(&self) -> Result<Self> {
        self.unary_op(UnaryOp::GeluErfGrad, |x, _, g| {
            // d/dx (Φ(x) + x·φ(x)) = 2φ(x) + x·φ'(x) = φ(x)·(2 − x²)
            let x2 = x.square()?;
            let pdf = x2
                .mul_scalar(E::from_f64(-0.5))?
                .exp()?
                .mul_scalar(E::from_f64(INV_SQRT_2PI))?;
            g.mul(&pdf.mul(&x2.rsub_scalar(E::from_f64(2.0))?)?)
        })
    }

    /// GELU with PyTorch's tanh approximation.
    #[track_caller]
    pub fn gelu_tanh(&self) -> Result<Self> {
        self.unary_op(UnaryOp::GeluTanh, |x, _, g| {
            let c = E::from_f64(SQRT_2_OVER_PI);
            let k = E::from_f64(0.044715);
            let x2 = x.square()?;
            let t = x.add(&x.mul(&x2)?.mul_scalar(k)?)?.mul_scalar(c)?.tanh()?;
            let du = x2
                .mul_scalar(k * E::from_f64(3.0))?
                .add_scalar(E::ONE)?
                .mul_scalar(c)?;
            let left = t.add_scalar(E::ONE)?.mul_scalar(E::from_f64(0.5))?;
            let right = x
                .mul(&t.square()?.rsub_scalar(E::ONE)?)?
                .mul(&du)?
                .mul_scalar(E::from_f64(0.5))?;
            g.mul(&left.add(&right)?)
        })
    }

    /// x·σ(x) (also called swish)
    #[track_caller]
    pub fn silu(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Silu, |x, _, g| {
            let s = x.sigmoid()?;
            // σ(x)·(1 + x·(1 − σ(x)))
            g.mul(&s.mul(&x.mul(&s.rsub_scalar(E::ONE)?)?.add_scalar(E::ONE)?)?)
        })
    }

    /// ln(1 + e^x), linear above 20 as PyTorch's default threshold.
    #[track_caller]
    pub fn softplus(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Softplus, |x, _, g| g.mul(&x.sigmoid()?))
    }

    /// erf x
    #[track_caller]
    pub fn erf(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Erf, |x, _, g| {
            let two_over_sqrt_pi = E::from_f64(std::f64::consts::FRAC_2_SQRT_PI);
            g.mul(&x.square()?.neg()?.exp()?.mul_scalar(two_over_sqrt_pi)?)
        })
    }

    /// SELU: `scale·x` for `x > 0`, `scale·α·(eˣ − 1)` otherwise (PyTorch's constants). The
    /// gradient at 0 is the left one, `scale·α`, as in PyTorch.
    #[track_caller]
    pub fn selu(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Selu, |x, _, g| {
            use nanotorch_ndarray_core::math::{SELU_ALPHA, SELU_SCALE};
            let positive = x.compare_scalar(BinaryOp::Gt, E::ZERO)?;
            let left = x
                .minimum_scalar(E::ZERO)?
                .exp()?
                .mul_scalar(E::from_f64(SELU_SCALE * SELU_ALPHA))?;
            let slope = positive
                .mul_scalar(E::from_f64(SELU_SCALE))?
                .add(&positive.rsub_scalar(E::ONE)?.mul(&left)?)?;
            g.mul(&slope)
        })
    }

    /// CELU with `α`: `max(0, x) + min(0, α(e^(x/α) − 1))`, computed as `α·celu₁(x/α)`.
    /// `α = 0` is an error, as in PyTorch.
    #[track_caller]
    pub fn celu(&self, alpha: E) -> Result<Self> {
        if alpha == E::ZERO {
            return Err(nanotorch_ndarray_core::Error::invalid(
                "celu",
                "alpha must not be 0",
                self.shape(),
            ));
        }
        if alpha == E::ONE {
            return self.unary_op(UnaryOp::Celu, |x, _, g| {
                // 1 above 0, eˣ at and below it.
                let positive = x.compare_scalar(BinaryOp::Gt, E::ZERO)?;
                let left = x.minimum_scalar(E::ZERO)?.exp()?;
                g.mul(&positive.add(&positive.rsub_scalar(E::ONE)?.mul(&left)?)?)
            });
        }
        self.div_scalar(alpha)?.celu(E::ONE)?.mul_scalar(alpha)
    }

    /// `ln σ(x)` (gradient `σ(−x)`), computed without overflow for large `|x|`.
    #[track_caller]
    pub fn logsigmoid(&self) -> Result<Self> {
        self.unary_op(UnaryOp::LogSigmoid, |x, _, g| g.mul(&x.neg()?.sigmoid()?))
    }

    /// `relu6(x + 3) / 6`; gradient 1/6 strictly inside (−3, 3), 0 elsewhere (PyTorch's).
    #[track_caller]
    pub fn hardsigmoid(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Hardsigmoid, |x, _, g| {
            let inside = x
                .compare_scalar(BinaryOp::Gt, E::from_f64(-3.0))?
                .mul(&x.compare_scalar(BinaryOp::Lt, E::from_f64(3.0))?)?;
            g.mul(&inside.mul_scalar(E::from_f64(1.0 / 6.0))?)
        })
    }

    /// `x·relu6(x + 3) / 6`; gradient 0 up to and at −3, `x/3 + 1/2` strictly between, 1 from
    /// 3 up (PyTorch's choice at the two kinks: `x <= -3 ? 0 : x < 3 ? x/3 + 1/2 : 1`).
    #[track_caller]
    pub fn hardswish(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Hardswish, |x, _, g| {
            let above_lo = x.compare_scalar(BinaryOp::Gt, E::from_f64(-3.0))?;
            let from_hi = x.compare_scalar(BinaryOp::Ge, E::from_f64(3.0))?;
            let ramp = x
                .div_scalar(E::from_f64(3.0))?
                .add_scalar(E::from_f64(0.5))?;
            let middle = above_lo.mul(&from_hi.rsub_scalar(E::ONE)?)?.mul(&ramp)?;
            g.mul(&middle.add(&from_hi)?)
        })
    }

    /// Mish: `x·tanh(softplus(x))`.
    #[track_caller]
    pub fn mish(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Mish, |x, _, g| {
            // tanh(sp) + x·σ(x)·(1 − tanh²(sp)), with sp = ln(1 + eˣ) and sp' = σ(x).
            let t = x.softplus()?.tanh()?;
            let sech2 = t.square()?.rsub_scalar(E::ONE)?;
            g.mul(&t.add(&x.mul(&x.sigmoid()?)?.mul(&sech2)?)?)
        })
    }

    /// Applies a table op by value: the autograd rule of every [`UnaryOp`]. The match is
    /// exhaustive, so an op added to the table does not compile until it has a rule here.
    #[track_caller]
    pub fn unary(&self, op: UnaryOp) -> Result<Self> {
        match op {
            UnaryOp::Neg => self.neg(),
            UnaryOp::Exp => self.exp(),
            UnaryOp::Log => self.log(),
            UnaryOp::Log1p => self.log1p(),
            UnaryOp::Expm1 => self.expm1(),
            UnaryOp::Sqrt => self.sqrt(),
            UnaryOp::Rsqrt => self.rsqrt(),
            UnaryOp::Recip => self.recip(),
            UnaryOp::Square => self.square(),
            UnaryOp::Abs => self.abs(),
            UnaryOp::Sign => self.sign(),
            UnaryOp::Sin => self.sin(),
            UnaryOp::Cos => self.cos(),
            UnaryOp::Tanh => self.tanh(),
            UnaryOp::Sigmoid => self.sigmoid(),
            UnaryOp::Relu => self.relu(),
            UnaryOp::GeluErf => self.gelu(),
            UnaryOp::GeluErfGrad => self.gelu_erf_grad(),
            UnaryOp::GeluTanh => self.gelu_tanh(),
            UnaryOp::Silu => self.silu(),
            UnaryOp::Softplus => self.softplus(),
            UnaryOp::Erf => self.erf(),
            UnaryOp::Floor => self.floor(),
            UnaryOp::Ceil => self.ceil(),
            UnaryOp::Round => self.round(),
            UnaryOp::Selu => self.selu(),
            UnaryOp::Celu => self.celu(E::ONE),
            UnaryOp::LogSigmoid => self.logsigmoid(),
            UnaryOp::Hardsigmoid => self.hardsigmoid(),
            UnaryOp::Hardswish => self.hardswish(),
            UnaryOp::Mish => self.mish(),
        }
    }
}
