//! The timing rules and output format shared by every workload module. They copy
//! `../shared/bench-peers/torch_bench.py`: 3 warm-up calls, then `repeat` (20) timed calls; the
//! median (the mean of the middle two for an even count, as Python's `statistics.median`) and the
//! minimum, in milliseconds; one JSON line per case.

use nanotorch::array::Backend;
use std::time::Instant;

/// Calls made before timing starts, as torch_bench.py's `timeit(warmup=3)`.
pub const WARMUP: usize = 3;

/// Command-line options of the bench binary (`cargo xtask bench` passes them).
#[derive(Debug, Clone)]
pub struct Bench {
    /// `cpu` or `cuda`.
    pub device: String,
    /// Cases (or case families, e.g. `sgemm`) to run; empty: all.
    pub only: Vec<String>,
    /// The thread count reported in the output (xtask sets the thread variables to match).
    pub threads: usize,
    /// Timed calls per case.
    pub repeat: usize,
}

impl Bench {
    /// Parses `--device`, `--only`, `--threads`, `--repeat`; ignores the `--bench` cargo adds.
    pub fn from_args() -> Result<Bench, String> {
        let mut bench = Bench {
            device: "cpu".into(),
            only: Vec::new(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            repeat: 20,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("`{name}` needs a value"));
            match arg.as_str() {
                "--bench" => {}
                "--device" => bench.device = value("--device")?,
                "--only" => {
                    bench.only = value("--only")?
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                }
                "--threads" => {
                    let v = value("--threads")?;
                    bench.threads = v
                        .parse()
                        .ok()
                        .filter(|&t: &usize| t > 0)
                        .ok_or(format!("--threads wants a positive integer, not `{v}`"))?;
                }
                "--repeat" => {
                    let v = value("--repeat")?;
                    bench.repeat = v
                        .parse()
                        .ok()
                        .filter(|&r: &usize| r > 0)
                        .ok_or(format!("--repeat wants a positive integer, not `{v}`"))?;
                }
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(bench)
    }

    /// Whether `case` is selected: by its full name or by its family (the part before `/`).
    pub fn want(&self, case: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|o| o == case || case.split('/').next() == Some(o.as_str()))
    }

    /// Times `f` by the rules above; `backend.synchronize()` runs before each timer stops, and the
    /// result is dropped inside the timed region (as PyTorch frees its temporary result there).
    pub fn time<B: Backend, T>(
        &self,
        backend: &B,
        mut f: impl FnMut() -> T,
    ) -> Result<(f64, f64), Box<dyn std::error::Error>> {
        for _ in 0..WARMUP {
            let out = f();
            backend.synchronize()?;
            drop(out);
        }
        let mut times = Vec::with_capacity(self.repeat);
        for _ in 0..self.repeat {
            let start = Instant::now();
            let out = f();
            backend.synchronize()?;
            drop(out);
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        Ok((
            median(&mut times),
            times.iter().copied().fold(f64::INFINITY, f64::min),
        ))
    }

    /// Prints one result line: `{"case", "median_ms", "min_ms", <rate>, "threads", "peer"}`.
    pub fn emit(&self, case: &str, (median_ms, min_ms): (f64, f64), rate: Option<(&str, f64)>) {
        let rate = rate.map_or(String::new(), |(k, v)| format!(", \"{k}\": {}", num(v)));
        let device = if self.device == "cpu" {
            String::new()
        } else {
            format!(", \"device\": \"{}\"", self.device)
        };
        println!(
            "{{\"case\": \"{case}\", \"median_ms\": {}, \"min_ms\": {}{rate}, \"threads\": {}, \
             \"peer\": \"nanotorch-{}\"{device}}}",
            num(median_ms),
            num(min_ms),
            self.threads,
            env!("CARGO_PKG_VERSION"),
        );
    }
}

/// A JSON number (`f64` `Display` never prints exponents, but does print `inf`/`NaN`, which
/// JSON lacks).
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

/// Python's `statistics.median`.
fn median(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2.0
    }
}
