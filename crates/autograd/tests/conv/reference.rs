//! Naive references for the convolution tests, written plainly from PyTorch's documented
//! definitions (loops over every index, no shared code with the library).

use nanotorch_autograd::PadMode;

/// Row-major strides of `dims`.
pub fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// `F.pad` by its definition: each output position reads the input position it mirrors,
/// repeats or wraps to, or `value` outside the input in constant mode.
pub fn pad_reference(
    x: &[f64],
    dims: &[usize],
    pad: &[isize],
    mode: PadMode,
    value: f64,
) -> (Vec<usize>, Vec<f64>) {
    let rank = dims.len();
    let mut before = vec![0isize; rank];
    let mut out_dims = dims.to_vec();
    for (i, pair) in pad.chunks(2).enumerate() {
        let axis = rank - 1 - i;
        before[axis] = pair[0];
        out_dims[axis] = (dims[axis] as isize + pair[0] + pair[1]) as usize;
    }
    let (in_strides, out_strides) = (strides(dims), strides(&out_dims));
    let total: usize = out_dims.iter().product();
    let mut out = Vec::with_capacity(total);
    'element: for flat in 0..total {
        let mut offset = 0;
        for axis in 0..rank {
            let n = dims[axis] as isize;
            let mut i = (flat / out_strides[axis] % out_dims[axis]) as isize - before[axis];
            if i < 0 || i >= n {
                i = match mode {
                    PadMode::Constant => {
                        out.push(value);
                        continue 'element;
                    }
                    PadMode::Reflect if i < 0 => -i,
                    PadMode::Reflect => 2 * (n - 1) - i,
                    PadMode::Replicate => i.clamp(0, n - 1),
                    PadMode::Circular => ((i % n) + n) % n,
                };
            }
            offset += i as usize * in_strides[axis];
        }
        out.push(x[offset]);
    }
    (out_dims, out)
}

/// A convolution's settings for the references: per axis (rows, columns).
#[derive(Clone, Copy)]
pub struct Geometry {
    pub stride: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

/// Grouped cross-correlation of an already padded `[n, c, h, w]` input with `[o, c/g, kh, kw]`.
pub fn conv_reference(
    x: &[f64],
    xd: [usize; 4],
    w: &[f64],
    wd: [usize; 4],
    g: Geometry,
) -> (Vec<usize>, Vec<f64>) {
    let [n, c, h, wi] = xd;
    let [o, cg, kh, kw] = wd;
    let oh = (h - g.dilation.0 * (kh - 1) - 1) / g.stride.0 + 1;
    let ow = (wi - g.dilation.1 * (kw - 1) - 1) / g.stride.1 + 1;
    let per_group_out = o / g.groups;
    let mut out = vec![0.0; n * o * oh * ow];
    for b in 0..n {
        for oc in 0..o {
            let first = oc / per_group_out * cg;
            for y in 0..oh {
                for z in 0..ow {
                    let mut acc = 0.0;
                    for ci in 0..cg {
                        for i in 0..kh {
                            for j in 0..kw {
                                let row = y * g.stride.0 + i * g.dilation.0;
                                let col = z * g.stride.1 + j * g.dilation.1;
                                acc += x[((b * c + first + ci) * h + row) * wi + col]
                                    * w[((oc * cg + ci) * kh + i) * kw + j];
                            }
                        }
                    }
                    out[((b * o + oc) * oh + y) * ow + z] = acc;
                }
            }
        }
    }
    (vec![n, o, oh, ow], out)
}

/// Transposed convolution by its definition: every input pixel adds its value times the kernel
/// of each of its group's output channels at `stride` steps; then `padding` is cropped from the
/// start of each axis and the output runs to its documented size (zeros past the last patch).
#[allow(clippy::too_many_arguments)]
pub fn transpose_reference(
    x: &[f64],
    [n, c, h, wi]: [usize; 4],
    w: &[f64],
    [_, og, kh, kw]: [usize; 4],
    g: Geometry,
    padding: (usize, usize),
    output_padding: (usize, usize),
) -> (Vec<usize>, Vec<f64>) {
    let o = og * g.groups;
    let size = |len: usize, s: usize, p: usize, d: usize, k: usize, e: usize| {
        (len - 1) * s + d * (k - 1) + e + 1 - 2 * p
    };
    let oh = size(h, g.stride.0, padding.0, g.dilation.0, kh, output_padding.0);
    let ow = size(
        wi,
        g.stride.1,
        padding.1,
        g.dilation.1,
        kw,
        output_padding.1,
    );
    let mut out = vec![0.0; n * o * oh * ow];
    let cg = c / g.groups;
    for b in 0..n {
        for ci in 0..c {
            for y in 0..h {
                for z in 0..wi {
                    let v = x[((b * c + ci) * h + y) * wi + z];
                    for oc in 0..og {
                        for i in 0..kh {
                            for j in 0..kw {
                                let row = (y * g.stride.0 + i * g.dilation.0) as isize
                                    - padding.0 as isize;
                                let col = (z * g.stride.1 + j * g.dilation.1) as isize
                                    - padding.1 as isize;
                                if row < 0 || col < 0 || row as usize >= oh || col as usize >= ow {
                                    continue;
                                }
                                let channel = ci / cg * og + oc;
                                out[((b * o + channel) * oh + row as usize) * ow + col as usize] +=
                                    v * w[((ci * og + oc) * kh + i) * kw + j];
                            }
                        }
                    }
                }
            }
        }
    }
    (vec![n, o, oh, ow], out)
}
