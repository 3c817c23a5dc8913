//! The one way every rendered config becomes YAML text: typed structs
//! serialized by `serde-saphyr`, so quoting and nesting are the
//! serializer's job and never a format string's.

use serde::Serialize;

/// `value` as a YAML document, `header` (comment lines, each ending in a
/// newline) in front.
///
/// Long strings stay on one line (no folded `>` blocks): the Alertmanager
/// templates are longer than the folding width, and a file someone opens
/// in a run directory reads best with each value where its key is.
pub fn render<T: Serialize>(header: &str, value: &T) -> String {
    let options = serde_saphyr::ser_options! {
        prefer_block_scalars: false,
    };
    let body = serde_saphyr::to_string_with_options(value, options)
        // Only maps with non-string keys or failing `Serialize` impls can
        // fail: the configs are derived structs of strings, numbers and
        // lists.
        .expect("a config struct always serializes to YAML");
    format!("{header}{body}")
}

/// What a reader gets from rendered YAML: the tests compare this, so they
/// pin the meaning and not the quoting or key order.
#[cfg(test)]
pub fn parsed(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap()
}
