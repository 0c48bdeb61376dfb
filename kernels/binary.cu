// Element-wise functions of two arguments (BinaryOp in ndarray-core) for f32, f64 and i64
// (float-only ops such as atan2: f32 and f64). The ops and their device expressions come from
// the op table (crates/ndarray-core/src/op/binary.rs) through generated/ops.cuh,
// over strided and broadcast (stride-0) layouts. Each op follows `BinaryOp::eval`:
// integer add/sub/mul wrap, integer division truncates and gives 0 for a zero divisor, integer
// pow multiplies (negative exponents give 0 or ±1), float maximum/minimum propagate NaN, and
// comparisons give 1 or 0 in the operands' type.
//
//   binary_<op>_<dt>(lhs, rhs, out, n, rank, ldims, loff, rdims, roff)
//       out[i] = op(lhs[l(i)], rhs[r(i)])
//   binary_scalar_<op>_<dt>(x, out, n, rank, dims, off, scalar, left)
//       out[i] = left ? op(scalar, x[l(i)]) : op(x[l(i)], scalar)
//   binary_inplace_<op>_<dt>(dst, n, rank, ddims, doff, rhs, rdims, roff)
//       dst[d(i)] = op(dst[d(i)], rhs[r(i)])       (dst must not overlap itself)
//   scalar_inplace_<op>_<dt>(dst, n, rank, ddims, doff, scalar)
//       dst[d(i)] = op(dst[d(i)], scalar)
#include "common.cuh"
#include "math.cuh"
#include "generated/ops.cuh"

template <typename T> struct Arith {
    static __device__ T add(T a, T b) { return a + b; }
    static __device__ T sub(T a, T b) { return a - b; }
    static __device__ T mul(T a, T b) { return a * b; }
    static __device__ T div(T a, T b) { return a / b; }
    static __device__ T pow(T a, T b);
    static __device__ T maximum(T a, T b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
    static __device__ T minimum(T a, T b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }
};
template <> __device__ float Arith<float>::pow(float a, float b) { return powf(a, b); }
template <> __device__ double Arith<double>::pow(double a, double b) { return ::pow(a, b); }

template <> struct Arith<i64> {
    typedef unsigned long long u64;
    static __device__ i64 add(i64 a, i64 b) { return (i64)((u64)a + (u64)b); }
    static __device__ i64 sub(i64 a, i64 b) { return (i64)((u64)a - (u64)b); }
    static __device__ i64 mul(i64 a, i64 b) { return (i64)((u64)a * (u64)b); }
    static __device__ i64 div(i64 a, i64 b) {
        if (b == 0) return 0;
        if (b == -1) return (i64)(0ull - (u64)a);  // wrapping: i64::MIN / -1 == i64::MIN
        return a / b;
    }
    static __device__ i64 pow(i64 a, i64 b) {
        if (b < 0) {
            if (a == 1) return 1;
            if (a == -1) return (b % 2 == 0) ? 1 : -1;
            return 0;
        }
        u64 e = b > 0xffffffffll ? 0xffffffffull : (u64)b;
        u64 base = (u64)a, acc = 1;
        while (e) {
            if (e & 1) acc *= base;
            base *= base;
            e >>= 1;
        }
        return (i64)acc;
    }
    static __device__ i64 maximum(i64 a, i64 b) { return a > b ? a : b; }
    static __device__ i64 minimum(i64 a, i64 b) { return a < b ? a : b; }
};

// Table ops defined on every element type, and float-only ones (which may use `F::`).
#define BINARY_OP(NAME, ...)                                                          \
    template <typename T> struct Bin_##NAME {                                         \
        static __device__ __forceinline__ T apply(T a, T b) { return (__VA_ARGS__); } \
    };
#define BINARY_OP_FLOAT(NAME, ...)                                                    \
    template <typename T> struct Bin_##NAME {                                         \
        static __device__ __forceinline__ T apply(T a, T b) {                         \
            typedef Fns<T> F;                                                         \
            (void)sizeof(F);                                                          \
            return (__VA_ARGS__);                                                     \
        }                                                                             \
    };
