// Element-wise functions of one float argument, over any strided layout, writing a fresh
// contiguous result, instantiated for f32 and f64 behind extern "C" names `unary_<op>_<dtype>`.
//
// The ops and their device expressions come from the op table in ndarray-core
// (crates/ndarray-core/src/op/unary.rs), through generated/ops.cuh (`cargo xtask ptx`).
#include "common.cuh"
#include "math.cuh"
#include "generated/ops.cuh"

#define UNARY_OP(NAME, ...)                                                               \
    template <typename T> struct Op_##NAME {                                              \
        static __device__ __forceinline__ T apply(T x) {                                  \
            typedef Fns<T> F;                                                             \
            (void)sizeof(F);                                                              \
            return (__VA_ARGS__);                                                         \
        }                                                                                 \
    };
NANOTORCH_UNARY_OPS(UNARY_OP)

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
#define UNARY_BOTH(NAME, ...) UNARY_ENTRY(NAME, float, f32) UNARY_ENTRY(NAME, double, f64)

NANOTORCH_UNARY_OPS(UNARY_BOTH)
