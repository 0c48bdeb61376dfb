//! The fused softmax kernels against the composed form (max, shift, exp, sum, normalise) that
//! `NDArray::softmax_last` falls back to for a strided input: the same values and gradients,
//! for plain, log, scaled (negative scales too) and causal softmax, forward and backward.

use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::op::Softmax;
use nanotorch_ndarray_core::{NDArray, RandomDist};

type A = NDArray<f64, Cpu>;

/// `[b, l, s]` values, and the same values behind a transposed view (strided: composed path).
fn pair(dims: [usize; 3], seed: u64) -> (A, A) {
    let dist = RandomDist::Normal {
        mean: 0.0,
        std: 3.0,
    };
    let x = A::random(dims, dist, seed, &Cpu).unwrap();
    let strided = x
        .transpose(1, 2)
        .unwrap()
        .copy()
        .unwrap()
        .transpose(1, 2)
        .unwrap();
    assert!(!strided.is_contiguous());
    (x, strided)
}

fn close(a: &A, b: &A) {
    assert_eq!(a.dims(), b.dims());
    for (x, y) in a.to_vec().unwrap().iter().zip(&b.to_vec().unwrap()) {
        let same = (x.is_infinite() && x == y) || (x - y).abs() <= 1e-12 * x.abs().max(1.0);
        assert!(same, "{x} vs {y}");
    }
}

#[test]
fn fused_kernels_match_the_composed_form() {
    let ops = [
        Softmax::PLAIN,
        Softmax::LOG,
        Softmax {
            log: false,
            scale: 0.125,
            causal: true,
        },
        Softmax {
            log: true,
            scale: 2.0,
            causal: true,
        },
        // A negative scale flips which padding leaves a lane's running maximum alone.
        Softmax {
            log: false,
            scale: -1.5,
            causal: true,
        },
        Softmax {
            log: true,
            scale: -0.5,
            causal: false,
        },
    ];
    // Rows shorter and longer than the 16 lanes, and a non-square causal block.
    for dims in [[2, 3, 5], [3, 7, 40], [1, 4, 6]] {
        let (x, xs) = pair(dims, 7);
        let (g, gs) = pair(dims, 11);
        for op in ops {
            let (fused, composed) = (x.softmax_last(op).unwrap(), xs.softmax_last(op).unwrap());
            close(&fused, &composed);
            let back_fused = A::softmax_last_backward(&fused, &g, op).unwrap();
            let back_composed = A::softmax_last_backward(&composed, &gs, op).unwrap();
            close(&back_fused, &back_composed);
        }
    }
}

#[test]
fn rows_sum_to_one_and_the_causal_mask_hides_later_keys() {
    let (x, _) = pair([2, 4, 4], 3);
    let op = Softmax {
        log: false,
        scale: 1.0,
        causal: true,
    };
    let y = x.softmax_last(op).unwrap().to_vec().unwrap();
    for (r, row) in y.chunks(4).enumerate() {
        let i = r % 4;
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(row[i + 1..].iter().all(|&v| v == 0.0), "row {r}: {row:?}");
        assert!(row[..=i].iter().all(|&v| v > 0.0));
    }
}
