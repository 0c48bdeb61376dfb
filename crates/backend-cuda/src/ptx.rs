//! The kernels' PTX, compiled by `cargo xtask ptx` from `kernels/*.cu` and embedded here, so
//! building this crate needs no CUDA toolkit (`cargo xtask ptx --check` keeps it fresh).

/// `kernels/unary.cu`: `unary_<op>_<f32|f64>` over strided layouts.
pub const UNARY: &str = include_str!("../ptx/unary.ptx");

/// `kernels/fill_copy.cu`: `full_*`, `arange_*`, `copy_strided_*` and `cast_<from>_<to>`.
pub const FILL_COPY: &str = include_str!("../ptx/fill_copy.ptx");

/// `kernels/binary.cu`: `binary_*`, `binary_scalar_*`, `binary_inplace_*`, `scalar_inplace_*`.
pub const BINARY: &str = include_str!("../ptx/binary.ptx");

/// `kernels/reduce.cu`: `reduce_<sum|prod|max|min>_<dtype>` over any set of axes.
pub const REDUCE: &str = include_str!("../ptx/reduce.ptx");

/// `kernels/matmul.cu`: `matmul_<f32|f64>`, the tiled shared-memory batched product.
pub const MATMUL: &str = include_str!("../ptx/matmul.ptx");

/// `kernels/random.cu`: `random_<uniform|normal|bernoulli>_<f32|f64>`, counter-based fills
/// computing `random::sample_at`.
pub const RANDOM: &str = include_str!("../ptx/random.ptx");

/// `kernels/arg_reduce.cu`: `arg_reduce_<argmax|argmin>_<dtype>` along one axis.
pub const ARG_REDUCE: &str = include_str!("../ptx/arg_reduce.ptx");

/// `kernels/index.cu`: `index_check`, `gather_*`, `scatter_add_*` and `index_select_*`.
pub const INDEX: &str = include_str!("../ptx/index.ptx");

/// `kernels/im2col.cu`: `im2col_<f32|f64>` and `col2im_<f32|f64>`.
pub const IM2COL: &str = include_str!("../ptx/im2col.ptx");
