//! After the first step (which creates the state buffers), an optimizer step allocates nothing:
//! every algorithm runs the backend's fused kernel in place. A counting global allocator sees
//! every allocation of every thread of this test binary, so it holds this file's only test.
//! Gradient clipping (by norm and by value) is held to the same rule.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_optim::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting calls that hand out memory.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded (see the impl).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made while `f` runs.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

/// Parameters with gradients: a bias-sized one, a weight, and one big enough that the kernel
/// splits it over the threads.
fn params() -> Vec<Tensor<f32, Cpu>> {
    [vec![64], vec![64, 32], vec![512, 300]]
        .into_iter()
        .map(|dims| {
            let n: usize = dims.iter().product();
            let init: Vec<f32> = (0..n)
                .map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.5)
                .collect();
            let grad: Vec<f32> = (0..n)
                .map(|i| ((i * 104_729) % 31) as f32 / 31.0 - 0.5)
                .collect();
            let p = Tensor::from_slice(&init, dims.clone(), &Cpu)
                .unwrap()
                .requires_grad_(true);
            p.set_grad(Some(Tensor::from_slice(&grad, dims, &Cpu).unwrap()));
            p
        })
        .collect()
}

/// Steps 2 to 4 of `opt` allocate nothing, and they do change the parameters.
fn assert_steps_allocate_nothing(name: &str, ps: &[Tensor<f32, Cpu>], mut opt: impl Optimizer) {
    opt.step().unwrap();
    // The first step of a large parameter starts the CPU backend's helper threads; a thread
    // allocates as it starts, whenever the OS gets round to running it. Let them settle.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let before = ps[2].to_vec().unwrap();
    for step in 2..=4 {
        let n = allocations_in(|| opt.step().unwrap());
        assert_eq!(n, 0, "{name}: step {step} made {n} allocations");
    }
    assert_ne!(
        ps[2].to_vec().unwrap(),
        before,
        "{name}: the steps changed nothing"
    );
}

#[test]
fn steps_after_the_first_allocate_nothing() {
    macro_rules! check {
        ($($name:literal => $opt:ident($options:expr);)*) => {$(
            let ps = params();
            assert_steps_allocate_nothing($name, &ps, $opt::new(ps.clone(), $options).unwrap());
        )*};
    }
    check! {
        "SGD" => SGD(SgdOptions { lr: 0.1, weight_decay: 1e-4, ..Default::default() });
        "SGD momentum" => SGD(SgdOptions { lr: 0.1, momentum: 0.9, dampening: 0.1, ..Default::default() });
        "SGD nesterov" => SGD(SgdOptions { lr: 0.1, momentum: 0.9, nesterov: true, ..Default::default() });
        "Adam" => Adam(AdamOptions { weight_decay: 1e-4, ..Default::default() });
        "Adam amsgrad" => Adam(AdamOptions { amsgrad: true, ..Default::default() });
        "AdamW" => AdamW(AdamWOptions::default());
        "RMSprop" => RMSprop(RmspropOptions::default());
        "RMSprop momentum centered" => RMSprop(RmspropOptions { momentum: 0.9, centered: true, ..Default::default() });
        "Adagrad" => Adagrad(AdagradOptions { lr_decay: 0.01, ..Default::default() });
    }

    // Clipping by norm: measuring (max_norm = inf), and scaling in place.
    let ps = params();
    for norm_type in [2.0, 1.0, 3.0, f64::INFINITY] {
        clip_grad_norm_(&ps, f64::INFINITY, norm_type).unwrap();
        let n = allocations_in(|| {
            clip_grad_norm_(&ps, f64::INFINITY, norm_type).unwrap();
        });
        assert_eq!(
            n, 0,
            "clip_grad_norm_ (norm {norm_type}, measuring): {n} allocations"
        );
    }
    let before = ps[1].grad().unwrap().to_vec().unwrap();
    let n = allocations_in(|| {
        clip_grad_norm_(&ps, 0.5, 2.0).unwrap();
    });
    assert_eq!(n, 0, "clip_grad_norm_ (scaling): {n} allocations");
    let after = ps[1].grad().unwrap().to_vec().unwrap();
    assert!(after
        .iter()
        .zip(&before)
        .all(|(a, b)| a.abs() < b.abs() || *b == 0.0));

    // Clipping by value clamps in place (the gradients are now at most ~0.002 after the norm
    // clipping above, so 0.001 clamps some of them).
    let n = allocations_in(|| clip_grad_value_(&ps, 0.001).unwrap());
    assert_eq!(n, 0, "clip_grad_value_: {n} allocations");
    let clamped = ps[2].grad().unwrap().to_vec().unwrap();
    assert!(clamped.iter().all(|v| v.abs() <= 0.001) && clamped.iter().any(|v| v.abs() == 0.001));
}
