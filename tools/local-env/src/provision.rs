//! Creates the template's resources in moto: tables (keys, indexes, TTL, streams), Kinesis
//! streams, event buses, topics, queues (redrive policies), subscriptions and buckets
//! (notifications), and gives every function its ARN. Each resource's properties are read
//! strictly: a property the environment does not support stops it at start, named.
//! Resource types that only matter when deployed (alarms, log groups, API keys, policies)
//! are listed here and skipped; any other type is refused.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, LocalSecondaryIndex, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use yaml_serde::{Mapping, Value};

use crate::Error;
use crate::aws::{ACCOUNT, Aws};
use crate::properties::Props;
use crate::resources::{Physical, Resources};
use crate::template::{FunctionSpec, Template, mapping};

/// Resource types with no local counterpart: they only matter once deployed.
const DEPLOYMENT_ONLY_TYPES: &[&str] = &[
    "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::KMS::Alias",
    "AWS::KMS::Key",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
];

/// Types the local environment provisions or runs, in the order they are created.
const PROVISIONED_TYPES: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::Kinesis::Stream",
    "AWS::Events::EventBus",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::SNS::Subscription",
    "AWS::S3::Bucket",
    "AWS::Serverless::Function",
    "AWS::Serverless::Api",
];

/// How resources are created.
#[derive(Debug, Clone)]
pub struct Options {
    /// Prefixed to every name, so several environments can share one moto.
    pub prefix: String,
    /// Multiplies queues' visibility timeouts (at least one second remains), so retries
    /// and redrive to a dead-letter queue can be watched in seconds.
    pub visibility_scale: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self { prefix: String::new(), visibility_scale: 1.0 }
    }
}

/// SDK configuration for the local emulator at `endpoint`: its region and its fixed test
/// credentials, the same values the functions get through their environment.
pub async fn emulator_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "local"))
        .load()
        .await
}

/// Creates every resource of the template, names prefixed with `prefix`.
pub async fn provision(config: &SdkConfig, template: &Template, prefix: &str) -> Result<Resources, Error> {
    provision_with(config, template, &Options { prefix: prefix.to_owned(), ..Options::default() }).await
}

pub async fn provision_with(config: &SdkConfig, template: &Template, options: &Options) -> Result<Resources, Error> {
    let all = template.resources();
    for (id, kind, _) in &all {
        if !PROVISIONED_TYPES.contains(&kind.as_str()) && !DEPLOYMENT_ONLY_TYPES.contains(&kind.as_str()) {
            return Err(Error::Template(format!(
                "{id}: resource type {kind} is not supported by the local environment"
            )));
        }
    }
    let aws = Aws::new(config);
    let mut out =
        Resources { region: aws.region.clone(), parameters: template.parameter_values(), ..Resources::default() };

    for (id, props) in of(&all, "AWS::DynamoDB::Table") {
        let physical = table(&aws, id, props, &out, &options.prefix).await?;
        out.resources.insert(id.clone(), physical);
    }
    for (id, props) in of(&all, "AWS::Kinesis::Stream") {
        let physical = kinesis_stream(&aws, id, props, &out, &options.prefix).await?;
        out.resources.insert(id.clone(), physical);
    }
    for (id, props) in of(&all, "AWS::Events::EventBus") {
        let physical = event_bus(&aws, id, props, &out, &options.prefix).await?;
        out.resources.insert(id.clone(), physical);
    }
    for (id, props) in of(&all, "AWS::SNS::Topic") {
        let physical = topic(&aws, id, props, &out, &options.prefix).await?;
        out.resources.insert(id.clone(), physical);
    }
    // A queue's dead-letter queue must exist before the queue names it.
    let mut queues: Vec<(&String, &Mapping)> = of(&all, "AWS::SQS::Queue").collect();
    while !queues.is_empty() {
        let ready = queues.iter().position(|(_, props)| {
            let dlq = crate::template::target(crate::template::get(
                &mapping(crate::template::get(props, "RedrivePolicy")),
                "deadLetterTargetArn",
            ));
            dlq.is_none_or(|dlq| out.resources.contains_key(&dlq))
        });
        let Some(index) = ready else {
            let ids: Vec<&str> = queues.iter().map(|(id, _)| id.as_str()).collect();
            return Err(Error::Template(format!(
                "the redrive policies of {} name queues that do not exist",
                ids.join(", ")
            )));
        };
        let (id, props) = queues.remove(index);
        let physical = queue(&aws, id, props, &out, options).await?;
        out.resources.insert(id.clone(), physical);
    }
    for (id, props) in of(&all, "AWS::SNS::Subscription") {
        let physical = subscription(&aws, id, props, &out).await?;
        out.resources.insert(id.clone(), physical);
    }
    for (id, props) in of(&all, "AWS::S3::Bucket") {
        let physical = bucket(&aws, id, props, &out, &options.prefix).await?;
        out.resources.insert(id.clone(), physical);
    }
    for function in template.functions()? {
        let name = function.name.clone();
        let arn = format!("arn:aws:lambda:{}:{ACCOUNT}:function:{name}", out.region);
        out.resources.insert(function.logical_id.clone(), Physical { reference: name, arn, ..Physical::default() });
    }
    for (id, _) in of(&all, "AWS::Serverless::Api") {
        out.resources.insert(id.clone(), Physical { reference: "local".into(), ..Physical::default() });
    }
    Ok(out)
}

