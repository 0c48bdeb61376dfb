// Element-wise functions of one float argument, over any strided layout, writing a fresh
// contiguous result. One template per op, instantiated for f32 and f64 behind extern "C" names
// `unary_<op>_<dtype>` (the op names are `UnaryOp::name()` in ndarray-core).
//
// Each definition follows `UnaryOp::eval_f64`, the reference every backend must match.
#include "common.cuh"

template <typename T> struct Fns;
template <> struct Fns<float> {
    static __device__ float exp(float x) { return expf(x); }
    static __device__ float log(float x) { return logf(x); }
    static __device__ float log1p(float x) { return log1pf(x); }
    static __device__ float expm1(float x) { return expm1f(x); }
    static __device__ float sqrt(float x) { return sqrtf(x); }
    static __device__ float sin(float x) { return sinf(x); }
    static __device__ float cos(float x) { return cosf(x); }
    static __device__ float tanh(float x) { return tanhf(x); }
    static __device__ float erf(float x) { return erff(x); }
    static __device__ float floor(float x) { return floorf(x); }
    static __device__ float ceil(float x) { return ceilf(x); }
    static __device__ float rint(float x) { return rintf(x); }
    static __device__ float fabs(float x) { return fabsf(x); }
    static __device__ float fmax(float a, float b) { return fmaxf(a, b); }
};
template <> struct Fns<double> {
    static __device__ double exp(double x) { return ::exp(x); }
    static __device__ double log(double x) { return ::log(x); }
    static __device__ double log1p(double x) { return ::log1p(x); }
    static __device__ double expm1(double x) { return ::expm1(x); }
    static __device__ double sqrt(double x) { return ::sqrt(x); }
    static __device__ double sin(double x) { return ::sin(x); }
    static __device__ double cos(double x) { return ::cos(x); }
    static __device__ double tanh(double x) { return ::tanh(x); }
    static __device__ double erf(double x) { return ::erf(x); }
    static __device__ double floor(double x) { return ::floor(x); }
    static __device__ double ceil(double x) { return ::ceil(x); }
    static __device__ double rint(double x) { return ::rint(x); }
    static __device__ double fabs(double x) { return ::fabs(x); }
    static __device__ double fmax(double a, double b) { return ::fmax(a, b); }
};

template <typename T> __device__ __forceinline__ T sigmoid(T x) {
    return T(1) / (T(1) + Fns<T>::exp(-x));
}

#define UNARY_OP(NAME, EXPR)                                                              \
    template <typename T> struct Op_##NAME {                                              \
        static __device__ __forceinline__ T apply(T x) {                                  \
            typedef Fns<T> F;                                                             \
            (void)sizeof(F);                                                              \
            return (EXPR);                                                                \
        }                                                                                 \
    };

UNARY_OP(neg, -x)
UNARY_OP(exp, F::exp(x))
UNARY_OP(log, F::log(x))
UNARY_OP(log1p, F::log1p(x))
UNARY_OP(expm1, F::expm1(x))
UNARY_OP(sqrt, F::sqrt(x))
UNARY_OP(rsqrt, T(1) / F::sqrt(x))
UNARY_OP(recip, T(1) / x)
UNARY_OP(square, x * x)
UNARY_OP(abs, F::fabs(x))
UNARY_OP(sign, x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0)))
UNARY_OP(sin, F::sin(x))
UNARY_OP(cos, F::cos(x))
UNARY_OP(tanh, F::tanh(x))
UNARY_OP(sigmoid, sigmoid<T>(x))
UNARY_OP(relu, F::fmax(x, T(0)))
UNARY_OP(gelu_erf, T(0.5) * x * (T(1) + F::erf(x * T(0.70710678118654752440))))
UNARY_OP(gelu_tanh, T(0.5) * x *
                        (T(1) + F::tanh(T(0.79788456080286535588) * (x + T(0.044715) * x * x * x))))
UNARY_OP(silu, x * sigmoid<T>(x))
UNARY_OP(softplus, x > T(20) ? x : F::log1p(F::exp(x)))
UNARY_OP(erf, F::erf(x))
UNARY_OP(floor, F::floor(x))
UNARY_OP(ceil, F::ceil(x))
UNARY_OP(round, F::rint(x))  // rint rounds half to even, like f64::round_ties_even

// out[i] = op(x[layout(i)]) for i in 0..n. `contiguous` skips the index arithmetic.
template <typename Op, typename T>
__device__ void unary_kernel(const T* x, T* out, i64 n, int rank, const i64* dims, i64 offset,
                             int contiguous) {
    if (contiguous) {
        GRID_STRIDE_LOOP(i, n) { out[i] = Op::apply(x[offset + i]); }
    } else {
        GRID_STRIDE_LOOP(i, n) { out[i] = Op::apply(x[strided_offset(i, rank, dims, offset)]); }
    }
}

#define UNARY_ENTRY(NAME, T, SUFFIX)                                                        \
    extern "C" __global__ void unary_##NAME##_##SUFFIX(const T* x, T* out, i64 n, int rank, \
                                                       const i64* dims, i64 offset,         \
                                                       int contiguous) {                    \
        unary_kernel<Op_##NAME<T>, T>(x, out, n, rank, dims, offset, contiguous);           \
    }
#define UNARY_BOTH(NAME) UNARY_ENTRY(NAME, float, f32) UNARY_ENTRY(NAME, double, f64)

UNARY_BOTH(neg)
UNARY_BOTH(exp)
UNARY_BOTH(log)
UNARY_BOTH(log1p)
UNARY_BOTH(expm1)
UNARY_BOTH(sqrt)
UNARY_BOTH(rsqrt)
UNARY_BOTH(recip)
UNARY_BOTH(square)
UNARY_BOTH(abs)
UNARY_BOTH(sign)
UNARY_BOTH(sin)
UNARY_BOTH(cos)
UNARY_BOTH(tanh)
UNARY_BOTH(sigmoid)
UNARY_BOTH(relu)
UNARY_BOTH(gelu_erf)
UNARY_BOTH(gelu_tanh)
UNARY_BOTH(silu)
UNARY_BOTH(softplus)
UNARY_BOTH(erf)
UNARY_BOTH(floor)
UNARY_BOTH(ceil)
UNARY_BOTH(round)
