//! Forward values (and the gradient where it is the point) of the ops that sequence models
//! reach for: tril/triu, boolean masks in where/masked_fill, repeat, select, split_sizes,
//! expand with -1, masked_select, topk, multinomial, cumsum, bmm and baddbmm. Expected values
//! are worked by hand from PyTorch's documented definitions, or come from naive references
//! written plainly here; errors must name the op and the shapes.

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Bool, Generator, Result};

type T = Tensor<f64, Cpu>;

fn t(data: &[f64], shape: &[usize]) -> T {
    Tensor::from_vec(data.to_vec(), shape.to_vec(), &Cpu).unwrap()
}

fn leaf(data: &[f64], shape: &[usize]) -> T {
    t(data, shape).requires_grad_(true)
}

/// 0, 1, 2, … in `shape`.
fn iota(shape: &[usize]) -> T {
    let n: usize = shape.iter().product();
    t(&(0..n).map(|i| i as f64).collect::<Vec<_>>(), shape)
}

fn bools(flags: &[bool], shape: &[usize]) -> Tensor<Bool, Cpu> {
    let data = flags.iter().map(|&b| Bool::from(b)).collect();
    Tensor::from_vec(data, shape.to_vec(), &Cpu).unwrap()
}

fn values(x: &T) -> Vec<f64> {
    x.to_vec().unwrap()
}

fn grad(x: &T) -> Vec<f64> {
    x.grad().expect("a gradient").to_vec().unwrap()
}

fn error<X: std::fmt::Debug>(r: Result<X>) -> String {
    r.expect_err("an error").to_string()
}

/// Deterministic, well-spread test values (no ties among the first few thousand).
fn spread(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64 * 0.7548776662).fract() - 0.5) * 10.0)
        .collect()
}

/// Row-major multi-index of flat position `i` in `dims`.
fn unravel(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for a in (0..dims.len()).rev() {
        idx[a] = i % dims[a];
        i /= dims[a];
    }
    idx
}

/// Flat position of a multi-index in `dims`.
fn ravel(idx: &[usize], dims: &[usize]) -> usize {
    idx.iter().zip(dims).fold(0, |acc, (&i, &d)| acc * d + i)
}

// ---- tril / triu ----------------------------------------------------------------------------

#[test]
fn tril_and_triu_keep_the_documented_triangle_of_every_matrix_in_a_batch() {
    let dims = [2, 3, 4];
    let x = iota(&dims).add_scalar(1.0).unwrap();
    let xv = values(&x);
    for diagonal in -4isize..=5 {
        let lower = values(&x.tril(diagonal).unwrap());
        let upper = values(&x.triu(diagonal).unwrap());
        for (i, &v) in xv.iter().enumerate() {
            let idx = unravel(i, &dims);
            let offset = idx[2] as isize - idx[1] as isize; // col − row
            let want_lower = if offset <= diagonal { v } else { 0.0 };
            let want_upper = if offset >= diagonal { v } else { 0.0 };
            assert_eq!(lower[i], want_lower, "tril({diagonal}) at {idx:?}");
            assert_eq!(upper[i], want_upper, "triu({diagonal}) at {idx:?}");
        }
    }
    // By hand: a 2×3 matrix of ones.
    let ones = T::ones([2, 3], &Cpu).unwrap();
    assert_eq!(values(&ones.tril(0).unwrap()), [1., 0., 0., 1., 1., 0.]);
    assert_eq!(values(&ones.triu(1).unwrap()), [0., 1., 1., 0., 0., 1.]);
    assert_eq!(values(&ones.tril(-1).unwrap()), [0., 0., 0., 1., 0., 0.]);
}

