//! A queue of the environment's own, into which moto delivers what an asynchronous
//! trigger saw (S3 notifications, SNS messages, EventBridge events); each message becomes
//! an asynchronous invocation. moto cannot invoke functions itself without Docker, so
//! this is how its notifications reach them. Once queued for the function, a message is
//! deleted: from then on Lambda's asynchronous retries and destinations apply.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use hyper::body::Bytes;

use super::SourceContext;
use crate::Error;
use crate::lambda::Function;

pub struct Relay {
    pub url: String,
    pub arn: String,
}

impl Relay {
    /// A fresh queue named for the subscription it serves.
    pub async fn create(ctx: &SourceContext, subscription: &str) -> Result<Self, Error> {
        let clean: String =
            subscription.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let name: String = format!("local-env-{clean}").chars().take(70).collect::<String>() + "-" + suffix;
        let url = ctx
            .aws
            .sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| Error::aws("SQS", "CreateQueue", e))?
            .queue_url
            .unwrap_or_default();
        let arn = ctx
            .aws
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| Error::aws("SQS", "GetQueueAttributes", e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .unwrap_or_default();
        Ok(Self { url, arn })
    }

    /// Turns each message into an asynchronous invocation of `function`; `convert` makes
    /// the event from the message body, or `None` to drop it (e.g. S3's test event).
    pub fn spawn<F>(self, ctx: SourceContext, function: Arc<Function>, source: String, convert: F)
    where
        F: Fn(&str) -> Option<serde_json::Value> + Send + Sync + 'static,
    {
        tokio::spawn(async move {
            loop {
                if let Err(err) = self.poll(&ctx, &function, &source, &convert).await {
                    eprintln!("[{source}] {err}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }

    async fn poll<F>(
        &self,
        ctx: &SourceContext,
        function: &Arc<Function>,
        source: &str,
        convert: &F,
    ) -> Result<(), Error>
    where
        F: Fn(&str) -> Option<serde_json::Value>,
    {
        let received = ctx
            .aws
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| Error::aws("SQS", "ReceiveMessage", e))?;
        for message in received.messages.unwrap_or_default() {
            if let Some(event) = convert(message.body.as_deref().unwrap_or_default()) {
                ctx.lambda.invoke_async(function.clone(), Bytes::from(event.to_string()), source.to_owned());
            }
            if let Some(handle) = message.receipt_handle {
                ctx.aws
                    .sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| Error::aws("SQS", "DeleteMessage", e))?;
            }
        }
        Ok(())
    }
}
