//! Reads the parts of the SAM template the local environment acts on: tables, topics,
//! queues, subscriptions, functions and their events. Anything else in the template is
//! deployment-only (policies, alarms) and ignored here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use crate::Error;

#[derive(Debug, Clone)]
pub struct Template {
    pub path: PathBuf,
    resources: Mapping,
    globals: Mapping,
    parameters: Mapping,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub logical_id: String,
    /// (name, type) of each key attribute.
    pub attributes: Vec<(String, String)>,
    /// (name, HASH | RANGE).
    pub keys: Vec<(String, String)>,
    pub ttl_attribute: Option<String>,
    pub stream_view: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub logical_id: String,
    pub visibility_timeout: Option<u64>,
    pub retention: Option<u64>,
    /// Dead-letter queue (logical id) and the receive count that sends a message there.
    pub redrive: Option<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    pub topic: String,
    pub queue: String,
    pub raw: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventSpec {
    Api { path: String, method: String },
    Sqs { queue: String, batch_size: u64, report_failures: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// The workspace binary, from `CodeUri: .../target/lambda/<binary>/bootstrap.zip`.
    pub binary: String,
    pub timeout: u64,
    pub memory: u64,
    /// Unresolved environment values (may hold `!Ref` and friends).
    pub environment: BTreeMap<String, Value>,
    pub events: Vec<EventSpec>,
    /// The statements of the function's inline policies.
    pub policies: Vec<PolicyStatement>,
}

/// One IAM policy statement, as written in the template.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyStatement {
    pub actions: Vec<String>,
    /// `Resource` entries, unresolved.
    pub resources: Vec<Value>,
    /// `NotResource` entries, unresolved.
    pub not_resources: Vec<Value>,
}

impl PolicyStatement {
    /// The logical ids this statement's resources reference (`!GetAtt X.Arn`, `!Ref X`).
    pub fn resource_ids(&self) -> Vec<String> {
        self.resources.iter().filter_map(|r| target(Some(r))).collect()
    }
}

fn list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Sequence(items)) => items.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    }
}

fn get<'a>(map: &'a Mapping, key: &str) -> Option<&'a Value> {
    map.get(Value::String(key.to_owned()))
}

fn str_of(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

fn u64_of(value: Option<&Value>) -> Option<u64> {
    str_of(value).and_then(|s| s.parse().ok())
}

fn mapping(value: Option<&Value>) -> Mapping {
    match value {
        Some(Value::Mapping(m)) => m.clone(),
        _ => Mapping::new(),
    }
}

/// An intrinsic function in either YAML short form (`!Ref X`) or long form (`{Ref: X}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intrinsic {
    Ref(String),
    GetAtt(String, String),
    Sub(String),
}

pub fn intrinsic(value: &Value) -> Option<Intrinsic> {
    let (name, arg) = match value {
        Value::Tagged(tagged) => (tagged.tag.to_string().trim_start_matches('!').to_owned(), tagged.value.clone()),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            (k.as_str()?.trim_start_matches("Fn::").to_owned(), v.clone())
        }
        _ => return None,
    };
    match name.as_str() {
        "Ref" => Some(Intrinsic::Ref(arg.as_str()?.to_owned())),
        "GetAtt" => {
            let (resource, attribute) = match &arg {
                Value::String(s) => {
                    let (r, a) = s.split_once('.')?;
                    (r.to_owned(), a.to_owned())
                }
                Value::Sequence(parts) if parts.len() == 2 => {
                    (parts[0].as_str()?.to_owned(), parts[1].as_str()?.to_owned())
                }
                _ => return None,
            };
            Some(Intrinsic::GetAtt(resource, attribute))
        }
        "Sub" => Some(Intrinsic::Sub(arg.as_str()?.to_owned())),
        _ => None,
    }
}

/// The logical id a `!Ref X` or `!GetAtt X.Arn` points at.
fn target(value: Option<&Value>) -> Option<String> {
    match intrinsic(value?)? {
        Intrinsic::Ref(id) | Intrinsic::GetAtt(id, _) => Some(id),
        Intrinsic::Sub(_) => None,
    }
}

