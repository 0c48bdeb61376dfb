//! Any bytes into the CSV reader, with options taken from the first byte: Ok or Err, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanotorch_data::readers::{parse_csv, CsvOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let options = CsvOptions::default()
        .has_header(flags & 1 != 0)
        .label_column(isize::from((flags >> 1) as i8 >> 2))
        .delimiter(if flags & 0x80 != 0 { b';' } else { b',' })
        // Well under the fuzzer's memory limit, so a gzip bomb exercises the limit's error path
        // instead of tripping `-rss_limit_mb` with the (correct) 1 GiB default.
        .max_decompressed_bytes(16 << 20);
    let _ = parse_csv(rest, &options, "fuzz.csv");
});
