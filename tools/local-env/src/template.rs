//! Reads the SAM template: parameters, resources by type, functions and their events.
//! What each property means locally is decided where it is used (provisioning, the event
//! sources), each of which reads its properties through [`crate::properties::Props`] and
//! refuses the ones it does not support.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use yaml_serde::{Mapping, Value};

use crate::Error;

#[derive(Debug, Clone)]
pub struct Template {
    pub path: PathBuf,
    resources: Mapping,
    globals: Mapping,
    parameters: Mapping,
}

/// One entry of a function's `Events:`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDefinition {
    pub name: String,
    /// `Api`, `SQS`, `DynamoDB`, `Kinesis`, `S3`, `SNS`, `Schedule`, `ScheduleV2`, ...
    pub kind: String,
    pub properties: Mapping,
}

impl EventDefinition {
    /// `(path, METHOD)` of an `Api` event.
    pub fn api_route(&self) -> Option<(String, String)> {
        if self.kind != "Api" {
            return None;
        }
        let path = str_of(get(&self.properties, "Path"))?;
        let method = str_of(get(&self.properties, "Method"))?.to_ascii_uppercase();
        Some((path, method))
    }

    /// The logical id a property references (`!GetAtt Q.Arn`, `!Ref T`).
    pub fn target(&self, property: &str) -> Option<String> {
        target(get(&self.properties, property))
    }

    /// An unresolved property value.
    pub fn property(&self, name: &str) -> Option<&Value> {
        get(&self.properties, name)
    }

    /// Whether a list property (e.g. `FunctionResponseTypes`) holds `item`.
    pub fn lists(&self, property: &str, item: &str) -> bool {
        list(get(&self.properties, property)).iter().any(|v| v.as_str() == Some(item))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// The workspace binary, from `CodeUri: .../target/lambda/<binary>/bootstrap.zip`.
    pub binary: String,
    /// The function's name locally (what `cargo lambda invoke NAME` takes): its binary's
    /// name, or its logical id where several functions run the same binary.
    pub name: String,
    /// The function's properties with the template's `Globals` merged in.
    pub properties: Mapping,
    /// Seconds, with the template's parameters at their values.
    pub timeout: u64,
    /// The longest timeout a deployment can give the function: its `Timeout`, or the
    /// `MaxValue` of the parameter it refers to (unbounded: Lambda's 900 s).
    pub max_timeout: u64,
    pub memory: u64,
    /// Unresolved environment values (may hold `!Ref` and friends).
    pub environment: BTreeMap<String, Value>,
    pub events: Vec<EventDefinition>,
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
        self.resources
            .iter()
            .flat_map(|r| match intrinsic(r) {
                Some(Intrinsic::Ref(id) | Intrinsic::GetAtt(id, _)) => vec![id],
                // `!Sub "${Bucket.Arn}/*"`: the resources its variables name.
                Some(Intrinsic::Sub(text, _)) => sub_references(&text),
                None => Vec::new(),
            })
            .collect()
    }
}

/// A queue's redrive settings, as the deployment checks read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub logical_id: String,
    pub visibility_timeout: Option<u64>,
    /// Dead-letter queue (logical id) and the receive count that sends a message there.
    pub redrive: Option<(String, u64)>,
}

pub fn list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Sequence(items)) => items.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    }
}

pub fn get<'a>(map: &'a Mapping, key: &str) -> Option<&'a Value> {
    map.get(Value::String(key.to_owned()))
}

