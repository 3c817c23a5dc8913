//! The harness's own S3 client (aws-sdk-s3): creates the bucket, lists and
//! reads what the components wrote.

use std::fmt;

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};

/// Credentials generated per run. `Debug` and `Display` never show the
/// secret.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    pub access_key: String,
    pub secret_key: String,
}

impl S3Credentials {
    /// Fresh random credentials.
    pub fn generate() -> Self {
        Self {
            access_key: format!("sp{}", crate::secret::random_word(14)),
            secret_key: crate::secret::random_word(32),
        }
    }
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"[REDACTED]")
            .finish()
    }
}

/// Where the bucket is and how to reach it.
#[derive(Clone, Debug)]
pub struct S3Target {
    /// `host:port`, no scheme (what Thanos wants).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Plain HTTP (true on the local platform).
    pub insecure: bool,
    pub credentials: S3Credentials,
}

impl S3Target {
    /// The endpoint URL with its scheme.
    pub fn url(&self) -> String {
        let scheme = if self.insecure { "http" } else { "https" };
        format!("{scheme}://{}", self.endpoint)
    }
}

/// Errors from the object store.
#[derive(Debug, thiserror::Error)]
pub enum ObjstoreError {
    #[error("S3 {op} on {endpoint}/{bucket}: {message}")]
    S3 {
        op: &'static str,
        endpoint: String,
        bucket: String,
        message: String,
    },
    /// The server answered, and refused who we said we were.
    #[error(
        "S3 {op} on {endpoint}/{bucket}: the credentials were refused ({code}) for access key `{access_key}`\nhint: check the access key and secret key (an objstore.yml's config.access_key and config.secret_key; on the cluster platform STACKPROOF_S3_ACCESS_KEY_ID and STACKPROOF_S3_SECRET_ACCESS_KEY)"
    )]
    Refused {
        op: &'static str,
        endpoint: String,
        bucket: String,
        access_key: String,
        code: String,
    },
}

/// S3 error codes that mean "not these credentials" (a HEAD request has no
/// body, hence no code: its 403 says the same).
const REFUSED: &[&str] = &[
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AccessDenied",
    "InvalidToken",
];

/// One object in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// An S3 client bound to one bucket.
#[derive(Clone, Debug)]
pub struct Objstore {
    target: S3Target,
    client: aws_sdk_s3::Client,
}

impl Objstore {
    /// A client for `target`.
    pub fn new(target: S3Target) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let creds = Credentials::new(
            &target.credentials.access_key,
            &target.credentials.secret_key,
            None,
            None,
            "stackproof",
        );
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(target.region.clone()))
            .endpoint_url(target.url())
            .credentials_provider(creds)
            .force_path_style(true)
            .http_client(http)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(conf),
            target,
        }
    }

    /// The target.
    pub fn target(&self) -> &S3Target {
        &self.target
    }

    fn err<E>(
        &self,
        op: &'static str,
        e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> ObjstoreError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + fmt::Debug,
    {
        let code = e
            .as_service_error()
            .and_then(|s| s.code())
            .map(str::to_owned);
        let forbidden = e.raw_response().is_some_and(|r| r.status().as_u16() == 403);
        let refused = match code {
            Some(c) if REFUSED.contains(&c.as_str()) => Some(c),
            None if forbidden => Some("HTTP 403 Forbidden".to_owned()),
            _ => None,
        };
        if let Some(code) = refused {
            return ObjstoreError::Refused {
                op,
                endpoint: self.target.endpoint.clone(),
                bucket: self.target.bucket.clone(),
                access_key: self.target.credentials.access_key.clone(),
                code,
            };
        }
        self.other(op, e)
    }

    /// Any other failure, described by its debug output (secrets redacted).
    fn other(&self, op: &'static str, e: impl fmt::Debug) -> ObjstoreError {
        let message = format!("{e:?}");
        // The SDK's debug output can echo request headers: keep secrets out.
        let message = crate::process::redact(
            &message,
            std::slice::from_ref(&self.target.credentials.secret_key),
        );
        ObjstoreError::S3 {
            op,
            endpoint: self.target.endpoint.clone(),
            bucket: self.target.bucket.clone(),
            message: message.chars().take(600).collect(),
        }
    }

    /// Creates the bucket (an existing one is fine).
    pub async fn create_bucket(&self) -> Result<(), ObjstoreError> {
        match self
            .client
            .create_bucket()
            .bucket(&self.target.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e
                    .as_service_error()
                    .and_then(|s| s.meta().code().map(str::to_owned));
                if matches!(
                    code.as_deref(),
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                ) {
                    Ok(())
                } else {
                    Err(self.err("CreateBucket", e))
                }
            }
        }
    }

    /// Succeeds when the bucket exists and the credentials may read it.
    pub async fn head_bucket(&self) -> Result<(), ObjstoreError> {
        self.client
            .head_bucket()
            .bucket(&self.target.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.err("HeadBucket", e))
    }

    /// Every object under `prefix`, in key order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ObjstoreError> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let resp = self
                .client
                .list_objects_v2()
                .bucket(&self.target.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.err("ListObjectsV2", e))?;
            for o in resp.contents() {
                out.push(ObjectInfo {
                    key: o.key().unwrap_or_default().to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                });
            }
            match resp.next_continuation_token() {
                Some(t) if resp.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Writes one object.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjstoreError> {
        self.client
            .put_object()
            .bucket(&self.target.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.err("PutObject", e))
    }

    /// Every bucket the credentials can see, by name.
    pub async fn list_buckets(&self) -> Result<Vec<String>, ObjstoreError> {
        let resp = self
            .client
            .list_buckets()
            .send()
            .await
            .map_err(|e| self.err("ListBuckets", e))?;
        let mut names: Vec<String> = resp
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Deletes one object (a missing one is fine: S3 says so too).
    pub async fn delete(&self, key: &str) -> Result<(), ObjstoreError> {
        self.client
            .delete_object()
            .bucket(&self.target.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.err("DeleteObject", e))
    }

    /// Deletes every object of the bucket; returns how many.
    pub async fn empty(&self) -> Result<usize, ObjstoreError> {
        let objects = self.list("").await?;
        for o in &objects {
            self.delete(&o.key).await?;
        }
        Ok(objects.len())
    }

    /// The bytes of one object.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, ObjstoreError> {
        let resp = self
            .client
            .get_object()
            .bucket(&self.target.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.err("GetObject", e))?;
        let bytes = resp
            .body
            .collect()
            .await
            .map_err(|e| self.other("GetObject body", e))?;
        Ok(bytes.into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_random_and_never_debug_printed() {
        let a = S3Credentials::generate();
        let b = S3Credentials::generate();
        assert_ne!(a, b);
        assert_eq!(a.secret_key.len(), 32);
        let shown = format!("{a:?}");
        assert!(!shown.contains(&a.secret_key), "{shown}");
        assert!(shown.contains("[REDACTED]"));
    }
}