/// (logical id, properties) of the resources of one type.
fn of<'t>(all: &'t [(String, String, Mapping)], kind: &'t str) -> impl Iterator<Item = (&'t String, &'t Mapping)> {
    all.iter().filter(move |(_, k, _)| k == kind).map(|(id, _, props)| (id, props))
}

/// `name` as written (`TableName`, `QueueName`, ...) or the logical id, prefixed.
fn physical_name(props: &Props, key: &str, id: &str, prefix: &str) -> Result<String, Error> {
    Ok(format!("{prefix}{}", props.string(key)?.unwrap_or_else(|| id.to_owned())))
}

fn key_schema(props: &Props, key: &str) -> Result<Vec<KeySchemaElement>, Error> {
    let keys = props.list(key);
    if keys.is_empty() {
        return Err(props.error(format!("{key} is required")));
    }
    keys.iter()
        .map(|k| {
            let k = mapping(Some(k));
            let nothing = Resources::default();
            let element = Props::new(format!("{}.{key}", props.context()), &k, &nothing);
            let built = KeySchemaElement::builder()
                .attribute_name(element.required_string("AttributeName")?)
                .key_type(KeyType::from(element.required_string("KeyType")?.as_str()))
                .build()
                .map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
            element.finish()?;
            Ok(built)
        })
        .collect()
}

fn projection(props: &Props) -> Result<Projection, Error> {
    let Some(p) = props.nested("Projection") else { return Err(props.error("Projection is required")) };
    let mut projection = Projection::builder();
    if let Some(kind) = p.string("ProjectionType")? {
        projection = projection.projection_type(ProjectionType::from(kind.as_str()));
    }
    for attribute in p.list("NonKeyAttributes") {
        if let Some(attribute) = attribute.as_str() {
            projection = projection.non_key_attributes(attribute);
        }
    }
    p.finish()?;
    Ok(projection.build())
}