#[test]
fn tril_zeroes_nan_outside_the_triangle_and_works_on_masks_and_integers() {
    let x = t(&[f64::NAN, f64::NAN], &[1, 2]);
    let out = values(&x.tril(0).unwrap());
    assert!(out[0].is_nan() && out[1] == 0.0, "{out:?}");
    // The causal mask of attention: true strictly above the diagonal.
    let future = Tensor::<Bool, Cpu>::ones([3, 3], &Cpu)
        .unwrap()
        .triu(1)
        .unwrap();
    let want: Vec<Bool> = [0, 1, 1, 0, 0, 1, 0, 0, 0]
        .iter()
        .map(|&b| Bool::from(b == 1))
        .collect();
    assert_eq!(future.to_vec().unwrap(), want);
    let ints = Tensor::from_vec(vec![1i64, 2, 3, 4], [2, 2], &Cpu).unwrap();
    assert_eq!(ints.tril(0).unwrap().to_vec().unwrap(), [1, 0, 3, 4]);
}

#[test]
fn tril_passes_the_gradient_inside_the_triangle_only() {
    let x = leaf(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
    x.tril(0).unwrap().sum().unwrap().backward().unwrap();
    assert_eq!(grad(&x), [1., 0., 0., 1., 1., 0.]);
    let y = leaf(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
    y.triu(0).unwrap().sum().unwrap().backward().unwrap();
    assert_eq!(grad(&y), [1., 1., 1., 0., 1., 1.]);
}

#[test]
fn tril_needs_two_axes() {
    let msg = error(iota(&[3]).tril(0));
    assert!(msg.starts_with("tril:") && msg.contains("[3]"), "{msg}");
    let msg = error(iota(&[]).triu(0));
    assert!(msg.starts_with("triu:") && msg.contains("[]"), "{msg}");
}

// ---- where / masked_fill with boolean masks -----------------------------------------------------

#[test]
fn masked_fill_takes_a_boolean_mask_broadcast_to_self() {
    let x = iota(&[2, 3]);
    let mask = bools(&[true, false, true], &[3]);
    assert_eq!(
        values(&x.masked_fill(&mask, -1.0).unwrap()),
        [-1., 1., -1., -1., 4., -1.]
    );
    let column = bools(&[false, true], &[2, 1]);
    assert_eq!(
        values(&x.masked_fill(&column, 9.0).unwrap()),
        [0., 1., 2., 9., 9., 9.]
    );
    // The 0/1 masks that comparisons return still work.
    let same_dtype = t(&[0., 1., 0.], &[3]);
    assert_eq!(
        values(&x.masked_fill(&same_dtype, -1.0).unwrap()),
        [0., -1., 2., 3., -1., 5.]
    );
    // The mask must broadcast *to* self: the result keeps self's shape.
    let msg = error(iota(&[3]).masked_fill(&bools(&[true; 6], &[2, 3]), 0.0));
    assert!(
        msg.starts_with("masked_fill:") && msg.contains("[3]") && msg.contains("[2, 3]"),
        "{msg}"
    );
    let msg = error(x.masked_fill(&bools(&[true; 2], &[2]), 0.0));
    assert!(
        msg.starts_with("masked_fill:") && msg.contains("[2]"),
        "{msg}"
    );
}

#[test]
fn masked_fill_sends_the_gradient_where_the_mask_is_false() {
    let x = leaf(&[1., 2., 3., 4.], &[2, 2]);
    let mask = bools(&[true, false], &[2]);
    x.masked_fill(&mask, 0.0)
        .unwrap()
        .mul(&x)
        .unwrap()
        .sum()
        .unwrap()
        .backward()
        .unwrap();
    // d/dx of x·x where kept (2x), of 0·x where filled (0).
    assert_eq!(grad(&x), [0., 4., 0., 8.]);
}

#[test]
fn where_with_a_boolean_condition_broadcasts_all_three() {
    let cond = bools(&[true, false], &[2, 1]);
    let a = leaf(&[1., 2., 3.], &[3]);
    let b = leaf(&[0.5], &[]);
    let out = Tensor::where_cond(&cond, &a, &b).unwrap();
    assert_eq!(out.dims(), &[2, 3]);
    assert_eq!(values(&out), [1., 2., 3., 0.5, 0.5, 0.5]);
    out.sum().unwrap().backward().unwrap();
    assert_eq!(grad(&a), [1., 1., 1.]); // chosen in the first row only
    assert_eq!(grad(&b), [3.]); // the three elements of the second row
                                // Integer values, boolean condition.
    let labels = Tensor::from_vec(vec![4i64, 5, 6], [3], &Cpu).unwrap();
    let ignore = Tensor::scalar(-100i64, &Cpu).unwrap();
    let keep = bools(&[true, false, true], &[3]);
    let picked = Tensor::where_cond(&keep, &labels, &ignore).unwrap();
    assert_eq!(picked.to_vec().unwrap(), [4, -100, 6]);
    // A fractional float condition is "non-zero", not truncated to 0 for integer values.
    let soft = t(&[0.5, 0.0, -0.25], &[3]);
    let picked = Tensor::where_cond(&soft, &labels, &ignore).unwrap();
    assert_eq!(picked.to_vec().unwrap(), [4, -100, 6]);
    let msg = error(Tensor::where_cond(&bools(&[true; 2], &[2]), &a, &b));
    assert!(msg.starts_with("where:") && msg.contains("[2]"), "{msg}");
}

// ---- repeat / select / split_sizes / expand -------------------------------------------------------

#[test]
fn repeat_tiles_every_axis_and_adds_leading_ones() {
    // torch.tensor([[1, 2], [3, 4]]).repeat(2, 1, 2), worked by hand.
    let x = t(&[1., 2., 3., 4.], &[2, 2]);
    let out = x.repeat(&[2, 1, 2]).unwrap();
    assert_eq!(out.dims(), &[2, 2, 4]);
    assert_eq!(
        values(&out),
        [1., 2., 1., 2., 3., 4., 3., 4., 1., 2., 1., 2., 3., 4., 3., 4.]
    );
    // Naive reference: out[idx] = x[idx mod dims], with x's axes aligned to the right.
    let dims = [2, 1, 3];
    let sizes = [1, 2, 3, 2];
    let x = iota(&dims);
    let out = x.repeat(&sizes).unwrap();
    let out_dims = [1, 4, 3, 6];
    assert_eq!(out.dims(), &out_dims);
    let (xv, ov) = (values(&x), values(&out));
    for (i, &v) in ov.iter().enumerate() {
        let idx = unravel(i, &out_dims);
        let src: Vec<usize> = idx[1..].iter().zip(&dims).map(|(&j, &d)| j % d).collect();
        assert_eq!(v, xv[ravel(&src, &dims)], "at {idx:?}");
    }
    // All sizes 1: still a copy, never a view of the input.
    let same = x.repeat(&[1, 1, 1]).unwrap();
    assert!(!same.array().same_storage(x.array()));
    assert_eq!(values(&same), xv);
    let msg = error(x.repeat(&[2, 2]));
    assert!(
        msg.starts_with("repeat:") && msg.contains("[2, 2]") && msg.contains("[2, 1, 3]"),
        "{msg}"
    );
}

#[test]
fn repeat_sums_the_gradient_over_the_copies() {
    let x = leaf(&[1., 2.], &[2]);
    let w = t(
        &[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.],
        &[3, 4],
    );
    x.repeat(&[3, 2])
        .unwrap()
        .mul(&w)
        .unwrap()
        .sum()
        .unwrap()
        .backward()
        .unwrap();
    // x[0] sits at columns 0 and 2 of every row, x[1] at columns 1 and 3.
    assert_eq!(
        grad(&x),
        [1. + 3. + 5. + 7. + 9. + 11., 2. + 4. + 6. + 8. + 10. + 12.]
    );
}

#[test]
fn select_removes_the_axis_and_counts_negative_indices_from_the_end() {
    let x = iota(&[2, 3, 4]);
    let last = x.select(1, -1).unwrap();
    assert_eq!(last.dims(), &[2, 4]);
    assert_eq!(values(&last), [8., 9., 10., 11., 20., 21., 22., 23.]);
    let second = x.select(0, 1).unwrap();
    assert_eq!(second.dims(), &[3, 4]);
    assert_eq!(values(&second), (12..24).map(f64::from).collect::<Vec<_>>());
    assert_eq!(
        values(&x.select(-1, 0).unwrap()),
        [0., 4., 8., 12., 16., 20.]
    );
    for bad in [3, -4] {
        let msg = error(x.select(1, bad));
        assert!(
            msg.starts_with("select:")
                && msg.contains(&format!("index {bad}"))
                && msg.contains("[2, 3, 4]"),
            "{msg}"
        );
    }
    let msg = error(x.select(3, 0));
    assert!(
        msg.starts_with("select:") && msg.contains("axis 3"),
        "{msg}"
    );
}

#[test]
fn select_puts_the_gradient_into_the_selected_slice() {
    let x = leaf(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
    let w = t(&[10., 20.], &[2]);
    x.select(1, -2)
        .unwrap()
        .mul(&w)
        .unwrap()
        .sum()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad(&x), [0., 10., 0., 0., 20., 0.]);
}

#[test]
fn split_sizes_cuts_the_axis_in_the_given_sizes() {
    let x = leaf(&(0..10).map(f64::from).collect::<Vec<_>>(), &[2, 5]);
    let parts = x.split_sizes(&[2, 0, 3], 1).unwrap();
    let dims: Vec<Vec<usize>> = parts.iter().map(|p| p.dims().to_vec()).collect();
    assert_eq!(dims, [vec![2, 2], vec![2, 0], vec![2, 3]]);
    assert_eq!(values(&parts[0]), [0., 1., 5., 6.]);
    assert!(values(&parts[1]).is_empty());
    assert_eq!(values(&parts[2]), [2., 3., 4., 7., 8., 9.]);
    parts[2].sum().unwrap().backward().unwrap();
    assert_eq!(grad(&x), [0., 0., 1., 1., 1., 0., 0., 1., 1., 1.]);
    let msg = error(x.split_sizes(&[2, 2], -1));
    assert!(
        msg.starts_with("split_sizes:")
            && msg.contains("[2, 2]")
            && msg.contains("(5)")
            && msg.contains("[2, 5]"),
        "{msg}"
    );
}

#[test]
fn expand_keeps_an_axis_given_as_minus_one() {
    let x = t(&[1., 2., 3.], &[3, 1]);
    let e = x.expand([-1, 4]).unwrap();
    assert_eq!(e.dims(), &[3, 4]);
    assert_eq!(values(&e)[..5], [1., 1., 1., 1., 2.]);
    assert_eq!(x.expand([2, -1, -1]).unwrap().dims(), &[2, 3, 1]);
}

// ---- masked_select --------------------------------------------------------------------------------

#[test]
fn masked_select_broadcasts_and_returns_the_picked_values_in_order() {
    // torch.masked_select(torch.arange(3.), [[T, F, T], [F, T, T]]) = [0, 2, 1, 2].
    let x = leaf(&[0., 1., 2.], &[3]);
    let mask = bools(&[true, false, true, false, true, true], &[2, 3]);
    let picked = x.masked_select(&mask).unwrap();
    assert_eq!(picked.dims(), &[4]);
    assert_eq!(values(&picked), [0., 2., 1., 2.]);
    picked.sum().unwrap().backward().unwrap();
    assert_eq!(grad(&x), [1., 1., 2.]); // x[2] was picked from both rows
    let m = iota(&[2, 2]);
    let none = m.masked_select(&bools(&[false], &[1])).unwrap();
    assert_eq!(none.dims(), &[0]);
    let zero_one = t(&[1., 0.], &[2]);
    assert_eq!(values(&m.masked_select(&zero_one).unwrap()), [0., 2.]);
    let msg = error(x.masked_select(&bools(&[true; 2], &[2])));
    assert!(
        msg.starts_with("masked_select:") && msg.contains("[3]") && msg.contains("[2]"),
        "{msg}"
    );
}

// ---- topk -----------------------------------------------------------------------------------------

fn topk_of(x: &T, k: usize, axis: isize, largest: bool, sorted: bool) -> (Vec<f64>, Vec<i64>) {
    let (v, i) = x.topk(k, axis, largest, sorted).unwrap();
    (values(&v), i.to_vec().unwrap())
}

#[test]
fn topk_picks_the_extremes_with_ties_lower_index_first() {
    let x = t(&[1., 3., 3., 2., 3.], &[5]);
    assert_eq!(
        topk_of(&x, 3, -1, true, true),
        (vec![3., 3., 3.], vec![1, 2, 4])
    );
    assert_eq!(
        topk_of(&x, 5, 0, true, true),
        (vec![3., 3., 3., 2., 1.], vec![1, 2, 4, 3, 0])
    );
    assert_eq!(topk_of(&x, 2, 0, false, true), (vec![1., 2.], vec![0, 3]));
    assert_eq!(topk_of(&x, 0, 0, true, true), (vec![], vec![]));
    // Unsorted: the chosen elements in the order they appear.
    let y = t(&[4., 1., 5.], &[3]);
    assert_eq!(topk_of(&y, 2, 0, true, true), (vec![5., 4.], vec![2, 0]));
    assert_eq!(topk_of(&y, 2, 0, true, false), (vec![4., 5.], vec![0, 2]));
    // NaN is larger than every number.
    let z = t(&[1., f64::NAN, 3.], &[3]);
    let (v, i) = topk_of(&z, 2, 0, true, true);
    assert!(v[0].is_nan() && v[1] == 3.0 && i == [1, 2], "{v:?} {i:?}");
    assert_eq!(topk_of(&z, 2, 0, false, true), (vec![1., 3.], vec![0, 2]));
}

#[test]
fn topk_along_any_axis_matches_a_full_sort() {
    let dims = [3, 4, 5];
    let x = t(&spread(60), &dims);
    let xv = values(&x);
    for (axis, k, largest) in [(0, 2, true), (1, 3, false), (2, 1, true), (-1, 5, false)] {
        let a = (if axis < 0 { 3 + axis } else { axis }) as usize;
        let (v, i) = x.topk(k, axis, largest, true).unwrap();
        let mut out_dims = dims.to_vec();
        out_dims[a] = k;
        assert_eq!(v.dims(), out_dims.as_slice());
        assert_eq!(i.dims(), out_dims.as_slice());
        let (v, i) = (values(&v), i.to_vec().unwrap());
        for (p, (&got, &at)) in v.iter().zip(&i).enumerate() {
            let idx = unravel(p, &out_dims);
            let mut line: Vec<(f64, usize)> = (0..dims[a])
                .map(|j| {
                    let mut src = idx.clone();
                    src[a] = j;
                    (xv[ravel(&src, &dims)], j)
                })
                .collect();
            line.sort_by(|l, r| {
                let o = l.0.partial_cmp(&r.0).unwrap();
                if largest {
                    o.reverse()
                } else {
                    o
                }
            });
            let (want, want_at) = line[idx[a]];
            assert_eq!((got, at), (want, want_at as i64), "axis {axis} at {idx:?}");
        }
    }
    // Along axis 0 of a matrix, by hand.
    let m = t(&[1., 6., 5., 2., 3., 4.], &[3, 2]);
    assert_eq!(
        topk_of(&m, 2, 0, true, true),
        (vec![5., 6., 3., 4.], vec![1, 0, 2, 2])
    );
    // Integers and 0-d tensors.
    let ints = Tensor::from_vec(vec![7i64, -1, 9], [3], &Cpu).unwrap();
    let (v, i) = ints.topk(2, 0, true, true).unwrap();
    assert_eq!(
        (v.to_vec().unwrap(), i.to_vec().unwrap()),
        (vec![9, 7], vec![2, 0])
    );
    let (v, i) = t(&[5.], &[]).topk(1, -1, true, true).unwrap();
    assert_eq!((v.dims(), i.dims()), (&[][..], &[][..]));
    assert_eq!((v.item().unwrap(), i.item().unwrap()), (5.0, 0));
}

#[test]
fn topk_sends_the_gradient_to_the_selected_positions() {
    let x = leaf(&[4., 1., 5.], &[3]);
    let (v, _) = x.topk(2, 0, true, true).unwrap();
    v.mul(&t(&[10., 20.], &[2]))
        .unwrap()
        .sum()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad(&x), [20., 0., 10.]);
}

#[test]
fn topk_rejects_k_beyond_the_axis() {
    let x = iota(&[2, 3]);
    let msg = error(x.topk(4, 1, true, true));
    assert!(
        msg.starts_with("topk:") && msg.contains("k (4)") && msg.contains("[2, 3]"),
        "{msg}"
    );
    let msg = error(x.topk(1, 2, true, true));
    assert!(msg.starts_with("topk:") && msg.contains("axis 2"), "{msg}");
    let msg = error(t(&[1.], &[]).topk(2, 0, true, true));
    assert!(msg.starts_with("topk:") && msg.contains("k (2)"), "{msg}");
}

// ---- multinomial ----------------------------------------------------------------------------------

#[test]
fn multinomial_repeats_for_a_seed_and_never_draws_a_zero_weight() {
    let w = t(&[1., 0., 3., 6.], &[4]);
    let draw = |seed: u64| {
        w.multinomial(50, true, Some(&mut Generator::new(seed)))
            .unwrap()
            .to_vec()
            .unwrap()
    };
    assert_eq!(draw(11), draw(11));
    assert_ne!(draw(11), draw(12));
    assert!(draw(11).iter().all(|&i| (0..4).contains(&i) && i != 1));
    // The global generator: reproducible after manual_seed, and untouched by an explicit one.
    manual_seed(5);
    let first = w.multinomial(20, true, None).unwrap().to_vec().unwrap();
    manual_seed(5);
    let _ = w
        .multinomial(20, true, Some(&mut Generator::new(99)))
        .unwrap();
    let again = w.multinomial(20, true, None).unwrap().to_vec().unwrap();
    assert_eq!(first, again);
}

#[test]
fn multinomial_with_replacement_draws_in_proportion_to_the_weights() {
    let w = t(&[1., 0., 3., 6.], &[4]);
    let n = 20_000;
    let draws = w
        .multinomial(n, true, Some(&mut Generator::new(3)))
        .unwrap();
    assert_eq!(draws.dims(), &[n]);
    let draws = draws.to_vec().unwrap();
    for (category, p) in [0.1, 0.0, 0.3, 0.6].into_iter().enumerate() {
        let freq = draws.iter().filter(|&&i| i == category as i64).count() as f64 / n as f64;
        // Four standard deviations of a frequency over 20,000 draws is at most 0.015.
        assert!(
            (freq - p).abs() < 0.015,
            "category {category}: {freq} vs {p}"
        );
    }
}

#[test]
fn multinomial_without_replacement_draws_like_removing_each_pick() {
    let rows = 6000;
    let row = [1., 2., 7.];
    let w = t(&row.repeat(rows), &[rows, 3]);
    let draws = w
        .multinomial(3, false, Some(&mut Generator::new(8)))
        .unwrap();
    assert_eq!(draws.dims(), &[rows, 3]);
    let draws = draws.to_vec().unwrap();
    for pick in draws.chunks(3) {
        let mut sorted = pick.to_vec();
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2], "every category once per row");
    }
    let freq = |column: usize, category: i64| {
        draws
            .chunks(3)
            .filter(|pick| pick[column] == category)
            .count() as f64
            / rows as f64
    };
    // First draw: p = w / Σw. Second draw of category 0: it was not first, then 1/(10 − w_first)
    // of what is left: 0.2·(1/8) + 0.7·(1/3).
    for (category, p) in [(0, 0.1), (1, 0.2), (2, 0.7)] {
        assert!(
            (freq(0, category) - p).abs() < 0.03,
            "first draw {category}"
        );
    }
    let p_second_0 = 0.2 / 8.0 + 0.7 / 3.0;
    assert!((freq(1, 0) - p_second_0).abs() < 0.03, "{}", freq(1, 0));
}