impl Template {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let text = std::fs::read_to_string(&path)
            .map_err(|source| Error::Read { path: path.display().to_string(), source })?;
        let doc: Value = serde_yaml::from_str(&text).map_err(|e| Error::Template(e.to_string()))?;
        let root = mapping(Some(&doc));
        let resources = mapping(get(&root, "Resources"));
        if resources.is_empty() {
            return Err(Error::Template("no Resources".into()));
        }
        let globals = mapping(get(&mapping(get(&root, "Globals")), "Function"));
        Ok(Self { path, resources, globals, parameters: mapping(get(&root, "Parameters")) })
    }

    /// The value a template parameter takes: its override, else its default.
    pub fn parameter_default(&self, name: &str) -> Option<String> {
        str_of(get(&mapping(get(&self.parameters, name)), "Default"))
    }

    /// Every parameter's value.
    pub fn parameter_values(&self) -> BTreeMap<String, String> {
        self.parameters
            .keys()
            .filter_map(|k| k.as_str())
            .filter_map(|k| self.parameter_default(k).map(|v| (k.to_owned(), v)))
            .collect()
    }

    /// Sets a parameter, as `sam deploy --parameter-overrides Name=Value` does.
    pub fn override_parameter(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let Some(Value::Mapping(param)) = self.parameters.get_mut(Value::String(name.to_owned())) else {
            return Err(Error::Template(format!("no parameter {name}")));
        };
        param.insert(Value::String("Default".into()), Value::String(value.to_owned()));
        Ok(())
    }

    /// The API's OpenAPI document: the `AWS::Include` location of the API's DefinitionBody,
    /// relative to the template.
    pub fn api_definition(&self) -> Option<PathBuf> {
        self.of_type("AWS::Serverless::Api").into_iter().find_map(|(_, props)| {
            let body = mapping(get(&props, "DefinitionBody"));
            let transform = mapping(get(&body, "Fn::Transform"));
            let location = str_of(get(&mapping(get(&transform, "Parameters")), "Location"))?;
            Some(self.path.parent().unwrap_or(Path::new(".")).join(location))
        })
    }

    /// The usage plan's throttle: (rate limit, burst limit), unresolved.
    pub fn usage_plan_throttle(&self) -> Option<(Value, Value)> {
        self.of_type("AWS::ApiGateway::UsagePlan").into_iter().find_map(|(_, props)| {
            let throttle = mapping(get(&props, "Throttle"));
            Some((get(&throttle, "RateLimit")?.clone(), get(&throttle, "BurstLimit")?.clone()))
        })
    }

    fn of_type(&self, kind: &str) -> Vec<(String, Mapping)> {
        self.resources
            .iter()
            .filter_map(|(id, res)| {
                let res = mapping(Some(res));
                (str_of(get(&res, "Type")).as_deref() == Some(kind))
                    .then(|| (id.as_str().unwrap_or_default().to_owned(), mapping(get(&res, "Properties"))))
            })
            .collect()
    }

    /// The resource type of a logical id.
    pub fn resource_type(&self, logical_id: &str) -> Option<String> {
        str_of(get(&mapping(get(&self.resources, logical_id)), "Type"))
    }

    pub fn tables(&self) -> Result<Vec<TableSpec>, Error> {
        self.of_type("AWS::DynamoDB::Table")
            .into_iter()
            .map(|(id, props)| {
                let pairs = |key: &str, a: &str, b: &str| -> Result<Vec<(String, String)>, Error> {
                    match get(&props, key) {
                        Some(Value::Sequence(items)) => items
                            .iter()
                            .map(|item| {
                                let m = mapping(Some(item));
                                match (str_of(get(&m, a)), str_of(get(&m, b))) {
                                    (Some(x), Some(y)) => Ok((x, y)),
                                    _ => Err(Error::Template(format!("{id}.{key} entries need {a} and {b}"))),
                                }
                            })
                            .collect(),
                        _ => Err(Error::Template(format!("{id} has no {key}"))),
                    }
                };
                let ttl = mapping(get(&props, "TimeToLiveSpecification"));
                let enabled = str_of(get(&ttl, "Enabled")).as_deref() == Some("true");
                Ok(TableSpec {
                    attributes: pairs("AttributeDefinitions", "AttributeName", "AttributeType")?,
                    keys: pairs("KeySchema", "AttributeName", "KeyType")?,
                    ttl_attribute: if enabled { str_of(get(&ttl, "AttributeName")) } else { None },
                    stream_view: str_of(get(&mapping(get(&props, "StreamSpecification")), "StreamViewType")),
                    logical_id: id,
                })
            })
            .collect()
    }

    pub fn topics(&self) -> Vec<String> {
        self.of_type("AWS::SNS::Topic").into_iter().map(|(id, _)| id).collect()
    }

    /// Queues, dead-letter queues first so a redrive policy can name its target.
    pub fn queues(&self) -> Result<Vec<QueueSpec>, Error> {
        let mut queues: Vec<QueueSpec> = self
            .of_type("AWS::SQS::Queue")
            .into_iter()
            .map(|(id, props)| {
                let redrive = match get(&props, "RedrivePolicy") {
                    Some(policy) => {
                        let policy = mapping(Some(policy));
                        let dlq = target(get(&policy, "deadLetterTargetArn")).ok_or_else(|| {
                            Error::Template(format!("{id}: deadLetterTargetArn must be !GetAtt Q.Arn"))
                        })?;
                        let max = u64_of(get(&policy, "maxReceiveCount"))
                            .ok_or_else(|| Error::Template(format!("{id}: maxReceiveCount missing")))?;
                        Some((dlq, max))
                    }
                    None => None,
                };
                Ok(QueueSpec {
                    visibility_timeout: u64_of(get(&props, "VisibilityTimeout")),
                    retention: u64_of(get(&props, "MessageRetentionPeriod")),
                    redrive,
                    logical_id: id,
                })
            })
            .collect::<Result<_, Error>>()?;
        queues.sort_by_key(|q| q.redrive.is_some());
        Ok(queues)
    }

    pub fn subscriptions(&self) -> Result<Vec<SubscriptionSpec>, Error> {
        self.of_type("AWS::SNS::Subscription")
            .into_iter()
            .filter(|(_, props)| str_of(get(props, "Protocol")).as_deref() == Some("sqs"))
            .map(|(id, props)| {
                let topic = target(get(&props, "TopicArn"));
                let queue = target(get(&props, "Endpoint"));
                match (topic, queue) {
                    (Some(topic), Some(queue)) => Ok(SubscriptionSpec {
                        topic,
                        queue,
                        raw: str_of(get(&props, "RawMessageDelivery")).as_deref() == Some("true"),
                    }),
                    _ => Err(Error::Template(format!("{id}: TopicArn and Endpoint must reference resources"))),
                }
            })
            .collect()
    }

    pub fn functions(&self) -> Result<Vec<FunctionSpec>, Error> {
        self.of_type("AWS::Serverless::Function")
            .into_iter()
            .map(|(id, props)| {
                let setting = |key: &str| get(&props, key).or_else(|| get(&self.globals, key));
                let code = str_of(get(&props, "CodeUri")).unwrap_or_default();
                let binary = code
                    .strip_suffix("/bootstrap.zip")
                    .and_then(|dir| dir.rsplit('/').next())
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| {
                        Error::Template(format!("{id}: CodeUri must be .../target/lambda/<binary>/bootstrap.zip"))
                    })?
                    .to_owned();
                let mut environment = BTreeMap::new();
                for source in [&self.globals, &props] {
                    let vars = mapping(get(&mapping(get(source, "Environment")), "Variables"));
                    for (k, v) in vars {
                        if let Some(k) = k.as_str() {
                            environment.insert(k.to_owned(), v);
                        }
                    }
                }
                let mut events = Vec::new();
                for (name, event) in mapping(get(&props, "Events")) {
                    let event = mapping(Some(&event));
                    let p = mapping(get(&event, "Properties"));
                    let name = name.as_str().unwrap_or_default().to_owned();
                    match str_of(get(&event, "Type")).as_deref() {
                        Some("Api") => events.push(EventSpec::Api {
                            path: str_of(get(&p, "Path"))
                                .ok_or_else(|| Error::Template(format!("{id}.{name}: no Path")))?,
                            method: str_of(get(&p, "Method"))
                                .ok_or_else(|| Error::Template(format!("{id}.{name}: no Method")))?
                                .to_ascii_uppercase(),
                        }),
                        Some("SQS") => events.push(EventSpec::Sqs {
                            queue: target(get(&p, "Queue"))
                                .ok_or_else(|| Error::Template(format!("{id}.{name}: Queue must be !GetAtt Q.Arn")))?,
                            batch_size: u64_of(get(&p, "BatchSize")).unwrap_or(10),
                            report_failures: matches!(get(&p, "FunctionResponseTypes"), Some(Value::Sequence(t))
                                if t.iter().any(|v| v.as_str() == Some("ReportBatchItemFailures"))),
                        }),
                        other => {
                            return Err(Error::Template(format!(
                                "{id}.{name}: event type {other:?} is not run by the local environment yet"
                            )));
                        }
                    }
                }
                let policies = list(get(&props, "Policies"))
                    .iter()
                    .flat_map(|policy| list(get(&mapping(Some(policy)), "Statement")))
                    .map(|statement| {
                        let statement = mapping(Some(&statement));
                        PolicyStatement {
                            actions: list(get(&statement, "Action")).iter().filter_map(|a| str_of(Some(a))).collect(),
                            resources: list(get(&statement, "Resource")),
                            not_resources: list(get(&statement, "NotResource")),
                        }
                    })
                    .collect();
                Ok(FunctionSpec {
                    policies,
                    binary,
                    timeout: u64_of(setting("Timeout")).unwrap_or(3),
                    memory: u64_of(setting("MemorySize")).unwrap_or(128),
                    environment,
                    events,
                    logical_id: id,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml")).unwrap()
    }

    #[test]
    fn reads_the_projects_template() {
        let t = template();
        let mut tables: Vec<String> = t.tables().unwrap().into_iter().map(|t| t.logical_id).collect();
        tables.sort();
        assert_eq!(tables, ["AlertsTable", "FlightsTable", "SmsDeliveriesTable"]);
        assert!(t.tables().unwrap().iter().all(|t| t.ttl_attribute.as_deref() == Some("expiresAt")));
        assert_eq!(t.topics(), ["AlertsTopic", "AlarmTopic"]);
        let queues = t.queues().unwrap();
        assert_eq!(queues[0].logical_id, "SmsDeadLetterQueue");
        assert_eq!(queues[1].redrive, Some(("SmsDeadLetterQueue".into(), 5)));
        assert_eq!(
            t.subscriptions().unwrap(),
            [SubscriptionSpec { topic: "AlertsTopic".into(), queue: "SmsQueue".into(), raw: true }]
        );
        assert_eq!(t.parameter_default("Stage").as_deref(), Some("dev"));
    }

    #[test]
    fn functions_carry_binary_settings_and_events() {
        let functions = template().functions().unwrap();
        let sms = functions.iter().find(|f| f.binary == "sms").unwrap();
        assert_eq!(sms.timeout, 60);
        assert_eq!(sms.memory, 128);
        assert_eq!(sms.events, [EventSpec::Sqs { queue: "SmsQueue".into(), batch_size: 10, report_failures: true }]);
        assert!(sms.environment.contains_key("RUST_LOG"), "globals are merged");
        let flights = functions.iter().find(|f| f.binary == "flights").unwrap();
        assert!(flights.events.contains(&EventSpec::Api { path: "/flights/{flightId}".into(), method: "GET".into() }));
        assert_eq!(intrinsic(&flights.environment["FLIGHTS_TABLE"]), Some(Intrinsic::Ref("FlightsTable".into())));
    }
}
