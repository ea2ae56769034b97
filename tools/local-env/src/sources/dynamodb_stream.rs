//! `Type: DynamoDB` — a table's stream, read through the DynamoDB Streams API in moto and
//! delivered with the shared stream semantics ([`super::stream`]).
//!
//! Records are shaped as Lambda delivers them (`eventSourceARN`, `awsRegion`, the
//! `dynamodb` change). Deletions made by the TTL sweeper carry the `userIdentity` AWS
//! puts on TTL deletions (`{type: Service, principalId: dynamodb.amazonaws.com}`); a
//! user's delete carries none. Two moto artefacts are corrected so functions see what AWS
//! sends: an `UpdateItem` that creates an item yields one INSERT, not two, and a write
//! that changes nothing yields no record.

use std::collections::HashSet;
use std::sync::Arc;

use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::stream::{MappingConfig, ShardReader, StartingPosition, StreamRecord, run_shard};
use super::{SourceContext, Subscription};
use crate::Error;
use crate::aws::Aws;
use crate::dynamo_json::item_from_streams;
use crate::ttl::Sweeps;

pub fn start<'a>(sub: Subscription<'a>, ctx: &'a SourceContext) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let props = &sub.props;
        let stream_arn = props.required_string("Stream")?;
        let table = ctx
            .resources
            .resources
            .iter()
            .find(|(_, p)| p.attributes.get("StreamArn") == Some(&stream_arn))
            .map(|(id, p)| (id.clone(), p.reference.clone()))
            .ok_or_else(|| {
                props.error(
                    "Stream must be !GetAtt <table>.StreamArn of a table of this template with a StreamSpecification",
                )
            })?;
        let position = match props.required_string("StartingPosition")?.as_str() {
            "TRIM_HORIZON" => StartingPosition::TrimHorizon,
            "LATEST" => StartingPosition::Latest,
            other => {
                return Err(
                    props.error(format!("StartingPosition {other}: DynamoDB streams start at TRIM_HORIZON or LATEST"))
                );
            }
        };
        let config = MappingConfig::read(
            props,
            ctx,
            format!("dynamodb:{}", table.0),
            stream_arn.clone(),
            "DDBStreamBatchInfo",
            position,
            Value::clone,
        )
        .await?;
        let enabled = props.boolean("Enabled")?.unwrap_or(true);
        let Subscription { function, props, .. } = sub;
        props.finish()?;
        if !enabled {
            return Ok(());
        }
        let config = Arc::new(config);
        let described = ctx
            .aws
            .streams
            .describe_stream()
            .stream_arn(&stream_arn)
            .send()
            .await
            .map_err(|e| Error::aws("DynamoDB Streams", "DescribeStream", e))?;
        let shards = described.stream_description.map(|d| d.shards.unwrap_or_default()).unwrap_or_default();
        for shard in shards {
            let Some(shard_id) = shard.shard_id else { continue };
            let reader =
                TableShard::open(&ctx.aws, &stream_arn, &shard_id, position, table.1.clone(), ctx.sweeps.clone())
                    .await?;
            tokio::spawn(run_shard(ctx.clone(), function.clone(), config.clone(), shard_id, Box::new(reader)));
        }
        Ok(())
    })
}

struct TableShard {
    aws: Aws,
    stream_arn: String,
    table: String,
    iterator: Option<String>,
    sweeps: Arc<Sweeps>,
    /// TTL deletions this mapping has already matched to a record.
    matched: HashSet<u64>,
}

