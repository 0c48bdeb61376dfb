//! The softmax family along the last axis as one op description, which a backend may run as a
//! fused kernel (one or two passes per row, the row in cache) instead of the five kernels and
//! four temporaries of the composed form.

/// Which softmax along the last axis: `softmax(scale·x)` or `log_softmax(scale·x)`, optionally
/// with attention's causal mask over the last two axes `[L, S]` (query `i` sees keys `j ≤ i`;
/// the others get weight 0, or `−∞` for log).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softmax {
    /// `log_softmax` rather than `softmax`.
    pub log: bool,
    /// The factor applied to the input first (1 for plain softmax, `1/√d` in attention).
    pub scale: f64,
    /// Whether the causal mask applies (needs at least 2 axes).
    pub causal: bool,
}

impl Softmax {
    /// Plain `softmax(x)` along the last axis.
    pub const PLAIN: Softmax = Softmax {
        log: false,
        scale: 1.0,
        causal: false,
    };
    /// Plain `log_softmax(x)` along the last axis.
    pub const LOG: Softmax = Softmax {
        log: true,
        scale: 1.0,
        causal: false,
    };

    /// The keys row `row` of a `[..., L, S]` array may attend to: all `S`, or `row mod L + 1`
    /// under the causal mask (never more than `S`).
    pub fn visible(self, row: usize, (l, s): (usize, usize)) -> usize {
        if self.causal {
            (row % l.max(1) + 1).min(s)
        } else {
            s
        }
    }
}
