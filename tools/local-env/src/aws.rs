//! The local environment's own AWS clients, talking to moto directly (the functions'
//! clients go through the fault-injection proxy; these do not: they play AWS itself).

use aws_config::SdkConfig;

#[derive(Debug, Clone)]
pub struct Aws {
    pub config: SdkConfig,
    pub region: String,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub s3: aws_sdk_s3::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub events: aws_sdk_eventbridge::Client,
}

/// The account moto answers as.
pub const ACCOUNT: &str = "123456789012";

impl Aws {
    pub fn new(config: &SdkConfig) -> Self {
        // moto serves buckets by path (127.0.0.1:port/bucket), not as host names.
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(true).build();
        Self {
            config: config.clone(),
            region: config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            streams: aws_sdk_dynamodbstreams::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            kinesis: aws_sdk_kinesis::Client::new(config),
            events: aws_sdk_eventbridge::Client::new(config),
        }
    }
}
