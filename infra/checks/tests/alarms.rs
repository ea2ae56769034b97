//! Alarms must reach somebody: every topic an alarm notifies must be one CloudWatch can
//! publish to. A topic encrypted with the AWS-managed SNS key (`alias/aws/sns`) is not —
//! CloudWatch cannot use that key, and the alarm stays silent. An encrypted alarm topic
//! needs a customer-managed key of this template whose policy lets CloudWatch encrypt
//! (`kms:GenerateDataKey*`) and decrypt (`kms:Decrypt`).

use std::path::Path;

use local_env::Template;
use local_env::template::{Intrinsic, get, intrinsic, list, mapping, str_of};
use yaml_serde::Value;

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What is wrong with the template's alarm topics, one line each.
fn silent_alarm_topics(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for (alarm, props) in template.of_type("AWS::CloudWatch::Alarm") {
        let actions =
            ["AlarmActions", "OKActions", "InsufficientDataActions"].iter().flat_map(|k| list(get(&props, k)));
        for action in actions {
            let Some(Intrinsic::Ref(topic)) = intrinsic(&action) else {
                problems.push(format!("{alarm}: an action that is not a !Ref to a topic of this template"));
                continue;
            };
            let topic_props =
                template.of_type("AWS::SNS::Topic").into_iter().find(|(id, _)| *id == topic).map(|(_, p)| p);
            let Some(topic_props) = topic_props else {
                problems.push(format!("{alarm}: {topic} is not a topic of this template"));
                continue;
            };
            let Some(key) = get(&topic_props, "KmsMasterKeyId") else { continue };
            let key_id = match intrinsic(key) {
                Some(Intrinsic::Ref(id) | Intrinsic::GetAtt(id, _)) => id,
                _ => {
                    let named = str_of(Some(key)).unwrap_or_default();
                    problems.push(format!(
                        "{alarm} notifies {topic}, encrypted with {named}: CloudWatch cannot use that key"
                    ));
                    continue;
                }
            };
            if !grants_cloudwatch(template, &key_id) {
                problems.push(format!("{alarm} notifies {topic}, whose key {key_id} does not let CloudWatch use it"));
            }
        }
    }
    problems
}

/// Whether the key's policy allows cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*.
fn grants_cloudwatch(template: &Template, key: &str) -> bool {
    let Some((_, props)) = template.of_type("AWS::KMS::Key").into_iter().find(|(id, _)| id == key) else {
        return false;
    };
    let statements = list(get(&mapping(get(&props, "KeyPolicy")), "Statement"));
    let allowed = |action: &str| {
        statements.iter().any(|statement| {
            let statement = mapping(Some(statement));
            let principal = mapping(get(&statement, "Principal"));
            let services = list(get(&principal, "Service"));
            str_of(get(&statement, "Effect")).as_deref() == Some("Allow")
                && services.iter().any(|s| s.as_str() == Some("cloudwatch.amazonaws.com"))
                && list(get(&statement, "Action")).iter().filter_map(Value::as_str).any(|a| a == action || a == "kms:*")
        })
    };
    allowed("kms:Decrypt") && (allowed("kms:GenerateDataKey*") || allowed("kms:GenerateDataKey"))
}

#[test]
fn every_alarm_notifies_a_topic_cloudwatch_can_publish_to() {
    let template = Template::load(root().join("infra/template.yaml")).unwrap();
    assert!(!template.of_type("AWS::CloudWatch::Alarm").is_empty());
    let problems = silent_alarm_topics(&template);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_check_catches_an_alarm_topic_on_the_aws_managed_key_and_a_key_without_the_grant() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let check = |mutated: String| {
        assert_ne!(mutated, text, "the mutation must change the template");
        let path = std::env::temp_dir().join(format!("template-{}.yaml", std::process::id()));
        std::fs::write(&path, mutated).unwrap();
        silent_alarm_topics(&Template::load(&path).unwrap())
    };
    let managed = check(text.replace("KmsMasterKeyId: !Ref AlarmTopicKey", "KmsMasterKeyId: alias/aws/sns"));
    assert!(managed.iter().any(|p| p.contains("alias/aws/sns")), "{managed:?}");
    let ungranted =
        check(text.replace(
            "Principal: { Service: cloudwatch.amazonaws.com }",
            "Principal: { Service: events.amazonaws.com }",
        ));
    assert!(ungranted.iter().any(|p| p.contains("does not let CloudWatch")), "{ungranted:?}");
}
