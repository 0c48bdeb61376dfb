//! CSV files of numbers with one integer label column (raw or gzip).
//!
//! Deliberately small: one delimiter byte, no quoting (the files this reads are numbers only),
//! an optional header line, blank lines skipped, `\r\n` accepted. Every value must parse as a
//! finite number; the label as an integer (`3` or `3.0`). Errors name the file, the line (from
//! 1) and the column (from 1).

use super::{gunzip_with_limit, read_file, DEFAULT_MAX_DECOMPRESSED_BYTES};
use crate::TensorDataset;
use nanotorch_ndarray_core::{Error, Result};
use std::path::Path;

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// The label column, from 0; negative counts from the end (`-1`, the default, is the last).
    pub label_column: isize,
    /// Whether the first line is a header to skip (default `false`).
    pub has_header: bool,
    /// The field separator (default `b','`).
    pub delimiter: u8,
    /// The most bytes a gzip-compressed file may inflate to (default
    /// [`DEFAULT_MAX_DECOMPRESSED_BYTES`], 1 GiB); past it the read fails instead of exhausting
    /// memory. Raw (uncompressed) input is not limited: its size is the file's.
    pub max_decompressed_bytes: u64,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            label_column: -1,
            has_header: false,
            delimiter: b',',
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
        }
    }
}

impl CsvOptions {
    /// Sets the label column (negative counts from the end).
    pub fn label_column(mut self, column: isize) -> Self {
        self.label_column = column;
        self
    }

    /// Sets whether the first line is a header.
    pub fn has_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// Sets the field separator.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets the most bytes gzip input may inflate to (see
    /// [`max_decompressed_bytes`](Self::max_decompressed_bytes)).
    pub fn max_decompressed_bytes(mut self, limit: u64) -> Self {
        self.max_decompressed_bytes = limit;
        self
    }
}

/// Parses CSV text held in memory (gzip-compressed or not, inflated at most
/// [`CsvOptions::max_decompressed_bytes`]) into a dataset of `[k]` feature
/// vectors (every column but the label, in order) and integer labels. `name` appears in errors.
pub fn parse_csv(bytes: &[u8], options: &CsvOptions, name: &str) -> Result<TensorDataset> {
    let bytes = gunzip_with_limit(bytes, name, options.max_decompressed_bytes)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Error::msg(format!("{name}: line {line}: not valid UTF-8 text"))
    })?;
    if !options.delimiter.is_ascii() || options.delimiter == b'\n' || options.delimiter == b'\r' {
        return Err(Error::msg(format!(
            "{name}: the CSV delimiter must be an ASCII character other than a line break"
        )));
    }
    let delimiter = char::from(options.delimiter);

    let mut columns: Option<(usize, usize)> = None; // (count, label index)
    let mut features: Vec<f32> = Vec::new();
    let mut labels: Vec<i64> = Vec::new();
    let mut header_pending = options.has_header;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if header_pending {
            header_pending = false;
            continue;
        }
        let count = line.split(delimiter).count();
        let (ncols, label_at) = match columns {
            Some(c) => c,
            None => {
                let c = resolve_label(options.label_column, count).ok_or_else(|| {
                    Error::msg(format!(
                        "{name}: line {line_no}: label column {} does not exist in a row of \
                         {count} columns",
                        options.label_column
                    ))
                })?;
                if count < 2 {
                    return Err(Error::msg(format!(
                        "{name}: line {line_no}: a row needs at least one feature and a label, \
                         found {count} column"
                    )));
                }
                columns = Some((count, c));
                (count, c)
            }
        };
        if count != ncols {
            return Err(Error::msg(format!(
                "{name}: line {line_no}: expected {ncols} columns (as the first row), found {count}"
            )));
        }
        for (col, field) in line.split(delimiter).enumerate() {
            let field = field.trim();
            if col == label_at {
                labels.push(parse_label(field).ok_or_else(|| {
                    Error::msg(format!(
                        "{name}: line {line_no}, column {}: label '{}' is not an integer",
                        col + 1,
                        shorten(field)
                    ))
                })?);
            } else {
                let v = field
                    .parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        Error::msg(format!(
                            "{name}: line {line_no}, column {}: '{}' is not a finite number",
                            col + 1,
                            shorten(field)
                        ))
                    })?;
                features.push(v);
            }
        }
    }
    let Some((ncols, _)) = columns else {
        return Err(Error::msg(format!("{name}: no data rows")));
    };
    TensorDataset::new(features, [ncols - 1], labels)
}

