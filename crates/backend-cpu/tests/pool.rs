//! The CPU buffer pool keeps only what ops ask for again (issue 13, defect 4).
//!
//! The pool is process-wide, so the checks run one after another inside one `#[test]` (tests of
//! one binary run on parallel threads and would see each other's buffers).

use nanotorch_backend_cpu::{pool_bytes, set_pool_limit, Cpu, CpuStorage, DEFAULT_LIMIT};
use nanotorch_ndarray_core::Backend;

/// 1 Mi f32 = 4 MiB: far above the pool's 128 KiB floor.
const LEN: usize = 1 << 20;
const BYTES: usize = LEN * 4;

/// A buffer that enters the CPU backend from outside (as a collated batch does through
/// `from_vec`) and is dropped: no op ever asked the pool for it.
fn drop_foreign(len: usize) {
    drop(CpuStorage::from_vec(vec![1.0f32; len]));
}

/// A kernel output of `len` f32 (a request to the pool), dropped at once.
fn drop_output(len: usize) {
    drop(Cpu.full::<f32>(len, 2.0).unwrap());
}

fn buffers_nobody_requested_go_back_to_the_allocator() {
    let before = pool_bytes();
    // Was: each one kept, +4 MiB a time until the 512 MiB limit.
    for _ in 0..50 {
        drop_foreign(LEN + 12_345);
    }
    assert_eq!(pool_bytes(), before, "foreign buffers must not be pooled");
}

fn requested_sizes_are_kept_and_reused() {
    let before = pool_bytes();
    drop_output(LEN);
    assert_eq!(pool_bytes(), before + BYTES, "a requested size is kept");
    // The next request takes it back, and its drop returns it: the pool holds one buffer, not 50.
    for _ in 0..50 {
        let out = Cpu.full::<f32>(LEN, 3.0).unwrap();
        assert_eq!(pool_bytes(), before, "the request reused the pooled buffer");
        assert!(out.as_slice().iter().all(|&x| x == 3.0));
        drop(out);
        assert_eq!(pool_bytes(), before + BYTES);
    }
    // Two alive at once are two requests: both are kept, and no more.
    let (a, b) = (Cpu.full::<f32>(LEN, 0.0), Cpu.full::<f32>(LEN, 0.0));
    drop((a, b));
    assert_eq!(pool_bytes(), before + 2 * BYTES);
    for _ in 0..10 {
        drop_foreign(LEN);
    }
    assert_eq!(pool_bytes(), before + 2 * BYTES, "demand already answered");
}

fn a_request_whose_buffer_left_lets_one_buffer_of_its_size_in() {
    set_pool_limit(0);
    set_pool_limit(DEFAULT_LIMIT);
    // The output is moved out (into_vec), so its request is still unanswered...
    let moved = Cpu.full::<f32>(LEN, 1.0).unwrap().into_vec();
    // ...and a buffer of that size answers it: a training loop that hands each step's output
    // to the user and gets the same size back reuses it.
    drop(CpuStorage::from_vec(moved));
    assert_eq!(pool_bytes(), BYTES);
    drop_foreign(LEN);
    assert_eq!(pool_bytes(), BYTES, "only one request was waiting");
}

fn sizes_no_longer_requested_are_released() {
    set_pool_limit(0);
    set_pool_limit(DEFAULT_LIMIT);
    drop_output(LEN);
    assert_eq!(pool_bytes(), BYTES);
    // Another size, requested 4,100 times (more than STALE_REQUESTS): the first buffer is stale.
    let small = (128 << 10) / 4;
    for _ in 0..4_100 {
        drop_output(small);
    }
    assert_eq!(
        pool_bytes(),
        small * 4,
        "only the size still in use is kept"
    );
}

fn a_zero_limit_turns_pooling_off() {
    set_pool_limit(0);
    assert_eq!(pool_bytes(), 0);
    drop_output(LEN);
    assert_eq!(pool_bytes(), 0);
    set_pool_limit(DEFAULT_LIMIT);
}

#[test]
fn the_pool_keeps_only_what_is_reused() {
    set_pool_limit(0);
    set_pool_limit(DEFAULT_LIMIT);
    buffers_nobody_requested_go_back_to_the_allocator();
    requested_sizes_are_kept_and_reused();
    a_request_whose_buffer_left_lets_one_buffer_of_its_size_in();
    sizes_no_longer_requested_are_released();
    a_zero_limit_turns_pooling_off();
}

/// A kernel output too big for the machine (here a 4 TiB broadcast sum of one element) cannot
/// return an error through the kernel's infallible signature, but it must not abort the process
/// without a word either (it did: "memory allocation of 4398046511104 bytes failed"): it panics
/// with the reason, which a caller can catch and a user can read.
#[test]
fn an_output_too_big_for_the_machine_panics_with_the_reason_instead_of_aborting() {
    use nanotorch_ndarray_core::{BinaryOp, Layout};
    let one = Cpu.full::<f32>(1, 1.0).unwrap();
    let everywhere = Layout::new([1 << 20, 1 << 20], vec![0, 0], 0);
    let caught = std::panic::catch_unwind(|| {
        let _ = Cpu.binary(BinaryOp::Add, &one, &everywhere, &one, &everywhere);
    });
    let payload = caught.expect_err("a 4 TiB output cannot be allocated");
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        msg.contains("cannot allocate 1099511627776 elements of f32: 4.0 TiB"),
        "{msg}"
    );
}
