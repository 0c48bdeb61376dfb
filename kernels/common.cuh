// Shared helpers for nanotorch's kernels.
//
// A strided layout reaches a kernel as `rank`, the element `offset`, and one device array
// `dims` holding the shape followed by the strides (2 * rank 64-bit integers). Strides may be
// zero (broadcast axes) or negative; they are in elements, not bytes.
#pragma once

typedef long long i64;

// The storage index of the `linear`-th element (row-major over `shape`) of a strided layout.
__device__ __forceinline__ i64 strided_offset(i64 linear, int rank, const i64* dims, i64 offset) {
    i64 idx = offset;
    for (int d = rank - 1; d >= 0; --d) {
        i64 size = dims[d];
        i64 coord = linear % size;
        linear /= size;
        idx += coord * dims[rank + d];
    }
    return idx;
}

// A grid-stride loop over `n` items, 64-bit safe.
#define GRID_STRIDE_LOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n); \
         i += (i64)blockDim.x * gridDim.x)
