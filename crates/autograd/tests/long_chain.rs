//! A chain of a million ops backpropagates without recursion (no stack overflow), and the memory
//! it used is given back afterwards. Its own test binary, because it counts allocations with a
//! global allocator.

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

#[test]
fn million_op_chain_backpropagates_and_frees_its_memory() {
    let x = Tensor::<f64, Cpu>::scalar(1.0, &Cpu)
        .unwrap()
        .requires_grad_(true);
    let warmup = (&x * 1.0).sum_all().unwrap();
    warmup.backward().unwrap();
    x.zero_grad();
    drop(warmup);
    let before = LIVE_BYTES.load(Ordering::Relaxed);

    let n = 1_000_000;
    let mut y = x.clone();
    for _ in 0..n {
        y = &y * 1.000001;
    }
    let during = LIVE_BYTES.load(Ordering::Relaxed);
    y.backward().unwrap();
    let expected = 1.000001f64.powi(n);
    let got = x.grad().unwrap().item().unwrap();
    assert!(
        (got - expected).abs() < 1e-9 * expected,
        "{got} vs {expected}"
    );
    drop(y);
    x.zero_grad();
    let after = LIVE_BYTES.load(Ordering::Relaxed);
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
    let end = LIVE_BYTES.load(Ordering::Relaxed);
    assert!(
        end - before < 64 * 1024,
        "memory not released after drop: {} bytes",
        end - before
    );
}
