//! Secrets generated per run: never fixed in code, never printed.

use rand::Rng;
use rand::distr::Alphanumeric;

/// `n` random ASCII letters and digits, from the thread's CSPRNG.
pub fn random_word(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}
