//! Settings and AWS clients, built once per execution environment.
//!
//! Clients come from `aws-config`'s default chain, so the same binary talks to AWS, to
//! LocalStack or to moto purely through `AWS_ENDPOINT_URL`, `AWS_REGION` and the
//! standard credential variables: no "local mode" in function code.

use crate::Error;

/// A required environment variable, set by the deployment template.
pub fn setting(name: &'static str) -> Result<String, Error> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(Error::MissingSetting(name)),
    }
}

/// The shared SDK configuration; every client of a function is built from this one value
/// so credentials are resolved once and one connection pool serves them all.
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client()).load().await
}

/// The HTTPS client every SDK client uses. It trusts the Mozilla root certificates
/// compiled into the binary (`webpki-root-certs`, the set AWS endpoints chain to) instead
/// of the SDK's default, which reads the system certificate store, file by file, while
/// the function starts: measured in BENCHMARKS.md as the largest part of init.
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
    use base64::Engine;

    let mut roots = TrustStore::empty().with_native_roots(false);
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let der = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        roots = roots.with_pem_certificate(format!("-----BEGIN CERTIFICATE-----\n{der}\n-----END CERTIFICATE-----\n"));
    }
    let builder = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(roots).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building the context only fails on an unusable trust store; the SDK's default
        // (system roots) is then the safe fallback.
        Err(_) => builder.build_https(),
    }
}

pub use aws_config::SdkConfig;
pub use aws_sdk_dynamodb::Client as DynamoClient;
pub use aws_sdk_sns::Client as SnsClient;
