//! Semantic versions (semver.org 2.0): parsing with errors a maintainer can act on, and precedence.

use std::cmp::Ordering;
use std::fmt;

/// One dot-separated pre-release identifier: numeric ones compare as numbers and sort first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ident {
    Num(u64),
    Alpha(String),
}

/// `MAJOR.MINOR.PATCH[-PRE][+BUILD]`; the build metadata is kept for printing but has no
/// precedence, as the spec says.
#[derive(Debug, Clone)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<Ident>,
    text: String,
}

fn numeric(part: &str, what: &str, whole: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("`{whole}` is not a version: {what} {why}");
    if part.is_empty() {
        return Err(bad("is empty"));
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("`{part}` is not a number")));
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(bad(&format!("`{part}` has a leading zero")));
    }
    part.parse()
        .map_err(|_| bad(&format!("`{part}` is too large")))
}

fn identifiers(list: &str, what: &str, whole: &str) -> Result<Vec<String>, String> {
    list.split('.')
        .map(|id| {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                Err(format!(
                    "`{whole}` is not a version: {what} identifier `{id}` must be non-empty \
                     ASCII letters, digits or `-`"
                ))
            } else {
                Ok(id.to_string())
            }
        })
        .collect()
}

impl Version {
    /// Parses a semantic version; the error says what is wrong and what is expected.
    pub fn parse(text: &str) -> Result<Version, String> {
        if let Some(rest) = text.strip_prefix(['v', 'V']) {
            return Err(format!(
                "`{text}` is not a version: write `{rest}` (the tag gets its `v` added)"
            ));
        }
        let (rest, build) = match text.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (text, None),
        };
        if let Some(b) = build {
            identifiers(b, "build", text)?;
        }
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3 {
            return Err(format!(
                "`{text}` is not a version: expected MAJOR.MINOR.PATCH, e.g. `0.2.0`"
            ));
        }
        let major = numeric(parts[0], "major", text)?;
        let minor = numeric(parts[1], "minor", text)?;
        let patch = numeric(parts[2], "patch", text)?;
        let mut pre_ids = Vec::new();
        for id in pre
            .map(|p| identifiers(p, "pre-release", text))
            .transpose()?
            .unwrap_or_default()
        {
            if id.bytes().all(|b| b.is_ascii_digit()) {
                pre_ids.push(Ident::Num(numeric(&id, "pre-release", text)?));
            } else {
                pre_ids.push(Ident::Alpha(id));
            }
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre: pre_ids,
            text: text.to_string(),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            // A version without a pre-release ranks above any pre-release of it.
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn precedence_follows_the_semver_spec_example() {
        // The ordering listed in semver.org 2.0, section 11.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        for pair in chain.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert!(v("0.10.0") > v("0.9.9"));
        assert!(v("2.0.0") > v("1.99.99"));
        assert_eq!(v("1.0.0+build.5"), v("1.0.0"));
    }

    #[test]
    fn malformed_versions_are_refused_with_the_reason() {
        for (text, says) in [
            ("0.2", "MAJOR.MINOR.PATCH"),
            ("0.2.0.1", "MAJOR.MINOR.PATCH"),
            ("v0.2.0", "write `0.2.0`"),
            ("0.02.0", "leading zero"),
            ("0.x.0", "`x` is not a number"),
            ("0.2.0-", "pre-release identifier"),
            ("0.2.0-rc..1", "pre-release identifier"),
            ("0.2.0+", "build identifier"),
            ("", "MAJOR.MINOR.PATCH"),
        ] {
            let err = Version::parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
