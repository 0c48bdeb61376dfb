// Fills, strided copies and casts, for f32, f64 and i64.
//
//   full_<dt>(out, n, value)                      out[i] = value
//   arange_<dt>(out, n, start, step)              out[i] = (T)(start + step * i), computed in f64
//   copy_strided_<dt>(src, out, n, rank, dims, offset)
//                                                 out[i] = src[layout(i)]
//   assign_<dt>(dst, n, rank, ddims, doff, src, sdims, soff)
//                                                 dst[d(i)] = src[s(i)]
//   cast_<from>_<to>(src, out, n, rank, dims, offset, contiguous)
//                                                 out[i] = (To)(double)src[layout(i)]
//
// Conversions follow Rust's `as`: float to integer truncates toward zero, saturates at the
// integer range and maps NaN to 0, which is what PTX's cvt.rzi does.
#include "common.cuh"

template <typename T> __device__ void full_kernel(T* out, i64 n, T value) {
    GRID_STRIDE_LOOP(i, n) { out[i] = value; }
}

template <typename T> __device__ void arange_kernel(T* out, i64 n, double start, double step) {
    // Rounded product, then rounded sum, as the CPU backend computes it: nvcc would contract
    // `start + step * i` into one FMA, and an integer arange truncates the result, so a value
    // just under an integer (-3 + 10·0.7 is 3.9999999999999996 with one rounding, 4.0 with
    // two) became 3 on the GPU and 4 on the CPU.
    GRID_STRIDE_LOOP(i, n) { out[i] = (T)__dadd_rn(start, __dmul_rn(step, (double)i)); }
}

template <typename T>
__device__ void copy_strided_kernel(const T* src, T* out, i64 n, int rank, const i64* dims,
                                    i64 offset) {
    GRID_STRIDE_LOOP(i, n) { out[i] = src[strided_offset(i, rank, dims, offset)]; }
}

template <typename From, typename To>
__device__ void cast_kernel(const From* src, To* out, i64 n, int rank, const i64* dims,
                            i64 offset, int contiguous) {
    if (contiguous) {
        GRID_STRIDE_LOOP(i, n) { out[i] = (To)(double)src[offset + i]; }
    } else {
        GRID_STRIDE_LOOP(i, n) { out[i] = (To)(double)src[strided_offset(i, rank, dims, offset)]; }
    }
}

#define FILL_COPY_ENTRIES(T, SUFFIX)                                                          \
    extern "C" __global__ void full_##SUFFIX(T* out, i64 n, T value) {                        \
        full_kernel<T>(out, n, value);                                                        \
    }                                                                                         \
    extern "C" __global__ void arange_##SUFFIX(T* out, i64 n, double start, double step) {    \
        arange_kernel<T>(out, n, start, step);                                                \
    }                                                                                         \
    extern "C" __global__ void assign_##SUFFIX(T* dst, i64 n, int rank, const i64* ddims,     \
                                               i64 doff, const T* src, const i64* sdims,      \
                                               i64 soff) {                                    \
        GRID_STRIDE_LOOP(i, n) {                                                              \
            dst[strided_offset(i, rank, ddims, doff)] = src[strided_offset(i, rank, sdims, soff)]; \
        }                                                                                     \
    }                                                                                         \
    extern "C" __global__ void copy_strided_##SUFFIX(const T* src, T* out, i64 n, int rank,   \
                                                     const i64* dims, i64 offset) {           \
        copy_strided_kernel<T>(src, out, n, rank, dims, offset);                              \
    }

FILL_COPY_ENTRIES(float, f32)
FILL_COPY_ENTRIES(double, f64)
FILL_COPY_ENTRIES(i64, i64)

#define CAST_ENTRY(FROM, FS, TO, TS)                                                          \
    extern "C" __global__ void cast_##FS##_##TS(const FROM* src, TO* out, i64 n, int rank,    \
                                                const i64* dims, i64 offset, int contiguous) { \
        cast_kernel<FROM, TO>(src, out, n, rank, dims, offset, contiguous);                   \
    }

// Same-type casts are bit-exact copies (copy_strided), so only the six mixed pairs exist.
CAST_ENTRY(float, f32, double, f64)
CAST_ENTRY(float, f32, i64, i64)
CAST_ENTRY(double, f64, float, f32)
CAST_ENTRY(double, f64, i64, i64)
CAST_ENTRY(i64, i64, float, f32)
CAST_ENTRY(i64, i64, double, f64)