async fn table(aws: &Aws, id: &str, map: &Mapping, resources: &Resources, prefix: &str) -> Result<Physical, Error> {
    let props = Props::new(id, map, resources);
    props.deployment_only(&[
        "SSESpecification",
        "PointInTimeRecoverySpecification",
        "Tags",
        "DeletionProtectionEnabled",
        "ContributorInsightsSpecification",
        "TableClass",
        "ProvisionedThroughput",
        "OnDemandThroughput",
        "WarmThroughput",
    ]);
    let name = physical_name(&props, "TableName", id, prefix)?;
    let mut create = aws.dynamodb.create_table().table_name(&name).billing_mode(BillingMode::PayPerRequest);
    if let Some(mode) = props.string("BillingMode")?
        && mode != "PAY_PER_REQUEST"
        && mode != "PROVISIONED"
    {
        return Err(props.error(format!("BillingMode {mode} is not PAY_PER_REQUEST or PROVISIONED")));
    }
    for attribute in props.list("AttributeDefinitions") {
        let attribute = mapping(Some(&attribute));
        let a = Props::new(format!("{id}.AttributeDefinitions"), &attribute, resources);
        let def = AttributeDefinition::builder()
            .attribute_name(a.required_string("AttributeName")?)
            .attribute_type(ScalarAttributeType::from(a.required_string("AttributeType")?.as_str()))
            .build()
            .map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
        a.finish()?;
        create = create.attribute_definitions(def);
    }
    for key in key_schema(&props, "KeySchema")? {
        create = create.key_schema(key);
    }
    for index in props.list("GlobalSecondaryIndexes") {
        let index = mapping(Some(&index));
        let i = Props::new(format!("{id}.GlobalSecondaryIndexes"), &index, resources);
        i.deployment_only(&[
            "ProvisionedThroughput",
            "OnDemandThroughput",
            "ContributorInsightsSpecification",
            "WarmThroughput",
        ]);
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(i.required_string("IndexName")?)
            .set_key_schema(Some(key_schema(&i, "KeySchema")?))
            .projection(projection(&i)?)
            .build()
            .map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
        i.finish()?;
        create = create.global_secondary_indexes(gsi);
    }
    for index in props.list("LocalSecondaryIndexes") {
        let index = mapping(Some(&index));
        let i = Props::new(format!("{id}.LocalSecondaryIndexes"), &index, resources);
        let lsi = LocalSecondaryIndex::builder()
            .index_name(i.required_string("IndexName")?)
            .set_key_schema(Some(key_schema(&i, "KeySchema")?))
            .projection(projection(&i)?)
            .build()
            .map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
        i.finish()?;
        create = create.local_secondary_indexes(lsi);
    }
    if let Some(stream) = props.nested("StreamSpecification") {
        let view = stream.required_string("StreamViewType")?;
        stream.deployment_only(&["ResourcePolicy"]);
        stream.finish()?;
        let spec = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::from(view.as_str()))
            .build()
            .map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
        create = create.stream_specification(spec);
    }
    let ttl = match props.nested("TimeToLiveSpecification") {
        Some(ttl) => {
            let attribute = ttl.required_string("AttributeName")?;
            let enabled = ttl.boolean("Enabled")?.unwrap_or(false);
            ttl.finish()?;
            enabled.then_some(attribute)
        }
        None => None,
    };
    props.finish()?;
    let created = create.send().await.map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
    let description =
        created.table_description.unwrap_or_else(|| aws_sdk_dynamodb::types::TableDescription::builder().build());
    if let Some(attribute) = ttl {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(true)
            .build()
            .map_err(|e| Error::aws("DynamoDB", "UpdateTimeToLive", e))?;
        aws.dynamodb
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| Error::aws("DynamoDB", "UpdateTimeToLive", e))?;
    }
    let mut physical =
        Physical { reference: name, arn: description.table_arn.unwrap_or_default(), ..Physical::default() };
    if let Some(stream) = description.latest_stream_arn {
        physical.attributes.insert("StreamArn".into(), stream);
    }
    Ok(physical)
}

async fn kinesis_stream(
    aws: &Aws,
    id: &str,
    map: &Mapping,
    resources: &Resources,
    prefix: &str,
) -> Result<Physical, Error> {
    let props = Props::new(id, map, resources);
    props.deployment_only(&["StreamEncryption", "Tags", "RetentionPeriodHours", "DesiredShardLevelMetrics"]);
    let name = physical_name(&props, "Name", id, prefix)?;
    let mode = props.nested("StreamModeDetails").map(|m| -> Result<String, Error> {
        let mode = m.required_string("StreamMode")?;
        m.finish()?;
        Ok(mode)
    });
    let on_demand = matches!(mode.transpose()?.as_deref(), Some("ON_DEMAND"));
    // On-demand streams start with four shards on AWS.
    let shards = props.integer("ShardCount", 1..=10_000)?.unwrap_or(if on_demand { 4 } else { 1 });
    props.finish()?;
    aws.kinesis
        .create_stream()
        .stream_name(&name)
        .shard_count(i32::try_from(shards).unwrap_or(1))
        .send()
        .await
        .map_err(|e| Error::aws("Kinesis", "CreateStream", e))?;
    let described = aws
        .kinesis
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .map_err(|e| Error::aws("Kinesis", "DescribeStreamSummary", e))?;
    let arn = described.stream_description_summary.map(|s| s.stream_arn).unwrap_or_default();
    Ok(Physical { reference: name, arn, ..Physical::default() })
}

