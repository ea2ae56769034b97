//! `Type: Kinesis` — a Kinesis data stream's shards, read from moto and delivered with the
//! shared stream semantics ([`super::stream`]). Records are shaped as Lambda delivers
//! them (`kinesis.data` base64, `eventID` = `shardId:sequenceNumber`); filters see `data`
//! decoded when it holds JSON.

use std::sync::Arc;

use aws_sdk_kinesis::types::ShardIteratorType;
use base64::Engine;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::stream::{MappingConfig, ShardReader, StartingPosition, StreamRecord, run_shard};
use super::{SourceContext, Subscription};
use crate::Error;
use crate::aws::{ACCOUNT, Aws};

pub fn start<'a>(sub: Subscription<'a>, ctx: &'a SourceContext) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let props = &sub.props;
        let stream_arn = props.required_string("Stream")?;
        let logical_id =
            ctx.resources.logical_id_of_arn(&stream_arn).map(str::to_owned).ok_or_else(|| {
                props.error("Stream must be !GetAtt <stream>.Arn of a Kinesis stream of this template")
            })?;
        let stream_name = ctx.resources.get(&logical_id)?.reference.clone();
        let position = match props.required_string("StartingPosition")?.as_str() {
            "TRIM_HORIZON" => StartingPosition::TrimHorizon,
            "LATEST" => StartingPosition::Latest,
            "AT_TIMESTAMP" => {
                let at = props
                    .integer("StartingPositionTimestamp", 0..=i64::MAX)?
                    .ok_or_else(|| props.error("AT_TIMESTAMP needs StartingPositionTimestamp (epoch seconds)"))?;
                StartingPosition::AtTimestamp(
                    OffsetDateTime::from_unix_timestamp(at)
                        .map_err(|e| props.error(format!("StartingPositionTimestamp: {e}")))?,
                )
            }
            other => {
                return Err(
                    props.error(format!("StartingPosition {other} is not TRIM_HORIZON, LATEST or AT_TIMESTAMP"))
                );
            }
        };
        let config = MappingConfig::read(
            props,
            ctx,
            format!("kinesis:{logical_id}"),
            stream_arn.clone(),
            "KinesisBatchInfo",
            position,
            filter_view,
        )
        .await?;
        let enabled = props.boolean("Enabled")?.unwrap_or(true);
        let Subscription { function, props, .. } = sub;
        props.finish()?;
        if !enabled {
            return Ok(());
        }
        let config = Arc::new(config);
        let shards = ctx
            .aws
            .kinesis
            .list_shards()
            .stream_name(&stream_name)
            .send()
            .await
            .map_err(|e| Error::aws("Kinesis", "ListShards", e))?
            .shards
            .unwrap_or_default();
        for shard in shards {
            let reader = StreamShard::open(&ctx.aws, &stream_name, &stream_arn, &shard.shard_id, position).await?;
            tokio::spawn(run_shard(ctx.clone(), function.clone(), config.clone(), shard.shard_id, Box::new(reader)));
        }
        Ok(())
    })
}

/// The record as filters see it: the `kinesis` fields at the top, `data` decoded when it
/// holds JSON.
fn filter_view(record: &Value) -> Value {
    let mut view = record.clone();
    if let (Some(object), Some(kinesis)) = (view.as_object_mut(), record.get("kinesis").and_then(Value::as_object)) {
        for (k, v) in kinesis {
            object.insert(k.clone(), v.clone());
        }
        let decoded = kinesis
            .get("data")
            .and_then(Value::as_str)
            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .filter(|v| v.is_object() || v.is_array());
        if let Some(data) = decoded {
            object.insert("data".into(), data);
        }
    }
    view
}

struct StreamShard {
    aws: Aws,
    stream_arn: String,
    shard_id: String,
    iterator: Option<String>,
}

impl StreamShard {
    async fn open(
        aws: &Aws,
        stream: &str,
        stream_arn: &str,
        shard_id: &str,
        position: StartingPosition,
    ) -> Result<Self, Error> {
        let mut request = aws.kinesis.get_shard_iterator().stream_name(stream).shard_id(shard_id);
        request = match position {
            StartingPosition::TrimHorizon => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            StartingPosition::Latest => request.shard_iterator_type(ShardIteratorType::Latest),
            StartingPosition::AtTimestamp(at) => request
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(aws_sdk_kinesis::primitives::DateTime::from_secs(at.unix_timestamp())),
        };
        let iterator = request.send().await.map_err(|e| Error::aws("Kinesis", "GetShardIterator", e))?.shard_iterator;
        Ok(Self { aws: aws.clone(), stream_arn: stream_arn.to_owned(), shard_id: shard_id.to_owned(), iterator })
    }
}

impl ShardReader for StreamShard {
    fn read(&mut self) -> BoxFuture<'_, Result<Vec<StreamRecord>, Error>> {
        Box::pin(async move {
            let Some(iterator) = self.iterator.clone() else { return Ok(Vec::new()) };
            let out = self
                .aws
                .kinesis
                .get_records()
                .shard_iterator(iterator)
                .limit(1000)
                .send()
                .await
                .map_err(|e| Error::aws("Kinesis", "GetRecords", e))?;
            self.iterator = out.next_shard_iterator;
            Ok(out
                .records
                .into_iter()
                .map(|r| {
                    let arrival = r.approximate_arrival_timestamp.map(|t| t.as_secs_f64()).unwrap_or_default();
                    let data = base64::engine::general_purpose::STANDARD.encode(r.data.as_ref());
                    let record = json!({
                        "kinesis": {
                            "kinesisSchemaVersion": "1.0",
                            "partitionKey": r.partition_key,
                            "sequenceNumber": r.sequence_number,
                            "data": data,
                            "approximateArrivalTimestamp": arrival,
                        },
                        "eventSource": "aws:kinesis",
                        "eventVersion": "1.0",
                        "eventID": format!("{}:{}", self.shard_id, r.sequence_number),
                        "eventName": "aws:kinesis:record",
                        "invokeIdentityArn": format!("arn:aws:iam::{ACCOUNT}:role/lambda-role"),
                        "awsRegion": self.aws.region,
                        "eventSourceARN": self.stream_arn,
                    });
                    StreamRecord {
                        sequence: r.sequence_number,
                        arrival: OffsetDateTime::from_unix_timestamp_nanos((arrival * 1e9) as i128)
                            .unwrap_or_else(|_| OffsetDateTime::now_utc()),
                        record,
                    }
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_see_decoded_json_data_and_the_kinesis_fields() {
        let data = base64::engine::general_purpose::STANDARD.encode(br#"{"order":{"type":"buy"}}"#);
        let record = json!({"kinesis": {"partitionKey": "p1", "data": data}, "eventSource": "aws:kinesis"});
        let view = filter_view(&record);
        assert_eq!(view["data"]["order"]["type"], "buy");
        assert_eq!(view["partitionKey"], "p1");
        let plain = json!({"kinesis": {"data": base64::engine::general_purpose::STANDARD.encode(b"not json")}});
        assert!(filter_view(&plain)["data"].is_string());
    }
}
