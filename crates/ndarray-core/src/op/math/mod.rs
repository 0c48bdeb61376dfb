//! Scalar math the op table's fast kernels share: `exp`, `ln`, `tanh`, sigmoid, SiLU, softplus,
//! GELU (tanh and erf forms) and `erf`, each in f32 and f64 without a libm call, written with `mul_add` so that a loop over them, compiled with FMA
//! (backend-cpu's AVX2 and AVX-512 copies), vectorises and rounds once per polynomial step —
//! and gives the same bits as the scalar fallback, where `mul_add` is libm's exact `fma`.
//! Chapter 2, "Transcendental functions: polynomials with FMA", explains the scheme and lists
//! each function's measured error. The op table's f64 *reference* stays libm's functions.

use crate::{DType, Float};

mod act;
mod erf;
mod erf64;
mod exp;
mod log;
#[cfg(test)]
mod tests;

pub use act::{
    gelu_tanh_f32, gelu_tanh_f64, sigmoid_f32, sigmoid_f64, silu_f32, silu_f64, softplus_f32,
    softplus_f64, tanh_f32, tanh_f64,
};
pub use erf::{erf_f32, gelu_erf_f32, gelu_erf_grad_f32};
pub use erf64::{
    erf_f64, erf_f64_group, gelu_erf_f64, gelu_erf_f64_group, gelu_erf_grad_f64,
    gelu_erf_grad_f64_group, GROUP,
};
pub use exp::{exp_f32, exp_f64};
pub use log::{log_f32, log_f64};

/// SELU's `scale` (PyTorch's `torch.nn.SELU`).
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
/// SELU's `alpha`.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// `selu(x) = scale·x` for `x > 0`, `scale·α·(eˣ − 1)` otherwise.
#[inline(always)]
pub fn selu<E: Float>(x: E) -> E {
    if x > E::ZERO {
        E::from_f64(SELU_SCALE) * x
    } else {
        E::from_f64(SELU_SCALE * SELU_ALPHA) * x.exp_m1()
    }
}

/// Defines a generic `fast_*` function that calls the f32 or the f64 version (the dtype test
/// is a constant, so each instantiation keeps one branch and inlines it).
macro_rules! per_dtype {
    ($($(#[doc = $doc:literal])* $name:ident => $f32:path, $f64:path;)*) => {$(
        $(#[doc = $doc])*
        #[inline(always)]
        pub fn $name<E: Float>(x: E) -> E {
            if E::DTYPE == DType::F32 {
                bytemuck::cast($f32(bytemuck::cast(x)))
            } else {
                bytemuck::cast($f64(bytemuck::cast(x)))
            }
        }
    )*};
}

per_dtype! {
    /// `e^x`: [`exp_f32`] or [`exp_f64`].
    fast_exp => exp_f32, exp_f64;
    /// `ln x`: [`log_f32`] or [`log_f64`].
    fast_log => log_f32, log_f64;
    /// `tanh x`: [`tanh_f32`] or [`tanh_f64`].
    fast_tanh => tanh_f32, tanh_f64;
    /// `1/(1 + e^−x)`: [`sigmoid_f32`] or [`sigmoid_f64`].
    fast_sigmoid => sigmoid_f32, sigmoid_f64;
    /// `x·sigmoid(x)`: [`silu_f32`] or [`silu_f64`].
    fast_silu => silu_f32, silu_f64;
    /// `ln(1 + e^x)` with PyTorch's threshold: [`softplus_f32`] or [`softplus_f64`].
    fast_softplus => softplus_f32, softplus_f64;
    /// GELU's tanh form: [`gelu_tanh_f32`] or [`gelu_tanh_f64`].
    fast_gelu_tanh => gelu_tanh_f32, gelu_tanh_f64;
    /// `erf x`: [`erf_f32`] or [`erf_f64`].
    fast_erf => erf_f32, erf_f64;
    /// Exact GELU: [`gelu_erf_f32`] or [`gelu_erf_f64`].
    fast_gelu_erf => gelu_erf_f32, gelu_erf_f64;
    /// Exact GELU's derivative: [`gelu_erf_grad_f32`] or [`gelu_erf_grad_f64`].
    fast_gelu_erf_grad => gelu_erf_grad_f32, gelu_erf_grad_f64;
}

/// Defines a generic `fast_*_group` on [`GROUP`] elements, in place: the f64 group kernel, or
/// the f32 function on each element (f32 has no group kernel; a backend asks
/// `UnaryKernel::groups` before it calls one).
macro_rules! per_dtype_group {
    ($($(#[doc = $doc:literal])* $name:ident => $f32:path, $f64:path;)*) => {$(
        $(#[doc = $doc])*
        #[inline(always)]
        pub fn $name<E: Float>(x: &mut [E; GROUP]) {
            if E::DTYPE == DType::F32 {
                for x in x.iter_mut() {
                    *x = bytemuck::cast($f32(bytemuck::cast(*x)));
                }
            } else {
                $f64(bytemuck::cast_mut(x))
            }
        }
    )*};
}

per_dtype_group! {
    /// [`fast_erf`] on a group: [`erf_f64_group`] in f64.
    fast_erf_group => erf_f32, erf_f64_group;
    /// [`fast_gelu_erf`] on a group: [`gelu_erf_f64_group`] in f64.
    fast_gelu_erf_group => gelu_erf_f32, gelu_erf_f64_group;
    /// [`fast_gelu_erf_grad`] on a group: [`gelu_erf_grad_f64_group`] in f64.
    fast_gelu_erf_grad_group => gelu_erf_grad_f32, gelu_erf_grad_f64_group;
}
