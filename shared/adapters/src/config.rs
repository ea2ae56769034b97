//! Settings and AWS clients, built once per execution environment.
//!
//! Clients come from `aws-config`'s default chain, so the same binary talks to AWS, to
//! LocalStack or to moto purely through `AWS_ENDPOINT_URL`, `AWS_REGION` and the
//! standard credential variables: no "local mode" in function code.

use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::Error;

/// A required environment variable, set by the deployment template.
pub fn setting(name: &'static str) -> Result<String, Error> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(Error::MissingSetting(name)),
    }
}

/// A numeric setting, such as a rate; refused unless it is a positive number.
pub fn number_setting(name: &'static str) -> Result<f64, Error> {
    setting(name)?.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0).ok_or(Error::MissingSetting(name))
}

/// How long a table keeps its items (their TTL), in whole days: refused unless it is a
/// positive whole number. Each writing function reads its table's retention once, at start.
pub fn retention_setting(name: &'static str) -> Result<time::Duration, Error> {
    parse_days(name, &setting(name)?)
}

/// Reads a positive whole number of days (`"30"`) as a duration.
fn parse_days(name: &'static str, raw: &str) -> Result<time::Duration, Error> {
    let invalid =
        || Error::InvalidSetting { name, problem: format!("must be a positive whole number of days, not {raw:?}") };
    let days = raw.trim().parse::<i64>().map_err(|_| invalid())?;
    // Bounded to a century: far beyond any retention, and the arithmetic stays finite.
    if (1..=36_500).contains(&days) { Ok(time::Duration::days(days)) } else { Err(invalid()) }
}

/// A DynamoDB client for functions that work to a deadline: attempts limited to three
/// seconds and at most three of them, with waits of at most half a second between, so
/// the SDK never waits past the caller's deadline; the caller retries further itself,
/// against that deadline (`crate::retry`).
pub fn dynamo_within_deadlines(config: &SdkConfig) -> DynamoClient {
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
    use std::time::Duration;

    let config = aws_sdk_dynamodb::config::Builder::from(config)
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_max_backoff(Duration::from_millis(500)))
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(Duration::from_secs(3)).build())
        .build();
    DynamoClient::from_conf(config)
}

/// The shared SDK configuration; every client of a function is built from this one value
/// so credentials are resolved once and one connection pool serves them all.
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client()).load().await
}

/// The Mozilla root certificates (`webpki-root-certs`, the set AWS endpoints chain to) as
/// one PEM bundle, written by `build.rs`.
const TRUSTED_ROOTS_PEM: &str = include_str!(concat!(env!("OUT_DIR"), "/trusted_roots.pem"));

/// The HTTPS client every SDK client uses. It trusts the root certificates compiled into
/// the binary instead of the SDK's default, which reads the system certificate store, file
/// by file, while the function starts: measured in BENCHMARKS.md as the largest part of init.
fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};

    let roots = TrustStore::empty().with_native_roots(false).with_pem_certificate(TRUSTED_ROOTS_PEM);
    let builder = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
    let inner = match TlsContext::builder().with_trust_store(roots).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building the context only fails on an unusable trust store; the SDK's default
        // (system roots) is then the safe fallback.
        Err(_) => builder.build_https(),
    };
    SharedHttpClient::new(BuiltOnFirstUse(inner))
}

/// The SDK's HTTPS client, without the connector it builds and throws away each time an
/// SDK client is constructed (`validate_base_client_config`, there to load the system
/// certificate store early, which this client does not use). Every connector parses all
/// trusted roots (over a millisecond), so that was pure cost in init, once per SDK client.
/// The one connector that serves requests is built, and cached, on first use as before.
#[derive(Debug)]
struct BuiltOnFirstUse(SharedHttpClient);

impl HttpClient for BuiltOnFirstUse {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

pub use aws_config::SdkConfig;
pub use aws_sdk_dynamodb::Client as DynamoClient;
pub use aws_sdk_sns::Client as SnsClient;
pub use aws_sdk_sqs::Client as SqsClient;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retentions_are_positive_whole_days() {
        assert_eq!(parse_days("X_DAYS", "30").unwrap(), time::Duration::days(30));
        assert_eq!(parse_days("X_DAYS", " 7 ").unwrap(), time::Duration::days(7));
        for bad in ["0", "-1", "1.5", "30d", "", "99999999999999999999", "36501"] {
            match parse_days("X_DAYS", bad) {
                Err(Error::InvalidSetting { name: "X_DAYS", problem }) => {
                    assert!(problem.contains("whole number"), "{problem}")
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn the_pem_bundle_holds_every_compiled_in_root_unchanged() {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;

        let parsed: Vec<CertificateDer> = CertificateDer::pem_slice_iter(TRUSTED_ROOTS_PEM.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        assert!(parsed.len() > 100, "only {} roots", parsed.len());
        assert_eq!(parsed.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        for (pem, der) in parsed.iter().zip(webpki_root_certs::TLS_SERVER_ROOT_CERTS) {
            assert_eq!(pem.as_ref(), der.as_ref());
        }
    }
}
