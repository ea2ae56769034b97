//! A failed DynamoDB transaction leaves no trace, in the table or its stream, and the
//! stream goes on: moto's own rollback put a copy of the table in its place, and every
//! reader of the stream was left reading one that no write reached again
//! (`tools/local-env/moto/serve.py`). Against the moto server of `scripts/test`.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put, ScalarAttributeType,
    StreamSpecification, StreamViewType, TransactWriteItem,
};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use local_env::aws::Aws;

fn put(table: &str, id: &str, condition: Option<&str>) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(table)
        .item("pk", AttributeValue::S(id.to_owned()))
        .set_condition_expression(condition.map(str::to_owned))
        .build()
        .unwrap();
    TransactWriteItem::builder().put(put).build()
}

#[tokio::test]
async fn a_failed_transaction_leaves_nothing_and_the_stream_goes_on() {
    let endpoint = std::env::var("MOTO_ENDPOINT").expect("MOTO_ENDPOINT: run the tests with scripts/test");
    let aws = Aws::new(&local_env::provision::emulator_config(&endpoint).await);
    let table = format!("transactions-{}", uuid::Uuid::new_v4().simple());
    let created = aws
        .dynamodb
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let stream = created.table_description.unwrap().latest_stream_arn.unwrap();
    let shard = aws.streams.describe_stream().stream_arn(&stream).send().await.unwrap();
    let shard_id = shard.stream_description.unwrap().shards.unwrap()[0].shard_id.clone().unwrap();
    let mut iterator = aws
        .streams
        .get_shard_iterator()
        .stream_arn(&stream)
        .shard_id(&shard_id)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator;

    let write =
        |items: Vec<TransactWriteItem>| aws.dynamodb.transact_write_items().set_transact_items(Some(items)).send();
    write(vec![put(&table, "first", None)]).await.unwrap();
    // "written" would be written, but "first" exists: the whole transaction fails.
    let refused =
        write(vec![put(&table, "written", None), put(&table, "first", Some("attribute_not_exists(pk)"))]).await;
    assert!(refused.is_err());
    write(vec![put(&table, "after", None)]).await.unwrap();

    let key = AttributeValue::S("written".into());
    let kept = aws.dynamodb.get_item().table_name(&table).key("pk", key).send().await.unwrap();
    assert!(kept.item.is_none(), "the failed transaction wrote nothing");

    // The iterator taken before the failure still reads what came after it.
    let mut seen = Vec::new();
    for _ in 0..5 {
        let Some(current) = iterator.take() else { break };
        let page = aws.streams.get_records().shard_iterator(current).send().await.unwrap();
        for record in page.records.unwrap_or_default() {
            let keys = record.dynamodb.unwrap().keys.unwrap();
            seen.push(keys["pk"].as_s().unwrap().clone());
        }
        iterator = page.next_shard_iterator;
    }
    assert_eq!(seen, ["first", "after"]);
}
