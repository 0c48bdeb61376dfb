//! Math written for GitHub, rewritten for mdBook's MathJax.
//!
//! Chapters write math the way GitHub renders it: display math in ```` ```math ```` blocks and
//! inline math as `` $`…`$ ``. rustdoc (which compiles the chapters as doctests) and any plain
//! viewer show both as LaTeX in code, which reads fine, and a `math` block is not Rust, so it is
//! never compiled.
//!
//! mdBook renders math with MathJax, which looks for `\[ … \]` and `\( … \)` in the page's text.
//! Written as they are, mdBook's markdown parser would eat the backslashes and turn `_` and `*`
//! into emphasis first. So the staged copy of a chapter gets those delimiters with every ASCII
//! punctuation character backslash-escaped: CommonMark turns `\x` into a literal `x` for any ASCII
//! punctuation `x`, so the page's text is the LaTeX exactly as written, and smart punctuation
//! leaves escaped characters alone.

/// A chapter rewritten for mdBook, and every formula in it as the page's text must show it
/// (delimiters included), for checking the built HTML.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// The markdown mdBook reads.
    pub markdown: String,
    /// Each formula as MathJax will find it in the page: `\[ … \]` or `\( … \)`.
    pub formulas: Vec<String>,
}

/// An open fenced block: its fence character and length, and, for a `math` block, what it holds.
struct Fence {
    ch: char,
    len: usize,
    math: Option<MathBlock>,
}

struct MathBlock {
    indent: String,
    first_line: usize,
    lines: Vec<String>,
}

/// Rewrites `text` (one chapter's markdown); an error for a `math` block that is never closed.
pub fn rewrite(text: &str) -> Result<Rewritten, String> {
    let mut done = Rewritten::default();
    let mut prose = String::new();
    let mut fence: Option<Fence> = None;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        match &mut fence {
            None => match fence_open(line) {
                Some((indent, ch, len, info)) => {
                    inline(&prose, &mut done);
                    prose.clear();
                    let math = (info == "math").then(|| MathBlock {
                        indent: indent.to_string(),
                        first_line: n + 1,
                        lines: Vec::new(),
                    });
                    if math.is_none() {
                        done.markdown.push_str(line);
                    }
                    fence = Some(Fence { ch, len, math });
                }
                None => prose.push_str(line),
            },
            Some(open) => {
                let closes = is_fence_close(line, open.ch, open.len);
                match &mut open.math {
                    Some(block) if closes => display(block, &mut done),
                    Some(block) => block.lines.push(line.trim().to_string()),
                    None => done.markdown.push_str(line),
                }
                if closes {
                    fence = None;
                }
            }
        }
    }
    if let Some(Fence {
        math: Some(block), ..
    }) = fence
    {
        return Err(format!(
            "the ```math block opened on line {} is never closed",
            block.first_line
        ));
    }
    inline(&prose, &mut done);
    Ok(done)
}

/// `(indent, fence char, fence length, info string)` if `line` opens a fenced block.
fn fence_open(line: &str) -> Option<(&str, char, usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    let indent = &line[..line.len() - trimmed.len()];
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == ch).count();
    let info = trimmed[len..].trim();
    // A backtick fence's info string may not contain a backtick (it would be a code span).
    (len >= 3 && !(ch == '`' && info.contains('`'))).then_some((indent, ch, len, info))
}

fn is_fence_close(line: &str, ch: char, len: usize) -> bool {
    let t = line.trim();
    t.len() >= len && t.chars().all(|c| c == ch)
}

/// A display formula as a paragraph of its own (blank lines around it, none inside, which would
/// end the paragraph), indented like its fence so that it stays inside a list item.
fn display(block: &MathBlock, done: &mut Rewritten) {
    let latex: Vec<&str> = block
        .lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.is_empty())
        .collect();
    let formula = format!("\\[\n{}\n\\]", latex.join("\n"));
    done.markdown.push('\n');
    for line in formula.lines() {
        done.markdown.push_str(&block.indent);
        done.markdown.push_str(&escape(line));
        done.markdown.push('\n');
    }
    done.markdown.push('\n');
    done.formulas.push(formula);
}