#[test]
fn multinomial_rejects_bad_weights_and_counts() {
    let cases: Vec<(T, usize, bool, &str)> = vec![
        (t(&[1., -1., 0.], &[3]), 1, true, "non-negative"),
        (t(&[1., f64::NAN], &[2]), 1, true, "finite"),
        (t(&[1., 1., 0., 0.], &[2, 2]), 1, true, "row 1"),
        (t(&[1., 1.], &[2]), 0, true, "num_samples"),
        (t(&[1., 1.], &[2]), 3, false, "2 categories"),
        (t(&[1., 0., 0.], &[3]), 2, false, "1 non-zero weight"),
        (t(&[1.; 8], &[2, 2, 2]), 1, true, "1-d"),
    ];
    for (w, n, replacement, says) in cases {
        let msg = error(w.multinomial(n, replacement, None));
        assert!(
            msg.starts_with("multinomial:")
                && msg.contains(says)
                && msg.contains(&w.shape().to_string()),
            "{msg}"
        );
    }
}

// ---- cumsum ---------------------------------------------------------------------------------------

#[test]
fn cumsum_runs_along_the_axis() {
    let x = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
    assert_eq!(values(&x.cumsum(1).unwrap()), [1., 3., 6., 4., 9., 15.]);
    assert_eq!(values(&x.cumsum(-2).unwrap()), [1., 2., 3., 5., 7., 9.]);
    assert_eq!(values(&t(&[5.], &[]).cumsum(0).unwrap()), [5.]);
    let counts = Tensor::from_vec(vec![3i64, 0, 2, 5], [4], &Cpu).unwrap();
    assert_eq!(counts.cumsum(0).unwrap().to_vec().unwrap(), [3, 3, 5, 10]);
    // Several scan rounds (37 = 32 + 5) against a left-to-right sum, on a transposed view.
    let dims = [3, 37];
    let small: Vec<f64> = (0..111).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
    let y = t(&small, &[37, 3]).t().unwrap().contiguous().unwrap();
    let strided = t(&small, &[37, 3]).t().unwrap(); // the same values, not contiguous
    let (yv, out, out_strided) = (
        values(&y),
        values(&y.cumsum(1).unwrap()),
        values(&strided.cumsum(1).unwrap()),
    );
    for r in 0..dims[0] {
        let mut acc = 0.0;
        for c in 0..dims[1] {
            acc += yv[r * dims[1] + c];
            assert_eq!(out[r * dims[1] + c], acc, "row {r} col {c}");
        }
    }
    assert_eq!(out, out_strided);
    let floats = t(&spread(70), &[70]);
    let (fv, got) = (values(&floats), values(&floats.cumsum(0).unwrap()));
    let mut acc = 0.0;
    for (g, v) in got.iter().zip(&fv) {
        acc += v;
        assert!((g - acc).abs() <= 1e-12 * (1.0 + acc.abs()), "{g} vs {acc}");
    }
}

