//! `DeleteMessageBatch` can fail for some entries and not others; the SQS source reads
//! which, so it retries only those (and never counts a failed delete as done). Against the
//! moto server of `scripts/test` (MOTO_ENDPOINT).

use local_env::aws::Aws;
use local_env::sources::sqs::delete_batch;

#[tokio::test]
async fn the_entries_that_failed_are_the_ones_reported() {
    let endpoint = std::env::var("MOTO_ENDPOINT").expect("MOTO_ENDPOINT: run the tests with scripts/test");
    let aws = Aws::new(&local_env::provision::emulator_config(&endpoint).await);
    let name = format!("deletes-{}", uuid::Uuid::new_v4().simple());
    let url = aws.sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    for body in ["one", "two"] {
        aws.sqs.send_message().queue_url(&url).message_body(body).send().await.unwrap();
    }
    let received = aws.sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await.unwrap();
    let handles: Vec<String> = received.messages.unwrap().into_iter().filter_map(|m| m.receipt_handle).collect();
    assert_eq!(handles.len(), 2);

    let entries = [("a".to_owned(), handles[0].clone()), ("b".to_owned(), "not-a-receipt-handle".to_owned())];
    let failed = delete_batch(&aws, &url, &entries).await.unwrap();
    assert_eq!(failed.into_iter().collect::<Vec<_>>(), ["b"]);

    // The one deleted is gone; the other is still in the queue.
    let attributes = aws
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attributes[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible], "1");
}
