//! CHANGELOG.md in the Keep a Changelog style (keepachangelog.com 1.1): the release moves the
//! `## [Unreleased]` section under `## [X.Y.Z] - YYYY-MM-DD` and leaves an empty Unreleased
//! section above it; the link references at the bottom follow when they use GitHub's forms.

use std::time::{SystemTime, UNIX_EPOCH};

const UNRELEASED: &str = "## [Unreleased]";

/// Whether a line is a Markdown link reference definition, `[label]: url`.
fn is_link_reference(line: &str) -> bool {
    line.starts_with('[') && line.contains("]: ")
}

/// What a release does to the changelog: the new text and the released section's body (for
/// the tag message).
#[derive(Debug)]
pub struct Released {
    pub text: String,
    pub notes: String,
}

/// Moves the Unreleased section under `## [version] - date`.
///
/// Refuses a changelog without an Unreleased heading, one whose Unreleased section says nothing
/// (only category headings), and one that already has a section for `version`.
pub fn release(text: &str, version: &str, date: &str) -> Result<Released, String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == UNRELEASED)
        .ok_or_else(|| format!("CHANGELOG.md has no `{UNRELEASED}` heading"))?;
    let heading = format!("## [{version}]");
    if lines.iter().any(|l| l.starts_with(&heading)) {
        return Err(format!("CHANGELOG.md already has a `{heading}` section"));
    }
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("## ") || is_link_reference(l))
        .map_or(lines.len(), |i| start + 1 + i);
    let body = &lines[start + 1..end];
    let says_something = body
        .iter()
        .any(|l| !l.trim().is_empty() && !l.starts_with("### "));
    if !says_something {
        return Err(format!(
            "CHANGELOG.md: the `{UNRELEASED}` section is empty; write what {version} changes first"
        ));
    }
    // The body without its surrounding blank lines; empty category headings are dropped.
    let mut kept: Vec<&str> = Vec::new();
    for (i, line) in body.iter().enumerate() {
        if line.starts_with("### ") {
            let next_heading = body[i + 1..]
                .iter()
                .position(|l| l.starts_with("### "))
                .map_or(body.len(), |j| i + 1 + j);
            if body[i + 1..next_heading]
                .iter()
                .all(|l| l.trim().is_empty())
            {
                continue;
            }
        }
        kept.push(line);
    }
    let first = kept.iter().position(|l| !l.trim().is_empty()).unwrap_or(0);
    let last = kept.iter().rposition(|l| !l.trim().is_empty()).unwrap_or(0);
    let notes = kept[first..=last].join("\n");

    let mut out: Vec<String> = lines[..=start].iter().map(|l| l.to_string()).collect();
    out.push(String::new());
    out.push(format!("{heading} - {date}"));
    out.push(String::new());
    out.push(notes.clone());
    out.push(String::new());
    for line in &lines[end..] {
        if let Some(url) = line.strip_prefix("[Unreleased]: ") {
            out.extend(release_links(url, version));
        } else {
            out.push(line.to_string());
        }
    }
    let mut text_out = out.join("\n");
    text_out.push('\n');
    Ok(Released {
        text: text_out,
        notes,
    })
}

/// The `[Unreleased]` reference after the release and the new version's reference:
/// `BASE/compare/PREV...HEAD` becomes `BASE/compare/vX...HEAD` plus `[X]: BASE/compare/PREV...vX`;
/// `BASE/commits/…` (no release yet) becomes the compare link plus `[X]: BASE/releases/tag/vX`.
/// Other forms are kept as they are.
fn release_links(url: &str, version: &str) -> Vec<String> {
    let tag = format!("v{version}");
    if let Some((base, range)) = url.rsplit_once("/compare/") {
        if let Some(prev) = range.strip_suffix("...HEAD") {
            return vec![
                format!("[Unreleased]: {base}/compare/{tag}...HEAD"),
                format!("[{version}]: {base}/compare/{prev}...{tag}"),
            ];
        }
    }
    if let Some((base, _)) = url.rsplit_once("/commits/") {
        return vec![
            format!("[Unreleased]: {base}/compare/{tag}...HEAD"),
            format!("[{version}]: {base}/releases/tag/{tag}"),
        ];
    }
    vec![format!("[Unreleased]: {url}")]
}

/// The proleptic Gregorian date `days` days after 1970-01-01 (H. Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Today's date in UTC as `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str =
        "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n### Added\n\n- Scalar engine.\n\n\
                          ### Fixed\n\n## [0.1.0] - 2026-01-01\n\n### Added\n\n- Arrays.\n\n\
                          [Unreleased]: https://github.com/o/r/compare/v0.1.0...HEAD\n\
                          [0.1.0]: https://github.com/o/r/releases/tag/v0.1.0\n";

    #[test]
    fn unreleased_moves_under_the_version_and_links_follow() {
        let r = release(BEFORE, "0.2.0", "2026-12-02").unwrap();
        let expected = "# Changelog\n\nIntro.\n\n## [Unreleased]\n\n## [0.2.0] - 2026-12-02\n\n\
                        ### Added\n\n- Scalar engine.\n\n## [0.1.0] - 2026-01-01\n\n### Added\n\n- Arrays.\n\n\
                        [Unreleased]: https://github.com/o/r/compare/v0.2.0...HEAD\n\
                        [0.2.0]: https://github.com/o/r/compare/v0.1.0...v0.2.0\n\
                        [0.1.0]: https://github.com/o/r/releases/tag/v0.1.0\n";
        assert_eq!(r.text, expected);
        assert_eq!(r.notes, "### Added\n\n- Scalar engine.");
    }

    #[test]
    fn first_release_links_to_its_tag() {
        let text =
            "## [Unreleased]\n\n- One.\n\n[Unreleased]: https://github.com/o/r/commits/main\n";
        let r = release(text, "0.2.0", "2026-12-02").unwrap();
        assert!(r.text.ends_with(
            "[Unreleased]: https://github.com/o/r/compare/v0.2.0...HEAD\n\
             [0.2.0]: https://github.com/o/r/releases/tag/v0.2.0\n"
        ));
    }

    #[test]
    fn refuses_empty_missing_or_repeated_sections() {
        let empty = "## [Unreleased]\n\n### Added\n\n### Fixed\n\n## [0.1.0] - 2026-01-01\n";
        let err = release(empty, "0.2.0", "d").unwrap_err();
        assert!(err.contains("empty"), "{err}");
        let err = release("# Changelog\n", "0.2.0", "d").unwrap_err();
        assert!(err.contains("no `## [Unreleased]`"), "{err}");
        let err = release(BEFORE, "0.1.0", "d").unwrap_err();
        assert!(err.contains("already has"), "{err}");
    }

    #[test]
    fn calendar_dates_from_day_numbers() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        // 2000 was a leap year (divisible by 400): day 11_016 is 2000-02-29.
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        let t = today();
        assert_eq!(t.len(), 10, "{t}");
    }
}
