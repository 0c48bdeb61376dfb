//! The shared backend conformance suite, run for `Cpu` (one test per family so failures are
//! reported separately and the families run in parallel).

use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::conformance as c;

#[test]
fn creation() {
    c::check_creation(&Cpu);
}
#[test]
fn copy() {
    c::check_copy(&Cpu);
}
#[test]
fn cast() {
    c::check_cast(&Cpu);
}
#[test]
fn unary() {
    c::check_unary(&Cpu);
}
#[test]
fn lstm_cell() {
    c::check_lstm_cell(&Cpu);
}
#[test]
fn lstm_recurrence() {
    c::check_lstm_recurrence(&Cpu);
}
#[test]
fn binary() {
    c::check_binary(&Cpu);
}
#[test]
fn scalar() {
    c::check_scalar(&Cpu);
}
#[test]
fn inplace() {
    c::check_inplace(&Cpu);
}
#[test]
fn axpby() {
    c::check_axpby(&Cpu);
}

#[test]
fn where_cond() {
    c::check_where(&Cpu);
}
#[test]
fn reduce() {
    c::check_reduce(&Cpu);
}
#[test]
fn arg_reduce() {
    c::check_arg_reduce(&Cpu);
}
#[test]
fn matmul() {
    c::check_matmul(&Cpu);
}
#[test]
fn indexing() {
    c::check_indexing(&Cpu);
}
#[test]
fn im2col() {
    c::check_im2col(&Cpu);
}
#[test]
fn window_argmax() {
    c::check_window_argmax(&Cpu);
}
#[test]
fn random() {
    c::check_random(&Cpu);
}
#[test]
fn large() {
    c::check_large(&Cpu);
}
#[test]
fn errors() {
    c::check_errors(&Cpu);
}
