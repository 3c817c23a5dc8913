//! Thanos' `objstore.yml` (type S3), read and written: the one credentials
//! file format a user already has for a staging bucket, and the one
//! `stackproof up` hands out for its own.

use std::path::Path;

use serde::Deserialize;

use crate::client::objstore::{S3Credentials, S3Target};

/// Errors reading an objstore file.
#[derive(Debug, thiserror::Error)]
pub enum ObjstoreFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

// Thanos accepts many more keys (sse_config, http_config, …): they are
// left alone here, so no `deny_unknown_fields`.
#[derive(Deserialize)]
struct File {
    #[serde(rename = "type")]
    kind: String,
    config: Config,
}

#[derive(Deserialize)]
struct Config {
    bucket: String,
    endpoint: String,
    #[serde(default)]
    region: Option<String>,
    access_key: String,
    secret_key: String,
    #[serde(default)]
    insecure: bool,
}

/// Reads an S3 objstore file as Thanos does.
pub fn read(path: &Path) -> Result<S3Target, ObjstoreFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ObjstoreFileError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text).map_err(|message| ObjstoreFileError::Parse {
        path: shown,
        message,
    })
}

/// Parses the text of an S3 objstore file. Errors never quote the secret.
pub fn parse(text: &str) -> Result<S3Target, String> {
    let f: File = serde_saphyr::from_str(text).map_err(|e| {
        let at = e.location().map_or(String::new(), |l| {
            format!("line {} column {}: ", l.line(), l.column())
        });
        // Only the first line: the parser's snippet could show the secret.
        let first = e.to_string().lines().next().unwrap_or_default().to_owned();
        format!("{at}{}", first.rsplit(": ").next().unwrap_or_default())
    })?;
    if !f.kind.eq_ignore_ascii_case("s3") {
        return Err(format!("type `{}` where S3 expected", f.kind));
    }
    let c = f.config;
    Ok(S3Target {
        endpoint: c.endpoint,
        bucket: c.bucket,
        region: c.region.unwrap_or_else(|| "us-east-1".into()),
        insecure: c.insecure,
        credentials: S3Credentials {
            access_key: c.access_key,
            secret_key: c.secret_key,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_stack_writes_for_thanos() {
        let t = S3Target {
            endpoint: "127.0.0.1:9000".into(),
            bucket: "b".into(),
            region: "us-east-1".into(),
            insecure: true,
            credentials: S3Credentials::generate(),
        };
        let back = parse(&crate::stack::config::thanos_objstore(&t)).unwrap();
        assert_eq!(back.endpoint, t.endpoint);
        assert_eq!(back.bucket, "b");
        assert!(back.insecure);
        assert_eq!(back.credentials, t.credentials);
    }

    #[test]
    fn other_types_and_bad_files_are_named_without_the_secret() {
        let m = parse(
            "type: GCS\nconfig: {bucket: b, endpoint: e, access_key: a, secret_key: s3cr3t}\n",
        )
        .unwrap_err();
        assert_eq!(m, "type `GCS` where S3 expected");
        let m = parse("type: S3\nconfig:\n  bucket: b\n  secret_key: s3cr3t\n").unwrap_err();
        assert!(m.contains("missing field `endpoint`"), "{m}");
        assert!(!m.contains("s3cr3t"), "{m}");
    }
}
