// Index of the extreme value along one axis (ArgReduceOp in ndarray-core), for f32, f64 and i64.
//
//   arg_reduce_<argmax|argmin>_<dt>(x, out, n_out, rank, odims, offset, len, stride)
//
// The host removes the reduced axis from the input layout: `odims` is what is left (shape then
// strides, `rank` axes), mapping output element i to the storage offset of the first element of
// its row; the row has `len` (> 0) elements `stride` apart. One thread scans one row, as the CPU
// does: the first occurrence of the extreme wins, and a NaN counts as the extreme (the first NaN
// wins; `v != v` is false for integers).
#include "common.cuh"

struct ArgMax {
    template <typename T> static __device__ __forceinline__ bool better(T cand, T best) {
        return cand > best;
    }
};
struct ArgMin {
    template <typename T> static __device__ __forceinline__ bool better(T cand, T best) {
        return cand < best;
    }
};

template <typename Op, typename T>
__device__ void arg_reduce_kernel(const T* x, i64* out, i64 n_out, int rank, const i64* odims,
                                  i64 offset, i64 len, i64 stride) {
    GRID_STRIDE_LOOP(i, n_out) {
        const i64 base = strided_offset(i, rank, odims, offset);
        T best = x[base];
        i64 idx = 0;
        if (!(best != best)) {
            for (i64 j = 1; j < len; ++j) {
                T v = x[base + j * stride];
                if (v != v) {
                    idx = j;
                    break;
                }
                if (Op::better(v, best)) {
                    best = v;
                    idx = j;
                }
            }
        }
        out[i] = idx;
    }
}

#define ARG_ENTRY(NAME, OP, T, S)                                                             \
    extern "C" __global__ void arg_reduce_##NAME##_##S(const T* x, i64* out, i64 n_out,       \
                                                       int rank, const i64* odims, i64 offset, \
                                                       i64 len, i64 stride) {                 \
        arg_reduce_kernel<OP, T>(x, out, n_out, rank, odims, offset, len, stride);            \
    }
#define ARG_ALL(NAME, OP) \
    ARG_ENTRY(NAME, OP, float, f32) ARG_ENTRY(NAME, OP, double, f64) ARG_ENTRY(NAME, OP, i64, i64)

ARG_ALL(argmax, ArgMax)
ARG_ALL(argmin, ArgMin)
