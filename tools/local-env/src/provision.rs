//! Creates the template's tables, topics, queues and subscriptions in the emulator, and
//! resolves `!Ref` / `!GetAtt` / `!Sub` against what was created.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;

use crate::Error;
use crate::template::{Intrinsic, Template, intrinsic};

/// What a logical id became.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Physical {
    /// What `!Ref` returns: table name, topic ARN, queue URL.
    pub reference: String,
    pub arn: String,
}

/// Everything provisioned, by logical id.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Resources {
    pub region: String,
    pub resources: BTreeMap<String, Physical>,
    parameters: BTreeMap<String, String>,
}

impl Resources {
    pub fn get(&self, logical_id: &str) -> Result<&Physical, Error> {
        self.resources
            .get(logical_id)
            .ok_or_else(|| Error::Template(format!("{logical_id} is referenced but not provisioned locally")))
    }

    /// What a template value means locally, e.g. `!Ref FlightsTable` → the table's name.
    pub fn resolve(&self, value: &Value) -> Result<String, Error> {
        match intrinsic(value) {
            Some(Intrinsic::Ref(id)) => self.reference(&id),
            Some(Intrinsic::GetAtt(id, attribute)) if attribute == "Arn" => Ok(self.get(&id)?.arn.clone()),
            Some(Intrinsic::GetAtt(id, attribute)) => {
                Err(Error::Template(format!("!GetAtt {id}.{attribute} is not supported locally")))
            }
            Some(Intrinsic::Sub(text)) => self.substitute(&text),
            None => match value {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(Error::Template(format!("cannot resolve {other:?}"))),
            },
        }
    }

    /// What `!Ref id` returns: a parameter's value or a resource's reference.
    fn reference(&self, id: &str) -> Result<String, Error> {
        match self.parameters.get(id) {
            Some(value) => Ok(value.clone()),
            None => Ok(self.get(id)?.reference.clone()),
        }
    }

    fn substitute(&self, text: &str) -> Result<String, Error> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').ok_or_else(|| Error::Template(format!("unclosed ${{ in {text}")))?;
            let name = &rest[start + 2..start + end];
            let value = match name {
                "AWS::Region" => self.region.clone(),
                "AWS::AccountId" => "123456789012".to_owned(),
                _ => match name.split_once('.') {
                    Some((id, "Arn")) => self.get(id)?.arn.clone(),
                    _ => self.reference(name)?,
                },
            };
            out.push_str(&value);
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Ok(out)
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

/// Creates every resource of the template, names prefixed with `prefix` so several
/// environments can share one emulator.
pub async fn provision(config: &SdkConfig, template: &Template, prefix: &str) -> Result<Resources, Error> {
    let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let mut out = Resources { region, parameters: template.parameter_values(), ..Resources::default() };

    let dynamo = aws_sdk_dynamodb::Client::new(config);
    for table in template.tables()? {
        let name = format!("{prefix}{}", table.logical_id);
        let mut create = dynamo.create_table().table_name(&name).billing_mode(BillingMode::PayPerRequest);
        for (attr, kind) in &table.attributes {
            let def = AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
            create = create.attribute_definitions(def);
        }
        for (attr, kind) in &table.keys {
            let key = KeySchemaElement::builder()
                .attribute_name(attr)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
            create = create.key_schema(key);
        }
        if let Some(view) = &table.stream_view {
            let stream = StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()
                .map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
            create = create.stream_specification(stream);
        }
        let created = create.send().await.map_err(|e| Error::aws("DynamoDB", "CreateTable", e))?;
        let arn = created.table_description.and_then(|d| d.table_arn).unwrap_or_default();
        if let Some(attribute) = &table.ttl_attribute {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build()
                .map_err(|e| Error::aws("DynamoDB", "UpdateTimeToLive", e))?;
            dynamo
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| Error::aws("DynamoDB", "UpdateTimeToLive", e))?;
        }
        out.resources.insert(table.logical_id, Physical { reference: name, arn });
    }

    let sns = aws_sdk_sns::Client::new(config);
    for topic in template.topics() {
        let created = sns
            .create_topic()
            .name(format!("{prefix}{topic}"))
            .send()
            .await
            .map_err(|e| Error::aws("SNS", "CreateTopic", e))?;
        let arn = created.topic_arn.unwrap_or_default();
        out.resources.insert(topic, Physical { reference: arn.clone(), arn });
    }

    let sqs = aws_sdk_sqs::Client::new(config);
    for queue in template.queues()? {
        let mut create = sqs.create_queue().queue_name(format!("{prefix}{}", queue.logical_id));
        if let Some(seconds) = queue.visibility_timeout {
            create = create.attributes(QueueAttributeName::VisibilityTimeout, seconds.to_string());
        }
        if let Some(seconds) = queue.retention {
            create = create.attributes(QueueAttributeName::MessageRetentionPeriod, seconds.to_string());
        }
        if let Some((dlq, max)) = &queue.redrive {
            let policy = serde_json::json!({"deadLetterTargetArn": out.get(dlq)?.arn, "maxReceiveCount": max});
            create = create.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        let url = create.send().await.map_err(|e| Error::aws("SQS", "CreateQueue", e))?.queue_url.unwrap_or_default();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| Error::aws("SQS", "GetQueueAttributes", e))?;
        let arn = attrs.attributes.and_then(|mut a| a.remove(&QueueAttributeName::QueueArn)).unwrap_or_default();
        out.resources.insert(queue.logical_id, Physical { reference: url, arn });
    }

    for sub in template.subscriptions()? {
        sns.subscribe()
            .topic_arn(&out.get(&sub.topic)?.arn)
            .protocol("sqs")
            .endpoint(&out.get(&sub.queue)?.arn)
            .attributes("RawMessageDelivery", sub.raw.to_string())
            .send()
            .await
            .map_err(|e| Error::aws("SNS", "Subscribe", e))?;
    }
    Ok(out)
}

/// The environment a function's process gets locally: the AWS settings that point its
/// SDK at the emulator, the Lambda runtime variables, and the template's variables for it,
/// resolved against what was provisioned.
pub fn function_environment(
    function: &crate::template::FunctionSpec,
    resources: &Resources,
    aws_endpoint: &str,
    runtime_api: &str,
) -> Result<Vec<(String, String)>, Error> {
    let mut env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", aws_endpoint),
        ("AWS_REGION", resources.region.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_LAMBDA_FUNCTION_NAME", function.binary.as_str()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.push(("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), function.memory.to_string()));
    for (name, value) in &function.environment {
        env.push((name.clone(), resources.resolve(value)?));
    }
    Ok(env)
}