NANOTORCH_BINARY_OPS(BINARY_OP)
NANOTORCH_BINARY_OPS_FLOAT_ONLY(BINARY_OP_FLOAT)

#define BINARY_ENTRIES(NAME, T, S)                                                               \
    extern "C" __global__ void binary_##NAME##_##S(const T* lhs, const T* rhs, T* out, i64 n,    \
                                                   int rank, const i64* ldims, i64 loff,         \
                                                   const i64* rdims, i64 roff) {                 \
        GRID_STRIDE_LOOP(i, n) {                                                                 \
            out[i] = Bin_##NAME<T>::apply(lhs[strided_offset(i, rank, ldims, loff)],             \
                                          rhs[strided_offset(i, rank, rdims, roff)]);            \
        }                                                                                        \
    }                                                                                            \
    extern "C" __global__ void binary_scalar_##NAME##_##S(const T* x, T* out, i64 n, int rank,   \
                                                          const i64* dims, i64 off, T scalar,    \
                                                          int left) {                            \
        GRID_STRIDE_LOOP(i, n) {                                                                 \
            T v = x[strided_offset(i, rank, dims, off)];                                         \
            out[i] = left ? Bin_##NAME<T>::apply(scalar, v) : Bin_##NAME<T>::apply(v, scalar);   \
        }                                                                                        \
    }                                                                                            \
    extern "C" __global__ void binary_inplace_##NAME##_##S(T* dst, i64 n, int rank,              \
                                                           const i64* ddims, i64 doff,           \
                                                           const T* rhs, const i64* rdims,       \
                                                           i64 roff) {                           \
        GRID_STRIDE_LOOP(i, n) {                                                                 \
            i64 d = strided_offset(i, rank, ddims, doff);                                        \
            dst[d] = Bin_##NAME<T>::apply(dst[d], rhs[strided_offset(i, rank, rdims, roff)]);    \
        }                                                                                        \
    }                                                                                            \
    extern "C" __global__ void scalar_inplace_##NAME##_##S(T* dst, i64 n, int rank,              \
                                                           const i64* ddims, i64 doff,           \
                                                           T scalar) {                           \
        GRID_STRIDE_LOOP(i, n) {                                                                 \
            i64 d = strided_offset(i, rank, ddims, doff);                                        \
            dst[d] = Bin_##NAME<T>::apply(dst[d], scalar);                                       \
        }                                                                                        \
    }
#define BINARY_ALL(NAME, ...) \
    BINARY_ENTRIES(NAME, float, f32) BINARY_ENTRIES(NAME, double, f64) BINARY_ENTRIES(NAME, i64, i64)
#define BINARY_FLOATS(NAME, ...) BINARY_ENTRIES(NAME, float, f32) BINARY_ENTRIES(NAME, double, f64)
NANOTORCH_BINARY_OPS(BINARY_ALL)
NANOTORCH_BINARY_OPS_FLOAT_ONLY(BINARY_FLOATS)

// where_<dt>(cond, t, f, out, n, rank, cdims, coff, tdims, toff, fdims, foff)
//     out[i] = cond[c(i)] != 0 ? t[t(i)] : f[f(i)]      (NaN counts as true, as on the CPU)
#define WHERE_ENTRY(T, S)                                                                       \
    extern "C" __global__ void where_##S(const T* cond, const T* t, const T* f, T* out, i64 n,  \
                                         int rank, const i64* cdims, i64 coff, const i64* tdims, \
                                         i64 toff, const i64* fdims, i64 foff) {                 \
        GRID_STRIDE_LOOP(i, n) {                                                                \
            out[i] = cond[strided_offset(i, rank, cdims, coff)] != T(0)                         \
                         ? t[strided_offset(i, rank, tdims, toff)]                              \
                         : f[strided_offset(i, rank, fdims, foff)];                             \
        }                                                                                       \
    }
WHERE_ENTRY(float, f32)
WHERE_ENTRY(double, f64)
WHERE_ENTRY(i64, i64)