impl TableShard {
    async fn open(
        aws: &Aws,
        stream_arn: &str,
        shard_id: &str,
        position: StartingPosition,
        table: String,
        sweeps: Arc<Sweeps>,
    ) -> Result<Self, Error> {
        let kind = match position {
            StartingPosition::Latest => ShardIteratorType::Latest,
            _ => ShardIteratorType::TrimHorizon,
        };
        let iterator = aws
            .streams
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard_id)
            .shard_iterator_type(kind)
            .send()
            .await
            .map_err(|e| Error::aws("DynamoDB Streams", "GetShardIterator", e))?
            .shard_iterator;
        Ok(Self {
            aws: aws.clone(),
            stream_arn: stream_arn.to_owned(),
            table,
            iterator,
            sweeps,
            matched: HashSet::new(),
        })
    }

    fn convert(&mut self, record: &Record) -> Option<StreamRecord> {
        let change = record.dynamodb.as_ref()?;
        let sequence = change.sequence_number.clone()?;
        let created = change.approximate_creation_date_time.map(|t| t.as_secs_f64()).unwrap_or_default();
        let arrival = OffsetDateTime::from_unix_timestamp_nanos((created * 1e9) as i128)
            .unwrap_or_else(|_| OffsetDateTime::now_utc());
        let keys = change.keys.as_ref().map(item_from_streams);
        let old_image = change.old_image.as_ref().map(item_from_streams);
        let mut dynamodb = json!({
            "ApproximateCreationDateTime": created.trunc(),
            "Keys": keys,
            "SequenceNumber": sequence,
            "SizeBytes": change.size_bytes,
            "StreamViewType": change.stream_view_type.as_ref().map(|v| v.as_str()),
        });
        if let Some(new) = &change.new_image {
            dynamodb["NewImage"] = item_from_streams(new);
        }
        if let Some(old) = &old_image {
            dynamodb["OldImage"] = old.clone();
        }
        let name = record.event_name.as_ref().map(|n| n.as_str().to_owned()).unwrap_or_default();
        let mut json = json!({
            "eventID": record.event_id,
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.aws.region,
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        });
        if name == "REMOVE"
            && let Some(keys) = &keys
            && self.sweeps.claim(&self.table, keys, old_image.as_ref(), &mut self.matched)
        {
            json["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
        }
        Some(StreamRecord { sequence, arrival, record: json })
    }
}

impl ShardReader for TableShard {
    fn read(&mut self) -> BoxFuture<'_, Result<Vec<StreamRecord>, Error>> {
        Box::pin(async move {
            let Some(iterator) = self.iterator.clone() else { return Ok(Vec::new()) };
            let out = self
                .aws
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(1000)
                .send()
                .await
                .map_err(|e| Error::aws("DynamoDB Streams", "GetRecords", e))?;
            self.iterator = out.next_shard_iterator;
            let records = corrected(out.records.unwrap_or_default());
            Ok(records.iter().filter_map(|r| self.convert(r)).collect())
        })
    }
}

/// moto's stream with its two artefacts removed: an INSERT immediately followed by
/// another INSERT of the same keys (an `UpdateItem` creating the item), and a MODIFY whose
/// images are equal (a write that changed nothing, which AWS does not record).
fn corrected(records: Vec<Record>) -> Vec<Record> {
    let keys = |r: &Record| r.dynamodb.as_ref().and_then(|d| d.keys.clone());
    let name = |r: &Record| r.event_name.as_ref().map(|n| n.as_str().to_owned());
    let mut out: Vec<Record> = Vec::with_capacity(records.len());
    for record in records {
        if name(&record).as_deref() == Some("MODIFY")
            && let Some(change) = &record.dynamodb
            && change.old_image.is_some()
            && change.old_image == change.new_image
        {
            continue;
        }
        if name(&record).as_deref() == Some("INSERT")
            && let Some(previous) = out.last()
            && name(previous).as_deref() == Some("INSERT")
            && keys(previous) == keys(&record)
        {
            out.pop();
        }
        out.push(record);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, StreamRecord as Change};

    fn record(name: OperationType, key: &str, old: Option<&str>, new: Option<&str>) -> Record {
        let image = |v: &str| [("v".to_owned(), AttributeValue::S(v.to_owned()))].into();
        let change = Change::builder()
            .keys("pk", AttributeValue::S(key.to_owned()))
            .set_old_image(old.map(image))
            .set_new_image(new.map(image))
            .build();
        Record::builder().event_name(name).dynamodb(change).build()
    }

    #[test]
    fn motos_double_insert_and_empty_modify_are_removed() {
        let records = vec![
            record(OperationType::Insert, "a", None, Some("keys only")),
            record(OperationType::Insert, "a", None, Some("full")),
            record(OperationType::Modify, "a", Some("full"), Some("full")),
            record(OperationType::Modify, "a", Some("full"), Some("changed")),
            record(OperationType::Insert, "b", None, Some("x")),
        ];
        let kept: Vec<String> = corrected(records)
            .iter()
            .map(|r| {
                format!(
                    "{}:{:?}",
                    r.event_name.as_ref().unwrap().as_str(),
                    r.dynamodb.as_ref().unwrap().new_image.as_ref().unwrap()["v"]
                )
            })
            .collect();
        assert_eq!(kept, [r#"INSERT:S("full")"#, r#"MODIFY:S("changed")"#, r#"INSERT:S("x")"#]);
    }
}