/// Copies prose, turning each `` $`…`$ `` into an escaped `\( … \)` and leaving code spans and
/// backslash escapes as they are.
fn inline(prose: &str, done: &mut Rewritten) {
    let chars: Vec<char> = prose.chars().collect();
    let out = &mut done.markdown;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            out.extend(&chars[i..i + 2]);
            i += 2;
            continue;
        }
        let math = c == '$' && chars.get(i + 1) == Some(&'`');
        let ticks_at = if math { i + 1 } else { i };
        if chars[ticks_at] != '`' {
            out.push(c);
            i += 1;
            continue;
        }
        let run = backtick_run(&chars, ticks_at);
        let body = ticks_at + run;
        let close = find_closing_run(&chars, body, run)
            .filter(|&end| !math || chars.get(end + run) == Some(&'$'));
        match close {
            Some(end) if math => {
                let latex: String = chars[body..end].iter().collect();
                let latex = latex.split_whitespace().collect::<Vec<_>>().join(" ");
                let formula = format!("\\({latex}\\)");
                out.push_str(&escape(&formula));
                done.formulas.push(formula);
                i = end + run + 1;
            }
            Some(end) => {
                out.extend(&chars[i..end + run]);
                i = end + run;
            }
            None => {
                // No closing run: the backticks are literal text.
                out.extend(&chars[i..body]);
                i = body;
            }
        }
    }
}

fn backtick_run(chars: &[char], at: usize) -> usize {
    chars[at..].iter().take_while(|c| **c == '`').count()
}

/// The start of the first run of exactly `run` backticks at or after `from`.
fn find_closing_run(chars: &[char], from: usize, run: usize) -> Option<usize> {
    let mut j = from;
    while j < chars.len() {
        if chars[j] == '`' {
            let len = backtick_run(chars, j);
            if len == run {
                return Some(j);
            }
            j += len;
        } else {
            j += 1;
        }
    }
    None
}

/// `s` with a backslash before every ASCII punctuation character: CommonMark's escapes, which
/// render each as itself.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What CommonMark makes of backslash escapes (the only markdown the rewritten math holds).
    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match chars.peek() {
                Some(&next) if c == '\\' && next.is_ascii_punctuation() => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push(c),
            }
        }
        out
    }

    #[test]
    fn escaped_latex_reads_back_as_written() {
        let latex = r"\frac{\partial L}{\partial x_i} = \sum_j g_j\,y_j (\delta_{ij} - y_i) \\ a*b < c & 'd'";
        let escaped = escape(latex);
        assert_eq!(unescape(&escaped), latex);
        assert_eq!(escape("x_i*2"), "x\\_i\\*2");
    }

    #[test]
    fn a_math_block_becomes_an_escaped_display_paragraph() {
        let text = "Text before.\n```math\n\\frac{a}{b_i}\n\n= c\n```\nAfter.\n";
        let done = rewrite(text).unwrap();
        assert_eq!(done.formulas, ["\\[\n\\frac{a}{b_i}\n= c\n\\]"]);
        let expected = format!(
            "Text before.\n\n{}\n{}\n{}\n{}\n\nAfter.\n",
            escape("\\["),
            escape("\\frac{a}{b_i}"),
            escape("= c"),
            escape("\\]")
        );
        assert_eq!(done.markdown, expected);
        assert!(!done.markdown.contains("```"));
    }

    #[test]
    fn a_math_block_in_a_list_item_keeps_its_indent() {
        let done = rewrite("- item\n\n  ```math\n  x^2\n  ```\n").unwrap();
        assert!(
            done.markdown.contains(&format!("\n  {}\n", escape("x^2"))),
            "{}",
            done.markdown
        );
    }

    #[test]
    fn inline_math_is_rewritten_and_code_is_not() {
        let text = "The slope $`\\partial y/\\partial x_i`$ and `code $`x`$` and\n\
                    ```rust\nlet s = \"$`y`$\";\n```\n";
        let done = rewrite(text).unwrap();
        assert_eq!(done.formulas, ["\\(\\partial y/\\partial x_i\\)"]);
        assert!(done.markdown.starts_with(&format!(
            "The slope {} and `code $`x`$` and\n",
            escape(&done.formulas[0])
        )));
        assert!(done
            .markdown
            .ends_with("```rust\nlet s = \"$`y`$\";\n```\n"));
    }

    #[test]
    fn text_without_math_is_unchanged() {
        let text = "# Title\n\nA `span`, a \\`literal backtick, a lone $ and ``a ` b``.\n\n~~~text\n$`x`$\n~~~\n";
        assert_eq!(rewrite(text).unwrap().markdown, text);
        assert!(rewrite(text).unwrap().formulas.is_empty());
    }

    #[test]
    fn an_unclosed_math_block_is_an_error_naming_its_line() {
        let err = rewrite("a\n\n```math\nx\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
    }
}
