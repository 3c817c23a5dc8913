//! One received email: its envelope, who authenticated, and its headers as
//! sent (RFC 5322 header fields, unfolded), so checks can read the ones the
//! Alertmanager config templates.

use crate::data::exporter::now_ms;

/// A message the mail sink received whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// `MAIL FROM`.
    pub envelope_from: String,
    /// Every `RCPT TO`.
    pub envelope_to: Vec<String>,
    /// The user that authenticated, if one did.
    pub auth_user: Option<String>,
    /// Header fields in order, names as sent, values unfolded and trimmed.
    pub headers: Vec<(String, String)>,
    /// Everything after the blank line.
    pub body: String,
    /// When the final `.` arrived, ms since the epoch.
    pub received_at_ms: i64,
}

impl Mail {
    /// Parses the DATA of a message (dot-unstuffed, CRLF line ends).
    pub fn parse(from: &str, to: &[String], auth_user: Option<&str>, data: &str) -> Self {
        let (head, body) = match data.find("\r\n\r\n") {
            Some(i) => (&data[..i], &data[i + 4..]),
            None => match data.find("\n\n") {
                Some(i) => (&data[..i], &data[i + 2..]),
                None => (data, ""),
            },
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            let line = line.trim_end_matches('\r');
            if line.starts_with([' ', '\t']) {
                // A folded continuation of the previous field.
                if let Some((_, v)) = headers.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        Self {
            envelope_from: from.to_owned(),
            envelope_to: to.to_vec(),
            auth_user: auth_user.map(str::to_owned),
            headers,
            body: body.to_owned(),
            received_at_ms: now_ms(),
        }
    }

    /// The first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_unfolded_and_found_in_any_case() {
        let m = Mail::parse(
            "am@x",
            &["oncall@x".into()],
            Some("u"),
            "Subject: [FIRING] A\r\nX-Long: one\r\n two\r\nTo: oncall@x\r\n\r\nbody\r\n",
        );
        assert_eq!(m.header("subject"), Some("[FIRING] A"));
        assert_eq!(m.header("X-LONG"), Some("one two"));
        assert_eq!(m.header("to"), Some("oncall@x"));
        assert_eq!(m.body, "body\r\n");
        assert_eq!(m.auth_user.as_deref(), Some("u"));
    }
}
