// im2col and col2im for 2-D (and, with a height-1 image and kernel, 1-D) convolutions, f32 and
// f64, with stride, zero padding and dilation; the layouts are exactly the CPU backend's.
//
//   im2col_<dt>(x, out, n_out, xoff, xs0, xs1, xs2, xs3, c, h, w, kh, kw, oh, ow,
//               sh, sw, ph, pw, dh, dw)
//       x is [n, c, h, w] read through any strides; out is a contiguous [n, c·kh·kw, oh·ow].
//       Output element i decodes, row-major, into (n, c, ki, kj, oy, ox) and reads the tap
//       (oy·sh + ki·dh − ph, ox·sw + kj·dw − pw), or 0 in the padding. One thread per output.
//   col2im_<dt>(cols, out, n_out, coff, cs0, cs1, cs2, c, h, w, kh, kw, oh, ow,
//               sh, sw, ph, pw, dh, dw)
//       cols is [n, c·kh·kw, oh·ow] read through any strides; out is a contiguous [n, c, h, w].
//       The adjoint, written as a gather so that no atomics are needed: one thread per image
//       pixel (y, x) sums, for each tap (ki, kj) in row-major order, the one column entry whose
//       window position (oy, ox) reads that pixel, if any (oy·sh = y + ph − ki·dh must divide
//       evenly and land in 0..oh). The CPU adds the same terms in the same order, starting from
//       0, so the sums agree bit for bit.
#include "common.cuh"

// The window position along one axis whose tap k reads input coordinate y, or -1.
__device__ __forceinline__ i64 window_pos(i64 y, i64 k, i64 s, i64 p, i64 d, i64 o) {
    i64 t = y + p - k * d;
    if (t < 0 || t % s != 0) return -1;
    t /= s;
    return t < o ? t : -1;
}

template <typename T>
__device__ void im2col_kernel(const T* x, T* out, i64 n_out, i64 xoff, i64 xs0, i64 xs1,
                              i64 xs2, i64 xs3, i64 c, i64 h, i64 w, i64 kh, i64 kw, i64 oh,
                              i64 ow, i64 sh, i64 sw, i64 ph, i64 pw, i64 dh, i64 dw) {
    GRID_STRIDE_LOOP(i, n_out) {
        i64 r = i;
        const i64 ox = r % ow; r /= ow;
        const i64 oy = r % oh; r /= oh;
        const i64 kj = r % kw; r /= kw;
        const i64 ki = r % kh; r /= kh;
        const i64 ci = r % c;
        const i64 ni = r / c;
        const i64 y = oy * sh + ki * dh - ph;
        const i64 xx = ox * sw + kj * dw - pw;
        T v = T(0);
        if (y >= 0 && y < h && xx >= 0 && xx < w) {
            v = x[xoff + ni * xs0 + ci * xs1 + y * xs2 + xx * xs3];
        }
        out[i] = v;
    }
}

template <typename T>
__device__ void col2im_kernel(const T* cols, T* out, i64 n_out, i64 coff, i64 cs0, i64 cs1,
                              i64 cs2, i64 c, i64 h, i64 w, i64 kh, i64 kw, i64 oh, i64 ow,
                              i64 sh, i64 sw, i64 ph, i64 pw, i64 dh, i64 dw) {
    GRID_STRIDE_LOOP(i, n_out) {
        i64 r = i;
        const i64 xx = r % w; r /= w;
        const i64 y = r % h; r /= h;
        const i64 ci = r % c;
        const i64 ni = r / c;
        T acc = T(0);
        for (i64 ki = 0; ki < kh; ++ki) {
            const i64 oy = window_pos(y, ki, sh, ph, dh, oh);
            if (oy < 0) continue;
            for (i64 kj = 0; kj < kw; ++kj) {
                const i64 ox = window_pos(xx, kj, sw, pw, dw, ow);
                if (ox < 0) continue;
                const i64 row = (ci * kh + ki) * kw + kj;
                acc = acc + cols[coff + ni * cs0 + row * cs1 + (oy * ow + ox) * cs2];
            }
        }
        out[i] = acc;
    }
}

#define IM2COL_ENTRIES(T, S)                                                                  \
    extern "C" __global__ void im2col_##S(const T* x, T* out, i64 n_out, i64 xoff, i64 xs0,   \
                                          i64 xs1, i64 xs2, i64 xs3, i64 c, i64 h, i64 w,     \
                                          i64 kh, i64 kw, i64 oh, i64 ow, i64 sh, i64 sw,     \
                                          i64 ph, i64 pw, i64 dh, i64 dw) {                   \
        im2col_kernel<T>(x, out, n_out, xoff, xs0, xs1, xs2, xs3, c, h, w, kh, kw, oh, ow,    \
                         sh, sw, ph, pw, dh, dw);                                             \
    }                                                                                         \
    extern "C" __global__ void col2im_##S(const T* cols, T* out, i64 n_out, i64 coff,         \
                                          i64 cs0, i64 cs1, i64 cs2, i64 c, i64 h, i64 w,     \
                                          i64 kh, i64 kw, i64 oh, i64 ow, i64 sh, i64 sw,     \
                                          i64 ph, i64 pw, i64 dh, i64 dw) {                   \
        col2im_kernel<T>(cols, out, n_out, coff, cs0, cs1, cs2, c, h, w, kh, kw, oh, ow, sh,  \
                         sw, ph, pw, dh, dw);                                                 \
    }

IM2COL_ENTRIES(float, f32)
IM2COL_ENTRIES(double, f64)
