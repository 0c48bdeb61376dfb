//! Memory: a chain of a million ops backpropagates without recursion (no stack overflow) and gives
//! its memory back afterwards; a training loop's memory is flat across iterations. Its own test
//! binary, because it counts live bytes with a global allocator; the tests take a lock so they do
//! not count each other's allocations.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

#[test]
fn million_op_chain_backpropagates_and_frees_its_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let x = Tensor::<f64, Cpu>::scalar(1.0, &Cpu)
        .unwrap()
        .requires_grad_(true);
    let warmup = (&x * 1.0).sum_all().unwrap();
    warmup.backward().unwrap();
    x.zero_grad();
    drop(warmup);
    let before = live();

    let n = 1_000_000;
    let mut y = x.clone();
    for _ in 0..n {
        y = &y * 1.000001;
    }
    let during = live();
    y.backward().unwrap();
    let expected = 1.000001f64.powi(n);
    let got = x.grad().unwrap().item().unwrap();
    assert!(
        (got - expected).abs() < 1e-9 * expected,
        "{got} vs {expected}"
    );
    drop(y);
    x.zero_grad();
    let after = live();
    assert!(
        during - before > 50_000_000,
        "the graph should hold real memory: {} bytes",
        during - before
    );
    assert!(
        after - before < 64 * 1024,
        "memory not released: {} bytes still live",
        after - before
    );

    // Dropping a long graph without running backward must not recurse either.
    let mut y = x.clone();
    for _ in 0..n {
        y = &y + 1.0;
    }
    drop(y);
    let end = live();
    assert!(
        end - before < 64 * 1024,
        "memory not released after drop: {} bytes",
        end - before
    );
}

#[test]
fn training_loop_memory_is_flat_across_iterations() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    use nanotorch_autograd::{manual_seed, no_grad};
    use nanotorch_ndarray_core::BinaryOp;
    manual_seed(0);
    // A 2-layer MLP on a fixed batch, plain SGD written out: forward, loss, backward, update in
    // place under no_grad, clear the gradients.
    let x = Tensor::<f32, Cpu>::randn([64, 32], &Cpu).unwrap();
    let y = Tensor::<f32, Cpu>::randn([64, 4], &Cpu).unwrap();
    let w1 = Tensor::<f32, Cpu>::randn([32, 64], &Cpu)
        .unwrap()
        .mul_scalar(0.1)
        .unwrap()
        .requires_grad_(true);
    let w2 = Tensor::<f32, Cpu>::randn([64, 4], &Cpu)
        .unwrap()
        .mul_scalar(0.1)
        .unwrap()
        .requires_grad_(true);
    let params = [w1.clone(), w2.clone()];
    let step = || {
        let h = x.matmul(&w1).unwrap().relu().unwrap();
        let loss = h
            .matmul(&w2)
            .unwrap()
            .sub(&y)
            .unwrap()
            .square()
            .unwrap()
            .mean_all()
            .unwrap();
        loss.backward().unwrap();
        no_grad(|| {
            for p in &params {
                let g = p.grad().unwrap().array().mul_scalar(0.01).unwrap();
                p.array().binary_assign(BinaryOp::Sub, &g).unwrap();
                p.zero_grad();
            }
        });
        loss.item().unwrap()
    };
    let first_loss = step();
    for _ in 0..5 {
        step();
    }
    let settled = live();
    let mut last_loss = 0.0;
    for _ in 0..50 {
        last_loss = step();
    }
    let grown = live() - settled;
    assert!(
        grown.abs() < 16 * 1024,
        "memory grew by {grown} bytes over 50 steps"
    );
    assert!(
        last_loss < first_loss,
        "the loop should train: {first_loss} -> {last_loss}"
    );
}
