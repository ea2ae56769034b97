//! Time to live, locally: moto never expires items, so a sweeper deletes the items whose
//! TTL attribute (epoch seconds) is before the environment's clock, on a cadence and on
//! demand (`scripts/local sweep`). As on AWS, a TTL attribute that is not a number, or
//! more than five years in the past, is not an expiry.
//!
//! AWS marks the stream records of its TTL deletions with `userIdentity: {type: Service,
//! principalId: dynamodb.amazonaws.com}`; moto marks nothing. Each deletion is recorded
//! here (table, keys, old image), and the DynamoDB stream source marks the REMOVE record
//! that matches it; a user's delete matches nothing and carries no identity.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::Value;

use crate::Error;
use crate::aws::Aws;
use crate::clock::Clock;
use crate::dynamo_json::item_from_dynamodb;
use crate::resources::Resources;
use crate::template::{Template, get, mapping, str_of};

/// How long a deletion is remembered: a stream keeps records for 24 hours.
const REMEMBERED: Duration = Duration::from_secs(24 * 3600);
/// AWS ignores expiry times more than five years old.
const OLDEST_EXPIRY: i64 = 5 * 365 * 24 * 3600;

struct Sweep {
    id: u64,
    table: String,
    keys: Value,
    old_image: Value,
    at: Instant,
}

/// The deletions the sweeper made.
#[derive(Default)]
pub struct Sweeps {
    entries: Mutex<Vec<Sweep>>,
    next_id: Mutex<u64>,
}

impl Sweeps {
    fn record(&self, table: &str, keys: Value, old_image: Value) {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|s| s.at.elapsed() < REMEMBERED);
        entries.push(Sweep { id, table: table.to_owned(), keys, old_image, at: Instant::now() });
    }

    /// Whether a REMOVE record (table, keys, old image if the stream carries it) is a TTL
    /// deletion not yet matched by this reader (`matched` is the reader's own set).
    pub fn claim(&self, table: &str, keys: &Value, old_image: Option<&Value>, matched: &mut HashSet<u64>) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let found = entries.iter().find(|s| {
            s.table == table
                && &s.keys == keys
                && old_image.is_none_or(|image| image == &s.old_image)
                && !matched.contains(&s.id)
        });
        match found {
            Some(sweep) => {
                matched.insert(sweep.id);
                true
            }
            None => false,
        }
    }
}

/// A table with TTL enabled.
#[derive(Debug, Clone)]
pub struct TtlTable {
    pub logical_id: String,
    pub name: String,
    pub attribute: String,
}

/// The template's tables with TTL enabled, by their local names.
pub fn tables(template: &Template, resources: &Resources) -> Result<Vec<TtlTable>, Error> {
    let mut out = Vec::new();
    for (id, props) in template.of_type("AWS::DynamoDB::Table") {
        let ttl = mapping(get(&props, "TimeToLiveSpecification"));
        if str_of(get(&ttl, "Enabled")).as_deref() != Some("true") {
            continue;
        }
        let Some(attribute) = str_of(get(&ttl, "AttributeName")) else { continue };
        out.push(TtlTable { name: resources.get(&id)?.reference.clone(), logical_id: id, attribute });
    }
    Ok(out)
}

pub struct Sweeper {
    pub aws: Aws,
    pub clock: Clock,
    pub tables: Vec<TtlTable>,
    pub sweeps: std::sync::Arc<Sweeps>,
}

impl Sweeper {
    /// Deletes every expired item now; returns how many, by table logical id.
    pub async fn sweep(&self) -> Result<Vec<(String, usize)>, Error> {
        let mut counts = Vec::new();
        for table in &self.tables {
            counts.push((table.logical_id.clone(), self.sweep_table(table).await?));
        }
        Ok(counts)
    }

    async fn sweep_table(&self, table: &TtlTable) -> Result<usize, Error> {
        let now = self.clock.now().unix_timestamp();
        let described = self
            .aws
            .dynamodb
            .describe_table()
            .table_name(&table.name)
            .send()
            .await
            .map_err(|e| Error::aws("DynamoDB", "DescribeTable", e))?;
        let key_names: Vec<String> = described
            .table
            .and_then(|t| t.key_schema)
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.attribute_name)
            .collect();
        let mut deleted = 0;
        let mut start = None;
        loop {
            let page = self
                .aws
                .dynamodb
                .scan()
                .table_name(&table.name)
                .filter_expression("#ttl BETWEEN :oldest AND :now")
                .expression_attribute_names("#ttl", &table.attribute)
                .expression_attribute_values(":oldest", AttributeValue::N((now - OLDEST_EXPIRY).to_string()))
                .expression_attribute_values(":now", AttributeValue::N((now - 1).to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| Error::aws("DynamoDB", "Scan", e))?;
            for item in page.items.unwrap_or_default() {
                let key: std::collections::HashMap<String, AttributeValue> =
                    item.into_iter().filter(|(name, _)| key_names.contains(name)).collect();
                // Conditional, so an item renewed since the scan is left alone.
                let removed = self
                    .aws
                    .dynamodb
                    .delete_item()
                    .table_name(&table.name)
                    .set_key(Some(key.clone()))
                    .condition_expression("#ttl < :now")
                    .expression_attribute_names("#ttl", &table.attribute)
                    .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await;
                match removed {
                    Ok(out) => {
                        let old = out.attributes.as_ref().map(item_from_dynamodb).unwrap_or(Value::Null);
                        self.sweeps.record(&table.name, item_from_dynamodb(&key), old);
                        deleted += 1;
                    }
                    Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                    Err(err) => return Err(Error::aws("DynamoDB", "DeleteItem", err)),
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(deleted)
    }

    /// Sweeps every `interval`, forever.
    pub async fn run(self: std::sync::Arc<Self>, interval: Duration) {
        loop {
            tokio::time::sleep(interval).await;
            match self.sweep().await {
                Ok(counts) => {
                    for (table, n) in counts.into_iter().filter(|(_, n)| *n > 0) {
                        eprintln!("[ttl] {table}: {n} expired item(s) deleted");
                    }
                }
                Err(err) => eprintln!("[ttl] {err}"),
            }
        }
    }
}