/// Reads a CSV file (raw or gzip) with [`parse_csv`].
pub fn read_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<TensorDataset> {
    let path = path.as_ref();
    parse_csv(&read_file(path)?, options, &path.display().to_string())
}

fn resolve_label(column: isize, count: usize) -> Option<usize> {
    let c = if column < 0 {
        count.checked_sub(column.unsigned_abs())?
    } else {
        column as usize
    };
    (c < count).then_some(c)
}

fn parse_label(field: &str) -> Option<i64> {
    if let Ok(v) = field.parse::<i64>() {
        return Some(v);
    }
    let v = field.parse::<f64>().ok()?;
    // Integral and well inside i64 (±2^53, where f64 integers are exact).
    (v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0).then_some(v as i64)
}

/// A field cut to at most 40 characters for a message.
fn shorten(field: &str) -> String {
    let mut s: String = field.chars().take(40).collect();
    if s.len() < field.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::idx::tests::gzip;
    use crate::Dataset;

    fn parse(text: &str, o: &CsvOptions) -> Result<TensorDataset> {
        parse_csv(text.as_bytes(), o, "d.csv")
    }

    #[test]
    fn parses_with_default_last_label_and_gzip() {
        let text = "1,2,0\n3.5,-4,1\r\n\n";
        for bytes in [text.as_bytes().to_vec(), gzip(text.as_bytes())] {
            let d = parse_csv(&bytes, &CsvOptions::default(), "d.csv").unwrap();
            assert_eq!(d.len(), 2);
            assert_eq!(d.sample_shape().dims(), &[2]);
            assert_eq!(d.features(), &[1.0, 2.0, 3.5, -4.0]);
            assert_eq!(d.labels(), &[0, 1]);
        }
    }

    #[test]
    fn header_label_column_and_delimiter() {
        let o = CsvOptions::default()
            .label_column(0)
            .has_header(true)
            .delimiter(b';');
        let d = parse("y;a;b\n2;1.0;2\n 3 ; 4 ;5\n", &o).unwrap();
        assert_eq!(d.labels(), &[2, 3]);
        assert_eq!(d.features(), &[1.0, 2.0, 4.0, 5.0]);
        let d = parse("1,7.0,2\n", &CsvOptions::default().label_column(-2)).unwrap();
        assert_eq!(d.labels(), &[7]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let o = CsvOptions::default();
        let e = parse("1,2,0\n1,x,0\n", &o).unwrap_err().to_string();
        assert!(
            e.contains("d.csv: line 2, column 2") && e.contains("'x'"),
            "{e}"
        );
        let e = parse("1,2,0\n\n1,2\n", &o).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("expected 3 columns"),
            "{e}"
        );
        let e = parse("1,2,0.5\n", &o).unwrap_err().to_string();
        assert!(
            e.contains("column 3") && e.contains("not an integer"),
            "{e}"
        );
        assert!(parse("1,nan,0\n", &o)
            .unwrap_err()
            .to_string()
            .contains("finite"));
        assert!(parse("", &o)
            .unwrap_err()
            .to_string()
            .contains("no data rows"));
        assert!(parse("a,b\n", &o.clone().has_header(true)).is_err());
        assert!(parse("1,2\n", &o.clone().label_column(2)).is_err());
        assert!(parse("1,2\n", &o.clone().label_column(-3)).is_err());
        assert!(parse("1\n", &o).is_err());
        let e = parse_csv(b"1,2\n\xff,0\n", &o, "d.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
        assert!(parse("1,2\n", &o.clone().delimiter(b'\n')).is_err());
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 1 MiB of "0,0\n" rows compresses to a few KB.
        let rows = "0,0\n".repeat(1 << 18);
        let bomb = gzip(rows.as_bytes());
        assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
        let o = CsvOptions::default().max_decompressed_bytes(1 << 18);
        let e = parse_csv(&bomb, &o, "bomb.csv.gz").unwrap_err().to_string();
        assert!(
            e.contains("bomb.csv.gz") && e.contains("more than 262144 bytes"),
            "{e}"
        );
        // With the limit raised to fit, the same file reads.
        let o = o.max_decompressed_bytes(1 << 20);
        assert_eq!(parse_csv(&bomb, &o, "bomb.csv.gz").unwrap().len(), 1 << 18);
        assert_eq!(
            CsvOptions::default().max_decompressed_bytes,
            DEFAULT_MAX_DECOMPRESSED_BYTES
        );
    }
}
