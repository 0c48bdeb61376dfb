//! The macros that turn the op tables (`unary.rs`, `binary.rs`) into code. One table entry
//! declares an element-wise op once; from it come the enum variant, `ALL`, the name used in
//! kernel names, the `NDArray` method, the f64 reference, the CPU scalar kernel (a zero-sized
//! type implementing [`UnaryKernel`](super::UnaryKernel) or [`BinaryKernel`](super::BinaryKernel)),
//! and the CUDA expression that `cargo xtask ptx` writes into `kernels/generated/ops.cuh`.
//!
//! Backends never match on the op themselves: they pass a visitor to `dispatch`, which calls it
//! with the op's kernel type, so each op's loop is compiled (and vectorised) on its own.

/// Expands the unary table. Entry syntax:
///
/// ```text
/// /// doc
/// Variant("name", method, cost N, Domain) [cuda "device expression"] |x| rust_expression
///     [, fast |x| fast_expression [, group |x| group_expression]];
/// ```
///
/// The Rust expression is generic over `E: Float` (`E::from_f64(0.5)` for constants) and is,
/// at `E = f64`, the reference ([`UnaryOp::eval_f64`]), so it is written with libm's accurate
/// functions. Without `fast` it is also the CPU kernel; with it, the CPU kernel is the fast
/// expression (the vectorised FMA polynomials of `op::math`), tested against the reference.
/// With `group`, the kernel also has a group form in f64 (`x` is `&mut [E; GROUP]`, changed in
/// place): the same bits as `fast` on each element, with work skipped where a group allows it.
/// Without `cuda`, the device expression is `F::name(x)` (a function of the same name in
/// `kernels/math.cuh`).
macro_rules! unary_ops {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident($name:literal, $method:ident, cost $cost:literal, $domain:ident)
        $(cuda $cuda:literal)?
        |$x:ident| $body:expr
        $(, fast |$fx:ident| $fast:expr $(, group |$gx:ident| $group:expr)?)?;
    )*) => {
        /// Element-wise functions of one float argument, declared once in the table in
        /// `op/unary.rs`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum UnaryOp {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl UnaryOp {
            /// How many unary ops there are.
            pub const COUNT: usize = [$($name),*].len();

            /// Every unary op, in table order.
            pub const ALL: [UnaryOp; Self::COUNT] = [$(UnaryOp::$variant),*];

            /// Lower-case name, used in kernel names (`unary_exp_f32`) and autograd node names.
            pub fn name(self) -> &'static str {
                match self { $(UnaryOp::$variant => $name,)* }
            }

            /// The `NDArray`/`Tensor` method that applies it (`GeluErf` is `gelu`).
            pub fn method(self) -> &'static str {
                match self { $(UnaryOp::$variant => stringify!($method),)* }
            }

            /// Relative cost per element against a memory-bound copy (1): a transcendental
            /// function is ~16. Backends scale their threading threshold by it.
            pub fn cost(self) -> usize {
                match self { $(UnaryOp::$variant => $cost,)* }
            }

            /// Where the op is smooth enough to test numerically: tests draw inputs from here.
            pub fn domain(self) -> Domain {
                match self { $(UnaryOp::$variant => Domain::$domain,)* }
            }

            /// The CUDA C++ expression of the op in `x` (element type `T`, math through `F`).
            pub fn cuda_expr(self) -> &'static str {
                match self {
                    $(UnaryOp::$variant => $crate::op::table::first!($($cuda,)? concat!("F::", $name, "(x)")),)*
                }
            }

            /// The reference definition in f64: what every backend must compute (up to
            /// rounding). It is the table's (libm) expression evaluated in f64, never the fast
            /// kernel, so that tests compare a kernel with an independent definition.
            pub fn eval_f64(self, x: f64) -> f64 {
                match self { $(UnaryOp::$variant => unary_kernels::$variant::reference(x),)* }
            }

            /// The op on one element of any float type: the CPU kernel (the fast expression
            /// where the table gives one; slow in a loop, where [`UnaryOp::dispatch`] gives the
            /// op's own kernel type instead).
            #[inline]
            pub fn eval<E: Float>(self, x: E) -> E {
                match self { $(UnaryOp::$variant => <unary_kernels::$variant as UnaryKernel>::apply(x),)* }
            }

            /// Calls `visitor` with this op's kernel type, so the caller's loop is monomorphised
            /// (and vectorised) per op.
            #[inline]
            pub fn dispatch<V: UnaryVisitor>(self, visitor: V) -> V::Output {
                match self { $(UnaryOp::$variant => visitor.visit::<unary_kernels::$variant>(),)* }
            }
        }

        /// One zero-sized kernel type per unary op (what [`UnaryOp::dispatch`] hands a visitor).
        pub mod unary_kernels {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[doc = $doc])*
                #[derive(Debug, Clone, Copy)]
                pub struct $variant;

                impl $variant {
                    /// The table's reference expression (libm's functions).
                    #[inline(always)]
                    pub fn reference<E: Float>($x: E) -> E {
                        $body
                    }
                }

                impl UnaryKernel for $variant {
                    const OP: UnaryOp = UnaryOp::$variant;
                    #[inline(always)]
                    fn apply<E: Float>(x: E) -> E {
                        $crate::op::table::first!(
                            $({
                                let $fx = x;
                                $fast
                            },)?
                            Self::reference(x)
                        )
                    }
                    $($(
                        #[inline(always)]
                        fn groups<E: Float>() -> bool {
                            E::DTYPE == $crate::DType::F64
                        }
                        #[inline(always)]
                        fn apply_group<E: Float>($gx: &mut [E; GROUP]) {
                            $group
                        }
                    )?)?
                }
            )*
        }

        impl<E: Float, B: Backend> NDArray<E, B> {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!("Element-wise, through [`UnaryOp::", stringify!($variant), "`].")]
                pub fn $method(&self) -> Result<Self> {
                    self.unary(UnaryOp::$variant)
                }
            )*
        }
    };
}

