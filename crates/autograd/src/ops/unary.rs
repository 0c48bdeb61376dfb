//! Element-wise functions of one tensor: forward through a backend `UnaryOp`, backward as the
//! derivative times the incoming gradient.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Float, Result, UnaryOp};

/// √(2/π), the constant inside tanh-GELU.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// 1/√(2π), the standard normal density at 0.
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl<E: Float, B: Backend> Tensor<E, B> {
    /// `op(self)` with `backward(x, out, grad)` as its rule.
    fn unary_op<F>(&self, op: UnaryOp, backward: F) -> Result<Self>
    where
        F: Fn(&Self, &Self, &Self) -> Result<Self> + Send + Sync + 'static,
    {
        let out = self.array().unary(op)?;
        Ok(Tensor::from_op(
            out,
            op.name(),
            &[self],
            move |inputs, out, g| Ok(vec![Some(backward(&inputs[0], out, g)?)]),
        ))
    }

    /// -x
    pub fn neg(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Neg, |_, _, g| g.neg())
    }

    /// e^x
    pub fn exp(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Exp, |_, out, g| g.mul(out))
    }

    /// ln x
    pub fn log(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Log, |x, _, g| g.div(x))
    }

    /// ln(1 + x)
    pub fn log1p(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Log1p, |x, _, g| g.div(&x.add_scalar(E::ONE)?))
    }

    /// e^x − 1
    pub fn expm1(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Expm1, |_, out, g| g.mul(&out.add_scalar(E::ONE)?))
    }

    /// √x
    pub fn sqrt(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Sqrt, |_, out, g| {
            g.div(out)?.mul_scalar(E::from_f64(0.5))
        })
    }

    /// 1/√x
    pub fn rsqrt(&self) -> Result<Self> {
        // d(x^-1/2)/dx = -1/2 · x^-3/2 = -1/2 · out / x
        self.unary_op(UnaryOp::Rsqrt, |x, out, g| {
            g.mul(out)?.div(x)?.mul_scalar(E::from_f64(-0.5))
        })
    }

    /// 1/x
    pub fn recip(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Recip, |_, out, g| g.mul(&out.square()?)?.neg())
    }

    /// x²
    pub fn square(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Square, |x, _, g| {
            g.mul(x)?.mul_scalar(E::from_f64(2.0))
        })
    }

    /// |x| (gradient `sign(x)`, 0 at 0 as in PyTorch)
    pub fn abs(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Abs, |x, _, g| g.mul(&x.detach().sign()?))
    }

    /// sign(x): piecewise constant, so its gradient is 0.
    pub fn sign(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Sign, |_, _, g| g.mul_scalar(E::ZERO))
    }

    /// ⌊x⌋ (gradient 0).
    pub fn floor(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Floor, |_, _, g| g.mul_scalar(E::ZERO))
    }

    /// ⌈x⌉ (gradient 0).
    pub fn ceil(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Ceil, |_, _, g| g.mul_scalar(E::ZERO))
    }

    /// Round half to even (gradient 0).
    pub fn round(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Round, |_, _, g| g.mul_scalar(E::ZERO))
    }

    /// sin x
    pub fn sin(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Sin, |x, _, g| g.mul(&x.cos()?))
    }

    /// cos x
    pub fn cos(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Cos, |x, _, g| g.mul(&x.sin()?)?.neg())
    }

    /// tanh x (gradient `1 − tanh²`)
    pub fn tanh(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Tanh, |_, out, g| {
            g.mul(&out.square()?.rsub_scalar(E::ONE)?)
        })
    }

    /// 1/(1 + e^−x) (gradient `σ(1 − σ)`)
    pub fn sigmoid(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Sigmoid, |_, out, g| {
            g.mul(out)?.mul(&out.rsub_scalar(E::ONE)?)
        })
    }

    /// max(x, 0) (gradient 0 at 0, as in PyTorch)
    pub fn relu(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Relu, |x, _, g| {
            g.mul(&x.compare_scalar(BinaryOp::Gt, E::ZERO)?)
        })
    }

    /// GELU with the exact normal CDF: x·Φ(x).
    pub fn gelu(&self) -> Result<Self> {
        self.unary_op(UnaryOp::GeluErf, |x, _, g| {
            // d/dx x·Φ(x) = Φ(x) + x·φ(x)
            let cdf = x
                .mul_scalar(E::from_f64(std::f64::consts::FRAC_1_SQRT_2))?
                .erf()?
                .add_scalar(E::ONE)?
                .mul_scalar(E::from_f64(0.5))?;
            let pdf = x
                .square()?
                .mul_scalar(E::from_f64(-0.5))?
                .exp()?
                .mul_scalar(E::from_f64(INV_SQRT_2PI))?;
            g.mul(&cdf.add(&x.mul(&pdf)?)?)
        })
    }

    /// GELU with PyTorch's tanh approximation.
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
    pub fn silu(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Silu, |x, _, g| {
            let s = x.sigmoid()?;
            // σ(x)·(1 + x·(1 − σ(x)))
            g.mul(&s.mul(&x.mul(&s.rsub_scalar(E::ONE)?)?.add_scalar(E::ONE)?)?)
        })
    }

    /// ln(1 + e^x), linear above 20 as PyTorch's default threshold.
    pub fn softplus(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Softplus, |x, _, g| g.mul(&x.sigmoid()?))
    }

    /// erf x
    pub fn erf(&self) -> Result<Self> {
        self.unary_op(UnaryOp::Erf, |x, _, g| {
            let two_over_sqrt_pi = E::from_f64(std::f64::consts::FRAC_2_SQRT_PI);
            g.mul(&x.square()?.neg()?.exp()?.mul_scalar(two_over_sqrt_pi)?)
        })
    }

    /// `x` where positive, `slope·x` elsewhere.
    pub fn leaky_relu(&self, slope: E) -> Result<Self> {
        let positive = self.relu()?;
        let negative = self.minimum_scalar(E::ZERO)?.mul_scalar(slope)?;
        positive.add(&negative)
    }

    /// `x` where positive, `alpha·(e^x − 1)` elsewhere.
    pub fn elu(&self, alpha: E) -> Result<Self> {
        let negative = self.minimum_scalar(E::ZERO)?.expm1()?.mul_scalar(alpha)?;
        self.relu()?.add(&negative)
    }

    /// Limits values to `[min, max]` (either bound optional); the gradient passes where
    /// `min ≤ x ≤ max`, as in PyTorch.
    pub fn clamp(&self, min: Option<E>, max: Option<E>) -> Result<Self> {
        let mut out = self.array().clone();
        if let Some(lo) = min {
            out = out.maximum_scalar(lo)?;
        }
        if let Some(hi) = max {
            out = out.minimum_scalar(hi)?;
        }
        Ok(Tensor::from_op(
            out,
            "clamp",
            &[self],
            move |inputs, _, g| {
                let x = inputs[0].detach();
                let mut pass = Tensor::ones_like(&x)?;
                if let Some(lo) = min {
                    pass = pass.mul(&x.compare_scalar(BinaryOp::Ge, lo)?)?;
                }
                if let Some(hi) = max {
                    pass = pass.mul(&x.compare_scalar(BinaryOp::Le, hi)?)?;
                }
                Ok(vec![Some(g.mul(&pass)?)])
            },
        ))
    }
}
