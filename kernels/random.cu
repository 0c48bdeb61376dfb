// Counter-based random fills, for f32 and f64: element i of a fill with seed s is a pure
// function of (s, i), the same function as `nanotorch_ndarray_core::random::sample_at`, so a
// GPU fill and a CPU fill with one seed hold the same numbers.
//
//   random_uniform_<dt>(out, n, seed, low, high)     low + (high - low) * u(i)
//   random_normal_<dt>(out, n, seed, mean, std)      Box-Muller on u(2i) and u(2i + 1)
//   random_bernoulli_<dt>(out, n, seed, p)           u(i) < p ? 1 : 0
//
// Every value is computed in f64 and then rounded to the element type, as on the host. The
// arithmetic uses the explicitly rounded intrinsics (__dmul_rn, __dadd_rn), which nvcc never
// contracts into fused multiply-adds: the CPU rounds after each operation, and so must we.
// Uniform and Bernoulli fills are therefore bit-identical to the CPU's. Normal fills go through
// the device's log and cos (at most 1 and 2 ulp from the exact result, while the host uses
// glibc's), so an f64 normal may differ from the CPU's in the last bit or two (relative
// difference around 1e-15); after rounding to f32 they agree except in rare ties.
#include "common.cuh"

typedef unsigned long long u64;

// SplitMix64's finaliser, as `random::splitmix64` (u64 arithmetic wraps, as `wrapping_*`).
__device__ __forceinline__ u64 splitmix64(u64 z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// `random::uniform_at`: 53 random bits scaled into [0, 1) (exact: a product by a power of two).
__device__ __forceinline__ double uniform_at(u64 seed, u64 i) {
    u64 bits = splitmix64(seed ^ splitmix64(i));
    return __dmul_rn((double)(bits >> 11), 1.0 / 9007199254740992.0);
}

template <typename T>
__device__ void uniform_kernel(T* out, i64 n, u64 seed, double low, double high) {
    const double span = __dadd_rn(high, -low);
    GRID_STRIDE_LOOP(i, n) { out[i] = (T)__dadd_rn(low, __dmul_rn(span, uniform_at(seed, (u64)i))); }
}

template <typename T>
__device__ void normal_kernel(T* out, i64 n, u64 seed, double mean, double std_) {
    const double tau = 6.283185307179586;  // std::f64::consts::TAU
    GRID_STRIDE_LOOP(i, n) {
        double u1 = __dadd_rn(1.0, -uniform_at(seed, 2 * (u64)i));  // in (0, 1]: log is finite
        double u2 = uniform_at(seed, 2 * (u64)i + 1);
        double r = sqrt(__dmul_rn(-2.0, log(u1)));
        double c = cos(__dmul_rn(tau, u2));
        out[i] = (T)__dadd_rn(mean, __dmul_rn(__dmul_rn(std_, r), c));
    }
}

template <typename T> __device__ void bernoulli_kernel(T* out, i64 n, u64 seed, double p) {
    GRID_STRIDE_LOOP(i, n) { out[i] = uniform_at(seed, (u64)i) < p ? T(1) : T(0); }
}

#define RANDOM_ENTRIES(T, S)                                                                  \
    extern "C" __global__ void random_uniform_##S(T* out, i64 n, u64 seed, double low,        \
                                                  double high) {                              \
        uniform_kernel<T>(out, n, seed, low, high);                                           \
    }                                                                                         \
    extern "C" __global__ void random_normal_##S(T* out, i64 n, u64 seed, double mean,        \
                                                 double std_) {                               \
        normal_kernel<T>(out, n, seed, mean, std_);                                           \
    }                                                                                         \
    extern "C" __global__ void random_bernoulli_##S(T* out, i64 n, u64 seed, double p) {      \
        bernoulli_kernel<T>(out, n, seed, p);                                                 \
    }

RANDOM_ENTRIES(float, f32)
RANDOM_ENTRIES(double, f64)
