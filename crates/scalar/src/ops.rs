//! The ops: each computes its value and records how to send a gradient back (the chain rule for
//! that one op). Everything else is built from these eight.

use crate::value::Value;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// `a + b`. ∂/∂a = 1, ∂/∂b = 1: the sum passes its gradient through unchanged to both.
fn add(a: &Value, b: &Value) -> Value {
    Value::from_op(
        a.data() + b.data(),
        "+",
        vec![a.clone(), b.clone()],
        |g, p| {
            p[0].add_grad(g);
            p[1].add_grad(g);
        },
    )
}

/// `a * b`. ∂/∂a = b, ∂/∂b = a: each side gets the gradient scaled by the *other* side. For
/// `a * a` both lines add to the same node, giving `2a·g` as they should.
fn mul(a: &Value, b: &Value) -> Value {
    Value::from_op(
        a.data() * b.data(),
        "*",
        vec![a.clone(), b.clone()],
        |g, p| {
            p[0].add_grad(p[1].data() * g);
            p[1].add_grad(p[0].data() * g);
        },
    )
}

/// `a - b`, built as `a + (-b)`: no backward rule of its own to get wrong.
fn sub(a: &Value, b: &Value) -> Value {
    add(a, &-b)
}

/// `a / b`, built as `a · b⁻¹`: the power rule gives ∂/∂b = −a/b².
fn div(a: &Value, b: &Value) -> Value {
    mul(a, &b.powf(-1.0))
}

impl Value {
    /// `selfⁿ` for a constant `n`. ∂/∂self = n·selfⁿ⁻¹. (A negative base with a non-integer `n`
    /// gives NaN, as `f64::powf` and PyTorch do.)
    pub fn powf(&self, n: f64) -> Value {
        Value::from_op(
            self.data().powf(n),
            "pow",
            vec![self.clone()],
            move |g, p| {
                p[0].add_grad(n * p[0].data().powf(n - 1.0) * g);
            },
        )
    }

    /// `eˢᵉˡᶠ`. Its own derivative: ∂/∂self = eˢᵉˡᶠ, the output we already computed.
    pub fn exp(&self) -> Value {
        let out = self.data().exp();
        Value::from_op(out, "exp", vec![self.clone()], move |g, p| {
            p[0].add_grad(out * g);
        })
    }

    /// The natural logarithm. ∂/∂self = 1/self. (NaN below 0 and −∞ at 0, as in PyTorch.)
    pub fn log(&self) -> Value {
        Value::from_op(self.data().ln(), "log", vec![self.clone()], |g, p| {
            p[0].add_grad(g / p[0].data());
        })
    }

    /// `tanh(self)`. ∂/∂self = 1 − tanh², again from the output.
    pub fn tanh(&self) -> Value {
        let t = self.data().tanh();
        Value::from_op(t, "tanh", vec![self.clone()], move |g, p| {
            p[0].add_grad((1.0 - t * t) * g);
        })
    }

    /// `max(self, 0)`. ∂/∂self = 1 where the input is positive, else 0 (0 at 0 too, as PyTorch).
    pub fn relu(&self) -> Value {
        let out = self.data().max(0.0);
        Value::from_op(out, "relu", vec![self.clone()], move |g, p| {
            p[0].add_grad(if out > 0.0 { g } else { 0.0 });
        })
    }

    /// `1 / (1 + e⁻ˢᵉˡᶠ)`. ∂/∂self = σ(1 − σ).
    pub fn sigmoid(&self) -> Value {
        let s = 1.0 / (1.0 + (-self.data()).exp());
        Value::from_op(s, "sigmoid", vec![self.clone()], move |g, p| {
            p[0].add_grad(s * (1.0 - s) * g);
        })
    }
}

/// `-a`, built as `a · (−1)`.
impl Neg for &Value {
    type Output = Value;
    fn neg(self) -> Value {
        mul(self, &Value::new(-1.0))
    }
}

impl Neg for Value {
    type Output = Value;
    fn neg(self) -> Value {
        -&self
    }
}

/// Implements `$Trait` for every mix of `Value`, `&Value` and `f64` (a bare number becomes a
/// leaf), so `2.0 * &x + 1.0` reads as it would in Python.
macro_rules! binary_op {
    ($Trait:ident, $method:ident, $f:ident) => {
        impl $Trait<&Value> for &Value {
            type Output = Value;
            fn $method(self, rhs: &Value) -> Value {
                $f(self, rhs)
            }
        }
        impl $Trait<Value> for &Value {
            type Output = Value;
            fn $method(self, rhs: Value) -> Value {
                $f(self, &rhs)
            }
        }
        impl $Trait<&Value> for Value {
            type Output = Value;
            fn $method(self, rhs: &Value) -> Value {
                $f(&self, rhs)
            }
        }
        impl $Trait<Value> for Value {
            type Output = Value;
            fn $method(self, rhs: Value) -> Value {
                $f(&self, &rhs)
            }
        }
        impl $Trait<f64> for &Value {
            type Output = Value;
            fn $method(self, rhs: f64) -> Value {
                $f(self, &Value::new(rhs))
            }
        }
        impl $Trait<f64> for Value {
            type Output = Value;
            fn $method(self, rhs: f64) -> Value {
                $f(&self, &Value::new(rhs))
            }
        }
        impl $Trait<&Value> for f64 {
            type Output = Value;
            fn $method(self, rhs: &Value) -> Value {
                $f(&Value::new(self), rhs)
            }
        }
        impl $Trait<Value> for f64 {
            type Output = Value;
            fn $method(self, rhs: Value) -> Value {
                $f(&Value::new(self), &rhs)
            }
        }
    };
}

binary_op!(Add, add, add);
binary_op!(Sub, sub, sub);
binary_op!(Mul, mul, mul);
binary_op!(Div, div, div);

/// `values.sum()`, starting from a leaf 0 as Python's `sum` does.
impl std::iter::Sum for Value {
    fn sum<I: Iterator<Item = Value>>(iter: I) -> Value {
        iter.fold(Value::new(0.0), |acc, v| acc + v)
    }
}

impl<'a> std::iter::Sum<&'a Value> for Value {
    fn sum<I: Iterator<Item = &'a Value>>(iter: I) -> Value {
        iter.fold(Value::new(0.0), |acc, v| acc + v)
    }
}
