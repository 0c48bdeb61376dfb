//! Decompression bombs against the readers, with memory measured exactly by the shared
//! per-thread counting allocator (`support/counting_alloc.rs`).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::peak_bytes;
use flate2::{write::GzEncoder, Compression};
use nanotorch_data::readers::{parse_csv, parse_idx, CsvOptions};
use std::io::Write;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn an_idx_header_declaring_gigabytes_is_refused_before_inflating() {
    // Declares 2 GiB of u8 and carries 32 MiB of zeros (a 32 KB file): the reader used to inflate
    // all of it before noticing the size mismatch.
    let mut raw = vec![0, 0, 0x08, 1];
    raw.extend_from_slice(&(1u32 << 31).to_be_bytes());
    raw.resize(raw.len() + (32 << 20), 0);
    let bomb = gzip(&raw);
    drop(raw);
    let (result, peak) = peak_bytes(|| parse_idx(&bomb, "bomb.idx.gz"));
    let e = result.unwrap_err().to_string();
    assert!(e.contains("bomb.idx.gz") && e.contains("byte limit"), "{e}");
    assert!(
        peak < 1 << 20,
        "{peak} bytes allocated for a {}-byte file",
        bomb.len()
    );
}

#[test]
fn a_csv_bomb_allocates_no_more_than_its_limit() {
    // 64 MiB of zeros in a 64 KB file, read with a 1 MiB limit.
    let bomb = gzip(&vec![b'0'; 64 << 20]);
    let limit = 1 << 20;
    let options = CsvOptions::default().max_decompressed_bytes(limit);
    let (result, peak) = peak_bytes(|| parse_csv(&bomb, &options, "bomb.csv.gz"));
    let e = result.unwrap_err().to_string();
    assert!(e.contains("more than 1048576 bytes"), "{e}");
    // The limit plus the decompressor's own state (its window and a read buffer).
    assert!(peak < 2 * limit as usize, "{peak} bytes allocated");
}