/// Expands the binary table. Entry syntax:
///
/// ```text
/// /// doc
/// Variant("name", method / scalar_method, cost N, Kind, Domain, bool B) cuda "device expression"
///     float |a, b| expression_generic_over_F [int |a, b| expression_on_i64];
/// ```
///
/// `Kind` is `Arithmetic` or `Comparison` (yields 1 or 0 in the operands' type). An entry
/// without `int` is float-only: `NDArray` refuses it on integer arrays, and CUDA instantiates it
/// for f32 and f64 only. `bool false` refuses the op on `Bool` arrays too (`-`, `/` and `pow`,
/// as PyTorch does); `bool true` on a float-only entry has no effect.
macro_rules! binary_ops {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident($name:literal, $method:ident / $scalar_method:ident, cost $cost:literal, $kind:ident, $domain:ident, bool $bool:literal)
        cuda $cuda:literal
        float |$fa:ident, $fb:ident| $float:expr
        $(, int |$ia:ident, $ib:ident| $int:expr)?;
    )*) => {
        /// Element-wise functions of two arguments, declared once in the table in
        /// `op/binary.rs`. Comparisons yield `1` (true) or `0` (false) in the operands' type.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum BinaryOp {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl BinaryOp {
            /// How many binary ops there are.
            pub const COUNT: usize = [$($name),*].len();

            /// Every binary op, in table order.
            pub const ALL: [BinaryOp; Self::COUNT] = [$(BinaryOp::$variant),*];

            /// Lower-case name, used in kernel names (`binary_add_f32`).
            pub fn name(self) -> &'static str {
                match self { $(BinaryOp::$variant => $name,)* }
            }

            /// The `NDArray`/`Tensor` method that applies it (`add`).
            pub fn method(self) -> &'static str {
                match self { $(BinaryOp::$variant => stringify!($method),)* }
            }

            /// Relative cost per element (see [`UnaryOp::cost`]).
            pub fn cost(self) -> usize {
                match self { $(BinaryOp::$variant => $cost,)* }
            }

            /// Where the left operand keeps the op smooth (`pow`'s base is positive); tests draw
            /// the right operand from the reals away from 0.
            pub fn domain(self) -> Domain {
                match self { $(BinaryOp::$variant => Domain::$domain,)* }
            }

            /// Whether the op is a comparison (yields a 0/1 mask).
            pub fn is_comparison(self) -> bool {
                match self { $(BinaryOp::$variant => matches!(BinaryKind::$kind, BinaryKind::Comparison),)* }
            }

            /// Whether the op is defined on integer elements (`atan2` is float-only).
            pub fn supports_integers(self) -> bool {
                match self { $(BinaryOp::$variant => $crate::op::table::first!($($crate::op::table::yes!($int),)? false),)* }
            }

            /// Whether the op is defined on `Bool` elements (`+` is or, `*` is and; `-`, `/` and
            /// `pow` are refused, as in PyTorch).
            pub fn supports_booleans(self) -> bool {
                self.supports_integers() && match self { $(BinaryOp::$variant => $bool,)* }
            }

            /// Whether the op is defined on elements of type `dtype`.
            pub fn supports(self, dtype: $crate::DType) -> bool {
                match dtype {
                    $crate::DType::F32 | $crate::DType::F64 => true,
                    $crate::DType::Bool => self.supports_booleans(),
                    _ => self.supports_integers(),
                }
            }

            /// The CUDA C++ expression of the op in `a` and `b` (element type `T`).
            pub fn cuda_expr(self) -> &'static str {
                match self { $(BinaryOp::$variant => $cuda,)* }
            }

            /// The op applied to two elements: the CPU scalar kernel and the reference every
            /// backend must match. A float-only op on integers gives 0 (callers check
            /// [`BinaryOp::supports_integers`] first).
            #[inline(always)]
            pub fn eval<E: Element>(self, a: E, b: E) -> E {
                match self { $(BinaryOp::$variant => <binary_kernels::$variant as BinaryKernel>::apply(a, b),)* }
            }

            /// Calls `visitor` with this op's kernel type (see [`UnaryOp::dispatch`]).
            #[inline]
            pub fn dispatch<V: BinaryVisitor>(self, visitor: V) -> V::Output {
                match self { $(BinaryOp::$variant => visitor.visit::<binary_kernels::$variant>(),)* }
            }
        }

        /// One zero-sized kernel type per binary op (what [`BinaryOp::dispatch`] hands a
        /// visitor).
        pub mod binary_kernels {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[doc = $doc])*
                #[derive(Debug, Clone, Copy)]
                pub struct $variant;

                impl BinaryKernel for $variant {
                    const OP: BinaryOp = BinaryOp::$variant;
                    #[inline(always)]
                    fn float<F: Float>($fa: F, $fb: F) -> F {
                        $float
                    }
                    $(
                        #[inline(always)]
                        fn int($ia: i64, $ib: i64) -> i64 {
                            $int
                        }
                    )?
                }
            )*
        }

        impl<E: Element, B: Backend> NDArray<E, B> {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!("Element-wise with broadcasting, through [`BinaryOp::", stringify!($variant), "`].")]
                pub fn $method(&self, rhs: &Self) -> Result<Self> {
                    self.binary(BinaryOp::$variant, rhs)
                }
                #[doc = concat!("[`NDArray::", stringify!($method), "`] with a scalar right operand.")]
                pub fn $scalar_method(&self, rhs: E) -> Result<Self> {
                    self.binary_scalar(BinaryOp::$variant, rhs, ScalarSide::Right)
                }
            )*
        }
    };
}

/// The first of its arguments (how a table entry's optional field falls back to a default).
macro_rules! first {
    ($first:expr $(, $rest:expr)* $(,)?) => {
        $first
    };
}

/// `true`, whatever the argument (marks that an optional field was given).
macro_rules! yes {
    ($($t:tt)*) => {
        true
    };
}

pub(crate) use {binary_ops, first, unary_ops, yes};
