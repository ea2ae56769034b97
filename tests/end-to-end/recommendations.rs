//! Store recommendations end to end, against the local environment: put a collection,
//! and the store's model appears within moments (collections table → its stream → the
//! collection publisher → SNS → SQS → the retrainer → S3 and the model pointer); ask for
//! "insomnia" and get a product tagged with it; remove it, and the next model no longer
//! offers it; a burst of fifty edits is one or two retrains, not fifty; products no reader
//! will see again (replaced, or written by a replacement that never committed) are swept.

use std::time::Duration;

use serde_json::{Value, json};

mod support;
use support::LocalEnv;

fn product(id: &str, tags: &[&str]) -> Value {
    json!({"productId": id, "name": format!("Product {id}"), "tags": tags, "available": true})
}

/// The recommendations for `tags` once the store's model is of `version` at least.
async fn recommendations_from(env: &LocalEnv, store: &str, tags: &str, version: u64) -> Value {
    let http = env.client();
    let url = env.api(&format!("/stores/{store}/recommendations?tags={tags}&limit=5"));
    testkit::eventually(Duration::from_secs(60), &format!("a model of version {version}"), || async {
        let answer: Value = http.get(&url).send().await.ok()?.json().await.ok()?;
        (answer["modelVersion"].as_u64()? >= version).then_some(answer)
    })
    .await
}