async fn event_bus(aws: &Aws, id: &str, map: &Mapping, resources: &Resources, prefix: &str) -> Result<Physical, Error> {
    let props = Props::new(id, map, resources);
    props.deployment_only(&["Tags", "KmsKeyIdentifier", "DeadLetterConfig", "Description", "Policy", "LogConfig"]);
    let name = format!("{prefix}{}", props.required_string("Name")?);
    props.finish()?;
    let created = aws
        .events
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .map_err(|e| Error::aws("EventBridge", "CreateEventBus", e))?;
    let arn = created.event_bus_arn.unwrap_or_default();
    Ok(Physical { reference: name.clone(), arn, attributes: [("Name".to_owned(), name)].into() })
}

async fn topic(aws: &Aws, id: &str, map: &Mapping, resources: &Resources, prefix: &str) -> Result<Physical, Error> {
    let props = Props::new(id, map, resources);
    props.deployment_only(&[
        "KmsMasterKeyId",
        "DisplayName",
        "Tags",
        "DataProtectionPolicy",
        "ArchivePolicy",
        "TracingConfig",
        "SignatureVersion",
        "DeliveryStatusLogging",
    ]);
    let mut name = physical_name(&props, "TopicName", id, prefix)?;
    let fifo = props.boolean("FifoTopic")?.unwrap_or(false);
    let dedup = props.boolean("ContentBasedDeduplication")?;
    props.finish()?;
    let mut create = aws.sns.create_topic();
    if fifo {
        if !name.ends_with(".fifo") {
            name.push_str(".fifo");
        }
        create = create.attributes("FifoTopic", "true");
    }
    if let Some(dedup) = dedup {
        create = create.attributes("ContentBasedDeduplication", dedup.to_string());
    }
    let created = create.name(&name).send().await.map_err(|e| Error::aws("SNS", "CreateTopic", e))?;
    let arn = created.topic_arn.unwrap_or_default();
    let attributes = [("TopicName".to_owned(), name), ("TopicArn".to_owned(), arn.clone())].into();
    Ok(Physical { reference: arn.clone(), arn, attributes })
}

