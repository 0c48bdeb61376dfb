//! `&a + &b`, `a * 2.0`, `1.0 - &a`, `-a`: arithmetic operators over tensors and scalars.
//!
//! Operators cannot return `Result`, so on an error (a shape mismatch) they panic with the same
//! message the fallible method would return, pointing at the caller's line. Use the methods
//! (`a.add(&b)?`) where shapes come from data.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Float};
use std::ops::{Add, Div, Mul, Neg, Sub};

#[track_caller]
fn expect<T>(result: nanotorch_ndarray_core::Result<T>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

macro_rules! tensor_operator {
    ($trait:ident, $method:ident, $scalar_method:ident) => {
        impl<E: Float, B: Backend> $trait<&Tensor<E, B>> for &Tensor<E, B> {
            type Output = Tensor<E, B>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<E, B>) -> Tensor<E, B> {
                expect(Tensor::$method(self, rhs))
            }
        }
        impl<E: Float, B: Backend> $trait<Tensor<E, B>> for Tensor<E, B> {
            type Output = Tensor<E, B>;
            #[track_caller]
            fn $method(self, rhs: Tensor<E, B>) -> Tensor<E, B> {
                expect(Tensor::$method(&self, &rhs))
            }
        }
        impl<E: Float, B: Backend> $trait<&Tensor<E, B>> for Tensor<E, B> {
            type Output = Tensor<E, B>;
            #[track_caller]
            fn $method(self, rhs: &Tensor<E, B>) -> Tensor<E, B> {
                expect(Tensor::$method(&self, rhs))
            }
        }
        impl<E: Float, B: Backend> $trait<Tensor<E, B>> for &Tensor<E, B> {
            type Output = Tensor<E, B>;
            #[track_caller]
            fn $method(self, rhs: Tensor<E, B>) -> Tensor<E, B> {
                expect(Tensor::$method(self, &rhs))
            }
        }
        impl<E: Float, B: Backend> $trait<E> for &Tensor<E, B> {
            type Output = Tensor<E, B>;
            #[track_caller]
            fn $method(self, rhs: E) -> Tensor<E, B> {
                expect(self.$scalar_method(rhs))
            }
        }
        impl<E: Float, B: Backend> $trait<E> for Tensor<E, B> {
            type Output = Tensor<E, B>;
            #[track_caller]
            fn $method(self, rhs: E) -> Tensor<E, B> {
                expect(self.$scalar_method(rhs))
            }
        }
    };
}

tensor_operator!(Add, add, add_scalar);
tensor_operator!(Sub, sub, sub_scalar);
tensor_operator!(Mul, mul, mul_scalar);
tensor_operator!(Div, div, div_scalar);

/// `scalar op tensor` for the concrete float types (Rust's orphan rule needs a concrete left side).
macro_rules! scalar_left_operators {
    ($($t:ty),*) => {$(
        impl<B: Backend> Add<&Tensor<$t, B>> for $t {
            type Output = Tensor<$t, B>;
            #[track_caller]
            fn add(self, rhs: &Tensor<$t, B>) -> Tensor<$t, B> { expect(rhs.add_scalar(self)) }
        }
        impl<B: Backend> Add<Tensor<$t, B>> for $t {
            type Output = Tensor<$t, B>;
            #[track_caller]
            fn add(self, rhs: Tensor<$t, B>) -> Tensor<$t, B> { expect(rhs.add_scalar(self)) }
        }
        impl<B: Backend> Sub<&Tensor<$t, B>> for $t {
            type Output = Tensor<$t, B>;
            #[track_caller]
            fn sub(self, rhs: &Tensor<$t, B>) -> Tensor<$t, B> { expect(rhs.rsub_scalar(self)) }
        }
        impl<B: Backend> Sub<Tensor<$t, B>> for $t {
            type Output = Tensor<$t, B>;
            #[track_caller]
            fn sub(self, rhs: Tensor<$t, B>) -> Tensor<$t, B> { expect(rhs.rsub_scalar(self)) }
        }
        impl<B: Backend> Mul<&Tensor<$t, B>> for $t {
            type Output = Tensor<$t, B>;
            #[track_caller]
            fn mul(self, rhs: &Tensor<$t, B>) -> Tensor<$t, B> { expect(rhs.mul_scalar(self)) }
        }
        impl<B: Backend> Mul<Tensor<$t, B>> for $t {
            type Output = Tensor<$t, B>;
            #[track_caller]
            fn mul(self, rhs: Tensor<$t, B>) -> Tensor<$t, B> { expect(rhs.mul_scalar(self)) }
        }
        impl<B: Backend> Div<&Tensor<$t, B>> for $t {
            type Output = Tensor<$t, B>;
            #[track_caller]
            fn div(self, rhs: &Tensor<$t, B>) -> Tensor<$t, B> { expect(rhs.rdiv_scalar(self)) }
        }
        impl<B: Backend> Div<Tensor<$t, B>> for $t {
            type Output = Tensor<$t, B>;
            #[track_caller]
            fn div(self, rhs: Tensor<$t, B>) -> Tensor<$t, B> { expect(rhs.rdiv_scalar(self)) }
        }
    )*};
}

scalar_left_operators!(f32, f64);

impl<E: Float, B: Backend> Neg for &Tensor<E, B> {
    type Output = Tensor<E, B>;
    #[track_caller]
    fn neg(self) -> Tensor<E, B> {
        expect(Tensor::neg(self))
    }
}

impl<E: Float, B: Backend> Neg for Tensor<E, B> {
    type Output = Tensor<E, B>;
    #[track_caller]
    fn neg(self) -> Tensor<E, B> {
        expect(Tensor::neg(&self))
    }
}
