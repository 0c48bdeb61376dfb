// Indexing along one axis: gather, scatter-add and index-select, for f32, f64 and i64, plus the
// index check that runs before them.
//
//   index_check(index, n, rank, idims, ioff, size, bad)
//       For every element of the index layout (shape then strides in `idims`) outside
//       0..size, atomicMin(bad, its row-major position). The host starts `bad` at u64::MAX, reads
//       it back after the launch and turns anything else into Error::IndexOutOfBounds naming the
//       first offending index, as the CPU does; only then does it launch the kernels below, which
//       can therefore trust every index (no out-of-bounds access, and an error leaves a
//       scatter-add destination untouched).
//   gather_<dt>(src, out, n, rank, idims, ioff, index, vdims, voff, axis_stride)
//       out[i] = src[view(i) + index[idx(i)] * axis_stride], where `vdims` is the source's
//       strides over the index's shape with the axis stride set to 0 (the "same position with
//       the axis coordinate 0").
//   scatter_add_<dt>(dst, n, rank, idims, ioff, index, sdims, soff, src, vdims, voff, axis_stride)
//       dst[view(i) + index[idx(i)] * axis_stride] += src[s(i)], with atomicAdd because several
//       i may hit one destination. The order of those additions is not fixed, so a float
//       scatter-add may round differently from the CPU's sequential one; integer (i64, wrapping)
//       sums are exact. f64 atomicAdd needs sm_60, i64 goes through unsigned long long.
//   index_select_<dt>(src, out, n, rank, vdims, voff, index, ioff, istride, inner, nidx,
//                     axis_stride)
//       out[i] = src[view(i) + index[ioff + j * istride] * axis_stride] with
//       j = (i / inner) % nidx, the output's coordinate on the axis (`inner` is the product of
//       the sizes after the axis, `nidx` the length of the 1-D index).
#include "common.cuh"

typedef unsigned long long u64;

extern "C" __global__ void index_check(const i64* index, i64 n, int rank, const i64* idims,
                                       i64 ioff, i64 size, u64* bad) {
    GRID_STRIDE_LOOP(i, n) {
        i64 v = index[strided_offset(i, rank, idims, ioff)];
        if (v < 0 || v >= size) atomicMin(bad, (u64)i);
    }
}

template <typename T> __device__ __forceinline__ void add_to(T* p, T v) { atomicAdd(p, v); }
template <> __device__ __forceinline__ void add_to<i64>(i64* p, i64 v) {
    atomicAdd((u64*)p, (u64)v);  // two's complement: wrapping, as i64::wrapping_add
}

#define INDEX_ENTRIES(T, S)                                                                   \
    extern "C" __global__ void gather_##S(const T* src, T* out, i64 n, int rank,              \
                                          const i64* idims, i64 ioff, const i64* index,       \
                                          const i64* vdims, i64 voff, i64 axis_stride) {      \
        GRID_STRIDE_LOOP(i, n) {                                                              \
            i64 k = index[strided_offset(i, rank, idims, ioff)];                              \
            out[i] = src[strided_offset(i, rank, vdims, voff) + k * axis_stride];             \
        }                                                                                     \
    }                                                                                         \
    extern "C" __global__ void scatter_add_##S(T* dst, i64 n, int rank, const i64* idims,     \
                                               i64 ioff, const i64* index, const i64* sdims,  \
                                               i64 soff, const T* src, const i64* vdims,      \
                                               i64 voff, i64 axis_stride) {                   \
        GRID_STRIDE_LOOP(i, n) {                                                              \
            i64 k = index[strided_offset(i, rank, idims, ioff)];                              \
            add_to<T>(&dst[strided_offset(i, rank, vdims, voff) + k * axis_stride],           \
                      src[strided_offset(i, rank, sdims, soff)]);                             \
        }                                                                                     \
    }                                                                                         \
    extern "C" __global__ void index_select_##S(const T* src, T* out, i64 n, int rank,        \
                                                const i64* vdims, i64 voff, const i64* index, \
                                                i64 ioff, i64 istride, i64 inner, i64 nidx,   \
                                                i64 axis_stride) {                            \
        GRID_STRIDE_LOOP(i, n) {                                                              \
            i64 j = (i / inner) % nidx;                                                       \
            i64 k = index[ioff + j * istride];                                                \
            out[i] = src[strided_offset(i, rank, vdims, voff) + k * axis_stride];             \
        }                                                                                     \
    }

INDEX_ENTRIES(float, f32)
INDEX_ENTRIES(double, f64)
INDEX_ENTRIES(i64, i64)