async fn queue(
    aws: &Aws,
    id: &str,
    map: &Mapping,
    resources: &Resources,
    options: &Options,
) -> Result<Physical, Error> {
    let props = Props::new(id, map, resources);
    props.deployment_only(&[
        "SqsManagedSseEnabled",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "Tags",
        "RedriveAllowPolicy",
    ]);
    let mut name = physical_name(&props, "QueueName", id, &options.prefix)?;
    let mut create = aws.sqs.create_queue();
    if let Some(seconds) = props.integer("VisibilityTimeout", 0..=43_200)? {
        // Scaled for watching retries locally; a timeout that was set stays at least one second.
        let scaled =
            if seconds == 0 { 0 } else { ((seconds as f64) * options.visibility_scale).ceil().max(1.0) as i64 };
        create = create.attributes(QueueAttributeName::VisibilityTimeout, scaled.to_string());
    }
    for (key, attribute, bounds) in [
        ("MessageRetentionPeriod", QueueAttributeName::MessageRetentionPeriod, 60..=1_209_600),
        ("DelaySeconds", QueueAttributeName::DelaySeconds, 0..=900),
        ("MaximumMessageSize", QueueAttributeName::MaximumMessageSize, 1024..=1_048_576),
        ("ReceiveMessageWaitTimeSeconds", QueueAttributeName::ReceiveMessageWaitTimeSeconds, 0..=20),
    ] {
        if let Some(value) = props.integer(key, bounds)? {
            create = create.attributes(attribute, value.to_string());
        }
    }
    if props.boolean("FifoQueue")?.unwrap_or(false) {
        if !name.ends_with(".fifo") {
            name.push_str(".fifo");
        }
        create = create.attributes(QueueAttributeName::FifoQueue, "true");
    }
    if let Some(dedup) = props.boolean("ContentBasedDeduplication")? {
        create = create.attributes(QueueAttributeName::ContentBasedDeduplication, dedup.to_string());
    }
    if let Some(policy) = props.nested("RedrivePolicy") {
        let dlq =
            policy.reference("deadLetterTargetArn")?.ok_or_else(|| policy.error("deadLetterTargetArn is required"))?;
        let max =
            policy.integer("maxReceiveCount", 1..=1000)?.ok_or_else(|| policy.error("maxReceiveCount is required"))?;
        policy.finish()?;
        let document = serde_json::json!({"deadLetterTargetArn": resources.get(&dlq)?.arn, "maxReceiveCount": max});
        create = create.attributes(QueueAttributeName::RedrivePolicy, document.to_string());
    }
    props.finish()?;
    let url = create
        .queue_name(&name)
        .send()
        .await
        .map_err(|e| Error::aws("SQS", "CreateQueue", e))?
        .queue_url
        .unwrap_or_default();
    let attrs = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| Error::aws("SQS", "GetQueueAttributes", e))?;
    let arn = attrs.attributes.and_then(|mut a| a.remove(&QueueAttributeName::QueueArn)).unwrap_or_default();
    let attributes = [("QueueName".to_owned(), name), ("QueueUrl".to_owned(), url.clone())].into();
    Ok(Physical { reference: url, arn, attributes })
}

async fn subscription(aws: &Aws, id: &str, map: &Mapping, resources: &Resources) -> Result<Physical, Error> {
    let props = Props::new(id, map, resources);
    props.deployment_only(&["Region", "DeliveryPolicy", "SubscriptionRoleArn", "ReplayPolicy"]);
    let protocol = props.required_string("Protocol")?;
    if protocol != "sqs" {
        return Err(props.error(format!(
            "Protocol {protocol} is not supported locally (sqs is; a function subscribes with an SNS event)"
        )));
    }
    let topic = props.required_string("TopicArn")?;
    let endpoint = props.required_string("Endpoint")?;
    let mut subscribe = aws.sns.subscribe().topic_arn(topic).protocol("sqs").endpoint(endpoint);
    if let Some(raw) = props.boolean("RawMessageDelivery")? {
        subscribe = subscribe.attributes("RawMessageDelivery", raw.to_string());
    }
    if let Some(policy) = props.raw("FilterPolicy") {
        subscribe = subscribe.attributes("FilterPolicy", json_of(policy).to_string());
    }
    if let Some(scope) = props.string("FilterPolicyScope")? {
        subscribe = subscribe.attributes("FilterPolicyScope", scope);
    }
    if let Some(policy) = props.raw("RedrivePolicy") {
        subscribe = subscribe.attributes("RedrivePolicy", json_of(policy).to_string());
    }
    props.finish()?;
    let arn =
        subscribe.send().await.map_err(|e| Error::aws("SNS", "Subscribe", e))?.subscription_arn.unwrap_or_default();
    Ok(Physical { reference: arn.clone(), arn, ..Physical::default() })
}