pub fn str_of(value: Option<&Value>) -> Option<String> {
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

pub fn mapping(value: Option<&Value>) -> Mapping {
    match value {
        Some(Value::Mapping(m)) => m.clone(),
        _ => Mapping::new(),
    }
}

/// An intrinsic function in either YAML short form (`!Ref X`) or long form (`{Ref: X}`).
#[derive(Debug, Clone, PartialEq)]
pub enum Intrinsic {
    Ref(String),
    GetAtt(String, String),
    /// `!Sub` with its text and, in the long form, its own variables.
    Sub(String, Mapping),
}

pub fn intrinsic(value: &Value) -> Option<Intrinsic> {
    let (name, arg) = match value {
        Value::Tagged(tagged) => (tagged.tag.to_string().trim_start_matches('!').to_owned(), tagged.value.clone()),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            if k != "Ref" && !k.starts_with("Fn::") {
                return None;
            }
            (k.trim_start_matches("Fn::").to_owned(), v.clone())
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
        "Sub" => match &arg {
            Value::String(text) => Some(Intrinsic::Sub(text.clone(), Mapping::new())),
            Value::Sequence(parts) if parts.len() == 2 => {
                Some(Intrinsic::Sub(parts[0].as_str()?.to_owned(), mapping(parts.get(1))))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether a value is an intrinsic function the local environment does not evaluate
/// (`!If`, `!Join`, `!Select`, ...), so it can be refused by name.
pub fn unsupported_intrinsic(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if intrinsic(value).is_none() => Some(tagged.tag.to_string()),
        Value::Mapping(m) if m.len() == 1 && intrinsic(value).is_none() => {
            m.keys().next().and_then(Value::as_str).filter(|k| k.starts_with("Fn::")).map(str::to_owned)
        }
        _ => None,
    }
}

/// The logical ids a `!Sub` text's `${X}` and `${X.Attribute}` variables name (pseudo
/// parameters such as `${AWS::Region}` excluded).
pub fn sub_references(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(variable, _)| variable.split('.').next().unwrap_or(variable).to_owned())
        .filter(|id| !id.contains("::") && !id.starts_with('!'))
        .collect()
}

/// The logical id a `!Ref X` or `!GetAtt X.Arn` points at.
pub fn target(value: Option<&Value>) -> Option<String> {
    match intrinsic(value?)? {
        Intrinsic::Ref(id) | Intrinsic::GetAtt(id, _) => Some(id),
        Intrinsic::Sub(..) => None,
    }
}

impl Template {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let text = std::fs::read_to_string(&path)
            .map_err(|source| Error::Read { path: path.display().to_string(), source })?;
        let doc: Value = yaml_serde::from_str(&text).map_err(|e| Error::Template(e.to_string()))?;
        let root = mapping(Some(&doc));
        let resources = mapping(get(&root, "Resources"));
        if resources.is_empty() {
            return Err(Error::Template("no Resources".into()));
        }
        for section in ["Conditions", "Mappings"] {
            if get(&root, section).is_some() {
                return Err(Error::Template(format!("the template's {section} section is not supported locally")));
            }
        }
        let globals = mapping(get(&mapping(get(&root, "Globals")), "Function"));
        Ok(Self { path, resources, globals, parameters: mapping(get(&root, "Parameters")) })
    }

    /// The value a template parameter takes: its override, else its default.
    pub fn parameter_default(&self, name: &str) -> Option<String> {
        str_of(get(&mapping(get(&self.parameters, name)), "Default"))
    }

    /// A number as written, or the value of the parameter it refers to (`!Ref Name`).
    pub fn number(&self, value: Option<&Value>) -> Option<u64> {
        match value.and_then(intrinsic) {
            Some(Intrinsic::Ref(name)) => self.parameter_default(&name).and_then(|v| v.parse().ok()),
            _ => u64_of(value),
        }
    }

    /// The largest value a number can take in any deployment: as written, or its
    /// parameter's `MaxValue` (`unbounded` when it has none).
    pub fn largest(&self, value: Option<&Value>, unbounded: u64) -> Option<u64> {
        match value.and_then(intrinsic) {
            Some(Intrinsic::Ref(name)) => {
                Some(u64_of(get(&mapping(get(&self.parameters, &name)), "MaxValue")).unwrap_or(unbounded))
            }
            _ => u64_of(value),
        }
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
        // The constraints CloudFormation checks before it deploys.
        let allowed = list(get(param, "AllowedValues"));
        if !allowed.is_empty() && !allowed.iter().any(|a| str_of(Some(a)).as_deref() == Some(value)) {
            return Err(Error::Template(format!("parameter {name}: {value} is not one of its AllowedValues")));
        }
        if str_of(get(param, "Type")).as_deref() == Some("Number") {
            let number: f64 =
                value.parse().map_err(|_| Error::Template(format!("parameter {name}: {value} is not a number")))?;
            let bound = |key: &str| str_of(get(param, key)).and_then(|b| b.parse::<f64>().ok());
            if bound("MinValue").is_some_and(|min| number < min) || bound("MaxValue").is_some_and(|max| number > max) {
                return Err(Error::Template(format!("parameter {name}: {value} is outside its MinValue..MaxValue")));
            }
        }
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

    /// Every resource: (logical id, type, properties), in the template's order.
    pub fn resources(&self) -> Vec<(String, String, Mapping)> {
        self.resources
            .iter()
            .filter_map(|(id, res)| {
                let res = mapping(Some(res));
                Some((id.as_str()?.to_owned(), str_of(get(&res, "Type"))?, mapping(get(&res, "Properties"))))
            })
            .collect()
    }

    /// (logical id, properties) of every resource of one type.
    pub fn of_type(&self, kind: &str) -> Vec<(String, Mapping)> {
        self.resources().into_iter().filter(|(_, t, _)| t == kind).map(|(id, _, props)| (id, props)).collect()
    }

    /// The resource type of a logical id.
    pub fn resource_type(&self, logical_id: &str) -> Option<String> {
        str_of(get(&mapping(get(&self.resources, logical_id)), "Type"))
    }

    pub fn topics(&self) -> Vec<String> {
        self.of_type("AWS::SNS::Topic").into_iter().map(|(id, _)| id).collect()
    }

    /// Queues' visibility timeouts and redrive policies, unresolved numbers read as written.
    pub fn queues(&self) -> Result<Vec<QueueSpec>, Error> {
        self.of_type("AWS::SQS::Queue")
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
                Ok(QueueSpec { visibility_timeout: u64_of(get(&props, "VisibilityTimeout")), redrive, logical_id: id })
            })
            .collect()
    }

    pub fn functions(&self) -> Result<Vec<FunctionSpec>, Error> {
        let mut specs = self.function_specs()?;
        let binaries: Vec<String> = specs.iter().map(|f| f.binary.clone()).collect();
        for spec in &mut specs {
            if binaries.iter().filter(|b| **b == spec.binary).count() > 1 {
                spec.name = spec.logical_id.clone();
            }
        }
        Ok(specs)
    }

    fn function_specs(&self) -> Result<Vec<FunctionSpec>, Error> {
        self.of_type("AWS::Serverless::Function")
            .into_iter()
            .map(|(id, own)| {
                let mut props = self.globals.clone();
                for (k, v) in &own {
                    props.insert(k.clone(), v.clone());
                }
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
                for source in [&self.globals, &own] {
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
                    let name = name.as_str().unwrap_or_default().to_owned();
                    let kind = str_of(get(&event, "Type"))
                        .ok_or_else(|| Error::Template(format!("{id}.Events.{name}: no Type")))?;
                    events.push(EventDefinition { name, kind, properties: mapping(get(&event, "Properties")) });
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
                    name: binary.clone(),
                    binary,
                    timeout: self.number(get(&props, "Timeout")).unwrap_or(3),
                    max_timeout: self.largest(get(&props, "Timeout"), 900).unwrap_or(3),
                    memory: self.number(get(&props, "MemorySize")).unwrap_or(128),
                    environment,
                    events,
                    properties: props,
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
        let mut tables: Vec<String> = t.of_type("AWS::DynamoDB::Table").into_iter().map(|(id, _)| id).collect();
        tables.sort();
        assert_eq!(
            tables,
            [
                "AlertsTable",
                "CollectionsTable",
                "FeedbackTable",
                "FlightsTable",
                "JobsTable",
                "ModelsTable",
                "SmsDeliveriesTable"
            ]
        );
        assert_eq!(t.topics(), ["AlertsTopic", "CollectionChangesTopic", "AlarmTopic"]);
        let queues = t.queues().unwrap();
        let sms = queues.iter().find(|q| q.logical_id == "SmsQueue").unwrap();
        assert_eq!(sms.redrive, Some(("SmsDeadLetterQueue".into(), 5)));
        assert_eq!(t.parameter_default("Stage").as_deref(), Some("dev"));
    }

    #[test]
    fn functions_carry_binary_settings_and_events() {
        let functions = template().functions().unwrap();
        let sms = functions.iter().find(|f| f.binary == "sms").unwrap();
        assert_eq!((sms.timeout, sms.max_timeout), (60, 60), "the SmsTimeoutSeconds parameter's default and maximum");
        assert_eq!(sms.memory, 128);
        assert_eq!(sms.events.len(), 1);
        assert_eq!(sms.events[0].kind, "SQS");
        assert_eq!(sms.events[0].target("Queue").as_deref(), Some("SmsQueue"));
        assert!(sms.events[0].lists("FunctionResponseTypes", "ReportBatchItemFailures"));
        assert!(sms.environment.contains_key("RUST_LOG"), "globals are merged");
        assert!(get(&sms.properties, "Runtime").is_some(), "globals are merged into the properties");
        let flights = functions.iter().find(|f| f.binary == "flights").unwrap();
        let routes: Vec<_> = flights.events.iter().filter_map(EventDefinition::api_route).collect();
        assert!(routes.contains(&("/flights/{flightId}".into(), "GET".into())));
        assert_eq!(intrinsic(&flights.environment["FLIGHTS_TABLE"]), Some(Intrinsic::Ref("FlightsTable".into())));
    }

    #[test]
    fn parameter_overrides_meet_the_parameters_constraints() {
        let mut t = template();
        t.override_parameter("SmsTimeoutSeconds", "8").unwrap();
        assert_eq!(t.functions().unwrap().iter().find(|f| f.binary == "sms").unwrap().timeout, 8);
        for (name, value) in
            [("SmsTimeoutSeconds", "61"), ("SmsTimeoutSeconds", "4"), ("SmsTimeoutSeconds", "soon"), ("Stage", "qa")]
        {
            let err = t.override_parameter(name, value).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
        assert!(t.override_parameter("NoSuchParameter", "1").is_err());
    }

    #[test]
    fn sub_texts_name_the_resources_of_their_variables() {
        assert_eq!(sub_references("${ModelsBucket.Arn}/*"), ["ModelsBucket"]);
        assert_eq!(sub_references("arn:aws:s3:::${Bucket}/${AWS::Region}/${Other.Arn}"), ["Bucket", "Other"]);
        assert!(sub_references("no variables, ${!Literal}").is_empty());
    }

    #[test]
    fn intrinsics_in_both_forms() {
        let short: Value = yaml_serde::from_str("!GetAtt Q.Arn").unwrap();
        let long: Value = yaml_serde::from_str("{Fn::GetAtt: [Q, Arn]}").unwrap();
        assert_eq!(intrinsic(&short), Some(Intrinsic::GetAtt("Q".into(), "Arn".into())));
        assert_eq!(intrinsic(&short), intrinsic(&long));
        let joined: Value = yaml_serde::from_str("!Join [',', [a, b]]").unwrap();
        assert_eq!(unsupported_intrinsic(&joined).as_deref(), Some("!Join"));
        let not_one: Value = yaml_serde::from_str("{Name: x}").unwrap();
        assert_eq!(intrinsic(&not_one), None);
    }
}
