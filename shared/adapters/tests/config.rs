//! The SDK configuration the functions run with (`config::aws`), against moto.

use aws_sdk_dynamodb::config::{Credentials, Region};

/// A DynamoDB client on the functions' own HTTPS client and settings, pointed at `endpoint`.
async fn dynamo_at(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let shared = adapters::config::aws().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&shared)
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

#[tokio::test]
async fn the_functions_http_client_serves_requests() {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let table = &resources.get("FlightsTable").unwrap().reference;

    let dynamo = dynamo_at(&testkit::moto_endpoint()).await;
    let described = dynamo.describe_table().table_name(table).send().await.unwrap();
    assert_eq!(described.table.and_then(|t| t.table_name).as_deref(), Some(table.as_str()));
}

#[tokio::test]
async fn an_https_endpoint_that_does_not_speak_tls_is_a_connection_error() {
    // moto speaks plain HTTP: the TLS connector (built from the compiled-in roots on first
    // use) must fail the handshake and report it, not hang or panic.
    let https = testkit::moto_endpoint().replacen("http://", "https://", 1);
    let dynamo = dynamo_at(&https).await;
    let err = dynamo.list_tables().send().await.unwrap_err();
    assert!(
        matches!(err, aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)),
        "expected a dispatch failure, got {err:?}"
    );
}
