// Reductions over any set of axes (ReduceOp in ndarray-core), for f32, f64 and i64.
//
//   reduce_<op>_<dt>(x, out, n_out, rank, kdims, offset, rrank, rdims, n_red)
//   reduce_blocks_<op>_<dt>(x, out, n_out, rank, kdims, offset, rrank, rdims, n_red, chunks)
//
// The host splits the input layout in two: `kdims` is the layout with every reduced axis set
// to size 1 (shape then strides, `rank` axes), which maps output element i to the storage
// offset of its first input; `rdims` is the reduced axes alone (shape then strides, `rrank`
// axes, `n_red` elements). reduce_<op>_<dt>: one thread folds one output element, in row-major
// order over the reduced axes (many outputs, each over few or strided elements: a warp's loads
// are then adjacent). reduce_blocks_<op>_<dt> below: a block per output, or per chunk of one
// (few outputs, or rows of contiguous elements).
//
// Sum/prod wrap for i64; max/min propagate NaN; an empty set gives the identity
// (0, 1, -inf / i64::MIN, +inf / i64::MAX), as `ReduceOp::identity`.
#include "common.cuh"

template <typename T> struct Lim;
template <> struct Lim<float> {
    static __device__ float lo() { return -__int_as_float(0x7f800000); }
    static __device__ float hi() { return __int_as_float(0x7f800000); }
};
template <> struct Lim<double> {
    static __device__ double lo() { return -__longlong_as_double(0x7ff0000000000000ll); }
    static __device__ double hi() { return __longlong_as_double(0x7ff0000000000000ll); }
};
template <> struct Lim<i64> {
    static __device__ i64 lo() { return (i64)0x8000000000000000ull; }
    static __device__ i64 hi() { return 0x7fffffffffffffffll; }
};

template <typename T> __device__ __forceinline__ T r_add(T a, T b) { return a + b; }
template <> __device__ __forceinline__ i64 r_add<i64>(i64 a, i64 b) {
    return (i64)((unsigned long long)a + (unsigned long long)b);
}
template <typename T> __device__ __forceinline__ T r_mul(T a, T b) { return a * b; }
template <> __device__ __forceinline__ i64 r_mul<i64>(i64 a, i64 b) {
    return (i64)((unsigned long long)a * (unsigned long long)b);
}
// NaN-propagating max/min (`a != a` is false for integers).
template <typename T> __device__ __forceinline__ T r_max(T a, T b) {
    return (a != a || b != b) ? a + b : (a > b ? a : b);
}
template <typename T> __device__ __forceinline__ T r_min(T a, T b) {
    return (a != a || b != b) ? a + b : (a < b ? a : b);
}

template <typename T> struct Sum {
    static __device__ T init() { return T(0); }
    static __device__ T combine(T a, T b) { return r_add(a, b); }
};
template <typename T> struct Prod {
    static __device__ T init() { return T(1); }
    static __device__ T combine(T a, T b) { return r_mul(a, b); }
};
template <typename T> struct Max {
    static __device__ T init() { return Lim<T>::lo(); }
    static __device__ T combine(T a, T b) { return r_max(a, b); }
};
template <typename T> struct Min {
    static __device__ T init() { return Lim<T>::hi(); }
    static __device__ T combine(T a, T b) { return r_min(a, b); }
};

template <typename Op, typename T>
__device__ void reduce_kernel(const T* x, T* out, i64 n_out, int rank, const i64* kdims,
                              i64 offset, int rrank, const i64* rdims, i64 n_red) {
    GRID_STRIDE_LOOP(i, n_out) {
        i64 base = strided_offset(i, rank, kdims, offset);
        T acc = Op::init();
        for (i64 j = 0; j < n_red; ++j) {
            acc = Op::combine(acc, x[base + strided_offset(j, rrank, rdims, 0)]);
        }
        out[i] = acc;
    }
}

// One block of REDUCE_BLOCK threads per (output element, chunk of its reduced elements), for
// outputs with many reduced elements: thread t folds the elements chunk·REDUCE_BLOCK + t,
// stepping by chunks·REDUCE_BLOCK, in order; the block then combines its partials in a fixed
// tree and writes out[output·chunks + chunk]. With chunks > 1 the host runs it again over those
// partials. The order depends only on the sizes, so every run gives the same bits. A single
// reduced axis of stride s is read at j·s, without strided_offset's divisions.
#define REDUCE_BLOCK 256
template <typename Op, typename T>
__device__ void reduce_blocks_kernel(const T* x, T* out, i64 n_out, int rank, const i64* kdims,
                                     i64 offset, int rrank, const i64* rdims, i64 n_red,
                                     i64 chunks) {
    __shared__ T part[REDUCE_BLOCK];
    for (i64 b = blockIdx.x; b < n_out * chunks; b += gridDim.x) {
        i64 i = b / chunks, c = b % chunks;
        i64 base = strided_offset(i, rank, kdims, offset);
        T acc = Op::init();
        for (i64 j = c * REDUCE_BLOCK + threadIdx.x; j < n_red; j += chunks * REDUCE_BLOCK) {
            i64 at = rrank == 1 ? j * rdims[1] : strided_offset(j, rrank, rdims, 0);
            acc = Op::combine(acc, x[base + at]);
        }
        part[threadIdx.x] = acc;
        __syncthreads();
        for (int w = REDUCE_BLOCK / 2; w > 0; w /= 2) {
            if (threadIdx.x < w) part[threadIdx.x] = Op::combine(part[threadIdx.x], part[threadIdx.x + w]);
            __syncthreads();
        }
        if (threadIdx.x == 0) out[b] = part[0];
        __syncthreads();
    }
}

#define REDUCE_ENTRY(NAME, OP, T, S)                                                          \
    extern "C" __global__ void reduce_##NAME##_##S(const T* x, T* out, i64 n_out, int rank,   \
                                                   const i64* kdims, i64 offset, int rrank,   \
                                                   const i64* rdims, i64 n_red) {             \
        reduce_kernel<OP<T>, T>(x, out, n_out, rank, kdims, offset, rrank, rdims, n_red);     \
    }                                                                                         \
    extern "C" __global__ void reduce_blocks_##NAME##_##S(                                    \
        const T* x, T* out, i64 n_out, int rank, const i64* kdims, i64 offset, int rrank,     \
        const i64* rdims, i64 n_red, i64 chunks) {                                            \
        reduce_blocks_kernel<OP<T>, T>(x, out, n_out, rank, kdims, offset, rrank, rdims,      \
                                       n_red, chunks);                                        \
    }
#define REDUCE_ALL(NAME, OP) \
    REDUCE_ENTRY(NAME, OP, float, f32) REDUCE_ENTRY(NAME, OP, double, f64) REDUCE_ENTRY(NAME, OP, i64, i64)

REDUCE_ALL(sum, Sum)
REDUCE_ALL(prod, Prod)
REDUCE_ALL(max, Max)
REDUCE_ALL(min, Min)
