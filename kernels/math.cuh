// Float math for the op tables' device expressions: `F::exp(x)` and friends, with `F` the
// `Fns<T>` of the element type, so one expression serves f32 and f64.
#pragma once

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
    static __device__ float atan2(float a, float b) { return atan2f(a, b); }
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
    static __device__ double atan2(double a, double b) { return ::atan2(a, b); }
};