#[test]
fn cumsum_gradient_is_the_reverse_running_sum() {
    let x = leaf(&[1., 2., 3., 4.], &[4]);
    x.cumsum(0)
        .unwrap()
        .mul(&t(&[1., 2., 3., 4.], &[4]))
        .unwrap()
        .sum()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad(&x), [10., 9., 7., 4.]);
}

#[test]
fn cumsum_refuses_booleans_and_bad_axes() {
    let msg = error(bools(&[true, true], &[2]).cumsum(0));
    assert!(msg.starts_with("cumsum:") && msg.contains("i64"), "{msg}");
    let msg = error(iota(&[2, 3]).cumsum(2));
    assert!(
        msg.starts_with("cumsum:") && msg.contains("[2, 3]"),
        "{msg}"
    );
    let msg = error(t(&[1.], &[]).cumsum(1));
    assert!(
        msg.starts_with("cumsum:") && msg.contains("axis 1"),
        "{msg}"
    );
}

// ---- bmm / baddbmm --------------------------------------------------------------------------------

/// Naive batched product of `a` `[..., n, m]` and `b` `[..., m, p]` with broadcast batch axes of
/// equal rank.
fn naive_bmm(a: &T, b: &T) -> (Vec<usize>, Vec<f64>) {
    let (ad, bd) = (a.dims(), b.dims());
    let r = ad.len();
    let (n, m, p) = (ad[r - 2], ad[r - 1], bd[r - 1]);
    let batch: Vec<usize> = (0..r - 2).map(|i| ad[i].max(bd[i])).collect();
    let (av, bv) = (values(a), values(b));
    let count: usize = batch.iter().product();
    let mut out = Vec::new();
    for flat in 0..count {
        let idx = unravel(flat, &batch);
        let pick = |dims: &[usize]| -> usize {
            let own: Vec<usize> = idx
                .iter()
                .zip(dims)
                .map(|(&i, &d)| if d == 1 { 0 } else { i })
                .collect();
            ravel(&own, &dims[..r - 2])
        };
        let (ab, bb) = (pick(ad), pick(bd));
        for i in 0..n {
            for j in 0..p {
                let s: f64 = (0..m)
                    .map(|q| av[(ab * n + i) * m + q] * bv[(bb * m + q) * p + j])
                    .sum();
                out.push(s);
            }
        }
    }
    let mut dims = batch;
    dims.extend([n, p]);
    (dims, out)
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-10 * (1.0 + w.abs()),
            "element {i}: {g} vs {w}"
        );
    }
}