fn offered(answer: &Value) -> Vec<String> {
    answer["items"].as_array().unwrap().iter().map(|i| i["productId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collection_change_retrains_the_store_model_within_moments() {
    let env = LocalEnv::start(&[]);
    let http = env.client();
    let collection = json!({"products": [
        product("chamomile-tea", &["insomnia", "calm"]),
        product("eye-mask", &["insomnia", "travel"]),
        product("espresso", &["energy"]),
        product("running-shoes", &["sport"]),
    ]});
    let put = http.put(env.api("/stores/sleepwell/collection")).json(&collection).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let version = put.json::<Value>().await.unwrap()["version"].as_u64().unwrap();

    let answer = recommendations_from(&env, "sleepwell", "insomnia", version).await;
    let first = offered(&answer);
    assert!(["chamomile-tea", "eye-mask"].contains(&first[0].as_str()), "{answer}");
    assert!(!first[..2].contains(&"espresso".to_owned()), "{answer}");

    // The consumer picks one; the choice is recorded.
    let id = answer["recommendationId"].as_str().unwrap();
    let chosen = http
        .put(env.api(&format!("/stores/sleepwell/recommendations/{id}/choice")))
        .json(&json!({"productId": first[0]}))
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), 204);

    // Remove the top product: the next model does not offer it.
    let removed =
        http.patch(env.api("/stores/sleepwell/collection")).json(&json!({"remove": [first[0]]})).send().await.unwrap();
    let version = removed.json::<Value>().await.unwrap()["version"].as_u64().unwrap();
    let answer = recommendations_from(&env, "sleepwell", "insomnia", version).await;
    assert!(!offered(&answer).contains(&first[0]), "{answer}");
    assert_eq!(answer["modelVersion"], version);

    // The choreography, from the invocation log: API, stream, queue.
    let sources: Vec<String> =
        env.invocations().iter().map(|i| i["source"].as_str().unwrap_or_default().to_owned()).collect();
    for source in ["api:PUT /stores/{storeId}/collection", "dynamodb:CollectionsTable", "sqs:RetrainQueue"] {
        assert!(sources.iter().any(|s| s == source), "{source} missing from {sources:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_quick_edits_cause_one_or_two_retrains_not_fifty() {
    // A batching window longer than the burst takes here (debug builds, moto), as the
    // template's 2 s is to a burst on AWS.
    let env = LocalEnv::start(&["--parameter", "RetrainBatchingWindowSeconds=15"]);
    let http = env.client();
    let put = http
        .put(env.api("/stores/busy-shop/collection"))
        .json(&json!({"products": [product("base", &["calm"])]}))
        .send()
        .await
        .unwrap();
    let version = put.json::<Value>().await.unwrap()["version"].as_u64().unwrap();
    recommendations_from(&env, "busy-shop", "calm", version).await;
    let retrains_before = env.metric_total("retrainer", "ModelsTrained");

    let mut last = version;
    for i in 0..50 {
        let edit = json!({"upsert": [product(&format!("p-{i}"), &["calm", "new"])]});
        let answer = http.patch(env.api("/stores/busy-shop/collection")).json(&edit).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        last = answer.json::<Value>().await.unwrap()["version"].as_u64().unwrap();
    }
    assert_eq!(last, version + 50);
    let answer = recommendations_from(&env, "busy-shop", "new", last).await;
    assert_eq!(answer["modelVersion"], last, "the newest version is trained");
    // The metrics line is written as the invocation that trained the model ends.
    let retrains = testkit::eventually(Duration::from_secs(30), "the retrain counted", || async {
        let retrains = env.metric_total("retrainer", "ModelsTrained") - retrains_before;
        (retrains > 0).then_some(retrains)
    })
    .await;
    assert!(retrains <= 2, "{retrains} retrains for fifty edits");
}

/// The generations of a store's products the collections table holds, with their counts.
async fn generations(env: &LocalEnv, store: &str) -> std::collections::BTreeMap<String, usize> {
    let dynamo = aws_sdk_dynamodb::Client::new(&env.aws().await);
    let out = dynamo
        .query()
        .table_name(env.resource("CollectionsTable", "reference"))
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("STORE#{store}")))
        .expression_attribute_values(":prefix", aws_sdk_dynamodb::types::AttributeValue::S("P#".into()))
        .send()
        .await
        .unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for item in out.items.unwrap_or_default() {
        let sk = item["sk"].as_s().unwrap();
        let generation = sk.split('#').nth(1).unwrap().to_owned();
        *counts.entry(generation).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn replaced_and_abandoned_products_are_swept_from_the_table() {
    let env = LocalEnv::start(&[]);
    let http = env.client();
    let url = env.api("/stores/tidy-shop/collection");
    let first = json!({"products": [product("a", &["calm"]), product("b", &["calm"]), product("c", &["calm"])]});
    assert_eq!(http.put(&url).json(&first).send().await.unwrap().status(), 200);
    assert_eq!(generations(&env, "tidy-shop").await.into_values().collect::<Vec<_>>(), [3]);

    // A replacement: the old generation's products are deleted from the stream, not by the
    // request, and the store reads its new products throughout.
    let second = json!({"products": [product("d", &["calm"])]});
    assert_eq!(http.put(&url).json(&second).send().await.unwrap().status(), 200);
    testkit::eventually(Duration::from_secs(60), "the replaced generation deleted", || async {
        let left = generations(&env, "tidy-shop").await;
        (left.values().copied().collect::<Vec<_>>() == [1]).then_some(())
    })
    .await;
    let page: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    // A replacement that never commits (DynamoDB refuses its head write) leaves its
    // products and its pending marker; when the marker expires, the sweeper deletes them.
    assert!(env.local(&["fault", "dynamodb:PutItem@HEAD=5xx:1"]).0);
    let third = json!({"products": [product("e", &["calm"]), product("f", &["calm"])]});
    let refused = http.put(&url).json(&third).send().await.unwrap();
    assert!(refused.status().is_server_error(), "{}", refused.status());
    env.local(&["fault", "--clear"]);
    let left = generations(&env, "tidy-shop").await;
    assert_eq!(left.len(), 2, "the abandoned products are still there: {left:?}");
    assert!(env.local(&["advance", "2d"]).0);
    assert!(env.local(&["sweep"]).0);
    testkit::eventually(Duration::from_secs(60), "the abandoned generation deleted", || async {
        let left = generations(&env, "tidy-shop").await;
        (left.values().copied().collect::<Vec<_>>() == [1]).then_some(())
    })
    .await;
    let page: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"][0]["productId"], "d", "the committed collection is untouched");
}