async fn bucket(aws: &Aws, id: &str, map: &Mapping, resources: &Resources, prefix: &str) -> Result<Physical, Error> {
    let props = Props::new(id, map, resources);
    props.deployment_only(&[
        "BucketEncryption",
        "PublicAccessBlockConfiguration",
        "LifecycleConfiguration",
        "OwnershipControls",
        "Tags",
        "LoggingConfiguration",
        "MetricsConfigurations",
        "IntelligentTieringConfigurations",
        "AccelerateConfiguration",
    ]);
    // Bucket names are lower case, 3-63 characters.
    let name: String = physical_name(&props, "BucketName", id, prefix)?.to_ascii_lowercase().chars().take(63).collect();
    let versioning = match props.nested("VersioningConfiguration") {
        Some(v) => {
            let status = v.required_string("Status")?;
            v.finish()?;
            Some(status)
        }
        None => None,
    };
    let notifications = props.nested("NotificationConfiguration");
    let mut configuration = aws_sdk_s3::types::NotificationConfiguration::builder();
    if let Some(n) = &notifications {
        for q in n.list("QueueConfigurations") {
            let q = mapping(Some(&q));
            let q = Props::new(format!("{id}.NotificationConfiguration.QueueConfigurations"), &q, resources);
            let filter = crate::sources::s3::key_filter(&q)?;
            let queue = aws_sdk_s3::types::QueueConfiguration::builder()
                .queue_arn(q.required_string("Queue")?)
                .events(aws_sdk_s3::types::Event::from(q.required_string("Event")?.as_str()))
                .set_filter(filter)
                .build()
                .map_err(|e| Error::aws("S3", "PutBucketNotificationConfiguration", e))?;
            q.finish()?;
            configuration = configuration.queue_configurations(queue);
        }
        for t in n.list("TopicConfigurations") {
            let t = mapping(Some(&t));
            let t = Props::new(format!("{id}.NotificationConfiguration.TopicConfigurations"), &t, resources);
            let filter = crate::sources::s3::key_filter(&t)?;
            let topic = aws_sdk_s3::types::TopicConfiguration::builder()
                .topic_arn(t.required_string("Topic")?)
                .events(aws_sdk_s3::types::Event::from(t.required_string("Event")?.as_str()))
                .set_filter(filter)
                .build()
                .map_err(|e| Error::aws("S3", "PutBucketNotificationConfiguration", e))?;
            t.finish()?;
            configuration = configuration.topic_configurations(topic);
        }
    }
    if let Some(n) = notifications {
        n.finish()?;
    }
    props.finish()?;
    aws.s3.create_bucket().bucket(&name).send().await.map_err(|e| Error::aws("S3", "CreateBucket", e))?;
    if let Some(status) = versioning {
        let config = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::from(status.as_str()))
            .build();
        aws.s3
            .put_bucket_versioning()
            .bucket(&name)
            .versioning_configuration(config)
            .send()
            .await
            .map_err(|e| Error::aws("S3", "PutBucketVersioning", e))?;
    }
    let configuration = configuration.build();
    if !configuration.queue_configurations().is_empty() || !configuration.topic_configurations().is_empty() {
        aws.s3
            .put_bucket_notification_configuration()
            .bucket(&name)
            .notification_configuration(configuration)
            .send()
            .await
            .map_err(|e| Error::aws("S3", "PutBucketNotificationConfiguration", e))?;
    }
    let arn = format!("arn:aws:s3:::{name}");
    let attributes = [
        ("DomainName".to_owned(), format!("{name}.s3.amazonaws.com")),
        ("RegionalDomainName".to_owned(), format!("{name}.s3.{}.amazonaws.com", aws.region)),
    ]
    .into();
    Ok(Physical { reference: name, arn, attributes })
}

/// A template value written as YAML (a filter policy, a pattern) as the JSON AWS takes.
pub fn json_of(value: &Value) -> serde_json::Value {
    match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.clone())),
        other => serde_json::to_value(other).unwrap_or_default(),
    }
}

/// The environment a function's process gets locally: the AWS settings that point its
/// SDK at `aws_endpoint`, the Lambda variables, and the template's variables for it,
/// resolved against what was provisioned. (`AWS_LAMBDA_RUNTIME_API` is set per
/// execution environment.)
pub fn function_environment(
    function: &FunctionSpec,
    resources: &Resources,
    aws_endpoint: &str,
) -> Result<Vec<(String, String)>, Error> {
    let mut env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", aws_endpoint),
        ("AWS_REGION", resources.region.as_str()),
        ("AWS_DEFAULT_REGION", resources.region.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_LAMBDA_FUNCTION_NAME", function.name.as_str()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), function.memory.to_string()));
    for (name, value) in &function.environment {
        let value =
            resources.resolve(value).map_err(|e| Error::Template(format!("{}: {name}: {e}", function.logical_id)))?;
        env.push((name.clone(), value));
    }
    Ok(env)
}