#[test]
fn bmm_matches_the_definition_with_equal_and_broadcast_batches() {
    for (ad, bd) in [
        (vec![2, 3, 4], vec![2, 4, 5]),
        (vec![2, 1, 3, 4], vec![1, 3, 4, 2]),
        (vec![1, 2, 2], vec![3, 2, 1]),
    ] {
        let a = t(&spread(ad.iter().product()), &ad);
        let b = t(&spread(bd.iter().product::<usize>() + 3)[3..], &bd);
        let out = a.bmm(&b).unwrap();
        let (dims, want) = naive_bmm(&a, &b);
        assert_eq!(out.dims(), dims.as_slice());
        assert_close(&values(&out), &want);
    }
}

#[test]
fn baddbmm_scales_and_adds_a_broadcast_input() {
    let a = t(&spread(24), &[2, 3, 4]);
    let b = t(&spread(40)[..32], &[2, 4, 4]);
    let input = t(&[1., -2., 3., 0.5], &[4]);
    let (beta, alpha) = (0.5, -2.0);
    let out = input.baddbmm(&a, &b, beta, alpha).unwrap();
    let (dims, product) = naive_bmm(&a, &b);
    assert_eq!(out.dims(), dims.as_slice());
    let iv = values(&input);
    let want: Vec<f64> = product
        .iter()
        .enumerate()
        .map(|(i, &p)| beta * iv[i % 4] + alpha * p)
        .collect();
    assert_close(&values(&out), &want);
    // beta = 0 ignores the input entirely: NaN in it does not reach the result.
    let nan = t(&[f64::NAN], &[1]);
    let out = nan.baddbmm(&a, &b, 0.0, 1.0).unwrap();
    assert_close(&values(&out), &product);
}

#[test]
fn bmm_and_baddbmm_errors_name_the_op_and_shapes() {
    let a = iota(&[2, 3, 4]);
    let msg = error(a.bmm(&iota(&[4, 5])));
    assert!(
        msg.starts_with("bmm:") && msg.contains("3 axes") && msg.contains("[4, 5]"),
        "{msg}"
    );
    let msg = error(a.bmm(&iota(&[2, 3, 5])));
    assert!(msg.starts_with("bmm:") && msg.contains("inner"), "{msg}");
    let msg = error(a.bmm(&iota(&[3, 4, 5])));
    assert!(msg.starts_with("bmm:") && msg.contains("batch"), "{msg}");
    let msg = error(iota(&[2, 3, 6]).baddbmm(&a, &iota(&[2, 4, 5]), 1.0, 1.0));
    assert!(
        msg.starts_with("baddbmm:") && msg.contains("[2, 3, 6]") && msg.contains("[2, 3, 5]"),
        "{msg}"
    );
    let msg = error(iota(&[5]).baddbmm(&a, &iota(&[4, 5]), 1.0, 1.0));
    assert!(
        msg.starts_with("baddbmm:") && msg.contains("3 axes"),
        "{msg}"
    );
}
