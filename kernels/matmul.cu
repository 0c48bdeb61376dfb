// Batched strided matrix product, the teaching version: out[b] = lhs[b] · rhs[b] with lhs
// [batch, m, k] and rhs [batch, k, n] read through any strides (batch stride 0 broadcasts) and
// out a contiguous [batch, m, n].
//
//   matmul_<dt>(lhs, loff, ls0, ls1, ls2, rhs, roff, rs0, rs1, rs2, out, batch, m, k, n)
//
// Each 16×16 thread block computes one 16×16 tile of one output matrix. It walks the k
// dimension a tile at a time: every thread loads one element of the lhs tile and one of the
// rhs tile into shared memory, the block synchronises, and each thread accumulates its dot
// product from shared memory, so each global element is read once per tile instead of once
// per output. Out-of-range loads read 0. Batches beyond gridDim.z are covered by a loop.
#include "common.cuh"

#define TILE 16

template <typename T>
__device__ void matmul_kernel(const T* lhs, i64 loff, i64 ls0, i64 ls1, i64 ls2, const T* rhs,
                              i64 roff, i64 rs0, i64 rs1, i64 rs2, T* out, i64 batch, i64 m,
                              i64 k, i64 n) {
    __shared__ T a[TILE][TILE];
    __shared__ T b[TILE][TILE + 1];  // +1 avoids bank conflicts on the transposed read
    const int tx = threadIdx.x, ty = threadIdx.y;
    const i64 row = (i64)blockIdx.y * TILE + ty;
    const i64 col = (i64)blockIdx.x * TILE + tx;
    for (i64 z = blockIdx.z; z < batch; z += gridDim.z) {
        T acc = T(0);
        for (i64 t = 0; t < k; t += TILE) {
            i64 ak = t + tx, bk = t + ty;
            a[ty][tx] = (row < m && ak < k) ? lhs[loff + z * ls0 + row * ls1 + ak * ls2] : T(0);
            b[ty][tx] = (bk < k && col < n) ? rhs[roff + z * rs0 + bk * rs1 + col * rs2] : T(0);
            __syncthreads();
#pragma unroll
            for (int q = 0; q < TILE; ++q) acc += a[ty][q] * b[q][tx];
            __syncthreads();
        }
        if (row < m && col < n) out[(z * m + row) * n + col] = acc;
    }
}

#define MATMUL_ENTRY(T, S)                                                                      \
    extern "C" __global__ void matmul_##S(const T* lhs, i64 loff, i64 ls0, i64 ls1, i64 ls2,    \
                                          const T* rhs, i64 roff, i64 rs0, i64 rs1, i64 rs2,    \
                                          T* out, i64 batch, i64 m, i64 k, i64 n) {             \
        matmul_kernel<T>(lhs, loff, ls0, ls1, ls2, rhs, roff, rs0, rs1, rs2, out, batch, m, k, n); \
    }
MATMUL_ENTRY(float, f32)
MATMUL_ENTRY(double, f64)
