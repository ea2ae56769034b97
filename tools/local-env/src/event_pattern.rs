//! EventBridge event patterns: the filter syntax of EventBridge rules and of Lambda event source
//! mapping `FilterCriteria` (Lambda docs, "Filter rule syntax": same syntax as EventBridge).
//!
//! A [`Pattern`] is parsed once, rejecting every malformed or unsupported construct with a
//! [`PatternError`] that names the key path, and then matched against any number of JSON events.
//!
//! # Covered (EventBridge user guide: "Creating event patterns", "Comparison operators",
//! "Content filtering", "Arrays in event patterns", "Matching null values and empty strings")
//!
//! - Fields of a pattern are ANDed, the conditions in a field's array are ORed, event fields the
//!   pattern does not name are ignored, nested pattern objects descend into the event.
//! - Exact match of strings (case-sensitive, no normalisation), numbers, booleans and `null`
//!   (`null` and `""` are different values).
//! - An array in the event matches when any of its elements matches.
//! - `prefix` and `suffix` (each also as `{"equals-ignore-case": s}`), `equals-ignore-case`,
//!   `wildcard` (`*` is any run of characters, `\*` and `\\` escape, `**` is rejected).
//! - `anything-but` with a string, a number, a list of only strings or only numbers, or with
//!   `{"prefix": s}`, `{"suffix": s}`, `{"equals-ignore-case": s | [s, ..]}`, `{"wildcard": s | [s, ..]}`.
//! - `numeric`: one comparison (`=`, `<`, `<=`, `>`, `>=`) or a lower bound (`>`, `>=`) followed by an
//!   upper bound (`<`, `<=`); it matches JSON numbers only, never numeric strings.
//! - `exists`, `cidr` (IPv4 and IPv6), and `"$or": [pattern, pattern, ..]` at any object level.
//! - A field absent from the event fails every condition except `{"exists": false}`.
//!
//! # Behaviour chosen where the docs are terse or disagree
//!
//! - `exists` looks at leaf values only ("Exists matching only works on leaf nodes", EventBridge
//!   content filtering; Lambda's DynamoDB filtering page). A field holding an object, or an array
//!   of objects only, has no leaf value: `{"exists": true}` fails on it, `{"exists": false}` matches
//!   it (the EventBridge `c-count` example). `null` is a leaf value, so it exists.
//! - Numbers compare by value: pattern `300` matches event `300.0`. The EventBridge and Lambda pages
//!   say numbers match by their string representation, but AWS's matcher (aws/event-ruler, its
//!   `JsonRuleCompiler`) also adds a numeric-equality match. Like it, values within ±5.0e9 compare
//!   with six decimal digits (the limits the content filtering page gives for numeric matching);
//!   beyond that only identical numbers match, and `numeric` or `anything-but` operands there are
//!   rejected.
//! - For arrays of objects, every field of a nested pattern must match within the same array
//!   element (event-ruler's README, "JSON Array Matching").
//!
//! # Known differences
//!
//! - Numbers are compared after JSON parsing, so `3.0e2` equals `300.0` even beyond ±5.0e9.
//! - AWS's size and complexity limits on patterns are not enforced.
//! - Lambda parses an SQS `body` or Kinesis `data` that holds JSON before filtering; the caller
//!   does that and passes the decoded record to [`Pattern::matches`].

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::{Map, Number, Value};

/// An EventBridge event pattern, the syntax Lambda event filtering (FilterCriteria) and EventBridge rules share.
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Node,
}

/// Why a pattern was rejected; `path` is the key path, such as `$.detail.$or[1].state`.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    #[error("pattern is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("`{path}`: unknown operator `{operator}`")]
    UnknownOperator { path: String, operator: String },
    #[error("`{path}`: {problem}")]
    Invalid { path: String, problem: String },
}

impl Pattern {
    /// Parses a pattern given as JSON.
    pub fn parse(pattern: &Value) -> Result<Pattern, PatternError> {
        Ok(Pattern { root: parse_node(pattern, "$", false)? })
    }

    /// Parses a pattern given as JSON text, the form of `FilterCriteria.Filters[].Pattern`.
    pub fn from_json_str(text: &str) -> Result<Pattern, PatternError> {
        Pattern::parse(&serde_json::from_str(text)?)
    }

    /// Whether `event` satisfies the pattern.
    pub fn matches(&self, event: &Value) -> bool {
        self.root.matches(event.as_object())
    }
}

/// Operator names; event-ruler rejects them as field names inside `$or`, where they are misplaced conditions.
const OPERATORS: [&str; 8] =
    ["prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"];

/// Numbers compare as fixed-point values with six decimals within this magnitude (event-ruler `ComparableNumber`).
const NUMBER_LIMIT: f64 = 5.0e9;

#[derive(Debug, Clone)]
struct Node {
    fields: Vec<(String, Field)>,
    /// Branches of a `$or` at this level: one of them must match as well as `fields`.
    any_of: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Field {
    Leaf(Vec<Condition>),
    Nested(Node),
}

#[derive(Debug, Clone)]
enum Condition {
    Equals(Value),
    /// Prefix or suffix; an ignore-case operand is stored lowercased.
    Affix {
        text: String,
        prefix: bool,
        ignore_case: bool,
    },
    EqualsIgnoreCase(String),
    /// The literal segments between the `*`s.
    Wildcard(Vec<String>),
    /// Matches a present leaf that none of these (`Equals` or string tests) match.
    AnythingBut(Vec<Condition>),
    /// Lower and upper bounds as (fixed-point key, inclusive).
    Numeric(Option<(i64, bool)>, Option<(i64, bool)>),
    Exists(bool),
    Cidr {
        v6: bool,
        bits: u128,
        prefix_len: u32,
    },
}

fn parse_node(value: &Value, path: &str, in_or: bool) -> Result<Node, PatternError> {
    let map = match value {
        Value::Object(map) if !map.is_empty() => map,
        Value::Object(_) => return Err(invalid(path, "empty objects are not allowed")),
        other => return Err(invalid(path, format!("expected a pattern object, found {}", kind(other)))),
    };
    let mut node = Node { fields: Vec::new(), any_of: Vec::new() };
    for (key, value) in map {
        let path = format!("{path}.{key}");
        let field = match value {
            _ if key == "$or" => {
                node.any_of = parse_or(value, &path)?;
                continue;
            }
            _ if in_or && OPERATORS.contains(&key.as_str()) => {
                return Err(invalid(&path, format!("`{key}` is an operator; it belongs in a field's condition array")));
            }
            Value::Array(items) => Field::Leaf(parse_conditions(items, &path)?),
            Value::Object(_) => Field::Nested(parse_node(value, &path, in_or)?),
            other => {
                let problem =
                    format!("expected an array of match conditions or a nested object, found {}", kind(other));
                return Err(invalid(&path, problem));
            }
        };
        node.fields.push((key.clone(), field));
    }
    Ok(node)
}

fn parse_or(value: &Value, path: &str) -> Result<Vec<Node>, PatternError> {
    match value {
        Value::Array(branches) if branches.len() >= 2 => {
            branches.iter().enumerate().map(|(i, branch)| parse_node(branch, &format!("{path}[{i}]"), true)).collect()
        }
        _ => Err(invalid(path, "`$or` takes an array of at least two pattern objects")),
    }
}

fn parse_conditions(items: &[Value], path: &str) -> Result<Vec<Condition>, PatternError> {
    if items.is_empty() {
        return Err(invalid(path, "empty arrays are not allowed"));
    }
    items
        .iter()
        .map(|item| match item {
            Value::Object(operator) => parse_operator(operator, path),
            Value::Array(_) => Err(invalid(path, "arrays cannot be nested in a list of match conditions")),
            scalar => Ok(Condition::Equals(scalar.clone())),
        })
        .collect()
}

fn parse_operator(operator: &Map<String, Value>, path: &str) -> Result<Condition, PatternError> {
    let Some((name, operand)) = only_entry(operator) else {
        let problem = format!("a condition object needs exactly one operator, found {} keys", operator.len());
        return Err(invalid(path, problem));
    };
    let bad = |expected: &str| invalid(path, format!("`{name}` expects {expected}, found {operand}"));
    let affix = name == "prefix" || name == "suffix";
    match (name.as_str(), operand) {
        ("anything-but", _) => parse_anything_but(operand, path),
        ("numeric", _) => parse_numeric(operand, path),
        ("exists", _) => operand.as_bool().map(Condition::Exists).ok_or_else(|| bad("true or false")),
        ("cidr", _) => {
            parse_cidr(operand).ok_or_else(|| bad("an IP block such as \"10.0.0.0/24\" or \"2001:db8::/32\""))
        }
        ("equals-ignore-case" | "wildcard", Value::String(text)) => text_condition(name, text, path),
        ("equals-ignore-case" | "wildcard", _) => Err(bad("a string")),
        (_, Value::String(text)) if affix => text_condition(name, text, path),
        (_, Value::Object(inner)) if affix => match only_entry(inner) {
            Some((key, Value::String(text))) if key == "equals-ignore-case" => {
                Ok(Condition::Affix { text: text.to_lowercase(), prefix: name == "prefix", ignore_case: true })
            }
            _ => Err(bad("a string or {\"equals-ignore-case\": string}")),
        },
        _ if affix => Err(bad("a string or {\"equals-ignore-case\": string}")),
        _ => Err(PatternError::UnknownOperator { path: path.to_owned(), operator: name.clone() }),
    }
}

/// `prefix`, `suffix`, `equals-ignore-case` or `wildcard` with a plain string operand.
fn text_condition(name: &str, text: &str, path: &str) -> Result<Condition, PatternError> {
    Ok(match name {
        "prefix" | "suffix" => Condition::Affix { text: text.to_owned(), prefix: name == "prefix", ignore_case: false },
        "equals-ignore-case" => Condition::EqualsIgnoreCase(text.to_lowercase()),
        _ => Condition::Wildcard(parse_wildcard(text).map_err(|problem| invalid(path, problem))?),
    })
}

fn parse_wildcard(text: &str) -> Result<Vec<String>, String> {
    let (mut segments, mut current, mut after_star) = (Vec::new(), String::new(), false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let literal = match c {
            '*' if after_star => return Err(format!("wildcard `{text}` has consecutive `*`")),
            '*' => {
                segments.push(std::mem::take(&mut current));
                after_star = true;
                continue;
            }
            '\\' => match chars.next() {
                Some(escaped @ ('*' | '\\')) => escaped,
                _ => return Err(format!("wildcard `{text}`: `\\` may only escape `*` or `\\`")),
            },
            other => other,
        };
        current.push(literal);
        after_star = false;
    }
    segments.push(current);
    Ok(segments)
}

fn parse_anything_but(operand: &Value, path: &str) -> Result<Condition, PatternError> {
    if let Some((name, inner)) = operand.as_object().and_then(only_entry) {
        return anything_but_text(name, inner, path);
    }
    let excluded: Vec<&Value> = match operand {
        Value::String(_) | Value::Number(_) => vec![operand],
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => items.iter().collect(),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_number) => items.iter().collect(),
        _ => {
            let problem = format!(
                "`anything-but` expects a string, a number, a non-empty list of only strings or only numbers, \
                 or one of prefix, suffix, equals-ignore-case, wildcard; found {operand}"
            );
            return Err(invalid(path, problem));
        }
    };
    if excluded.iter().any(|v| v.as_f64().is_some_and(|f| comparable(f).is_none())) {
        return Err(invalid(path, "`anything-but` numbers must lie within ±5.0e9"));
    }
    Ok(Condition::AnythingBut(excluded.into_iter().map(|v| Condition::Equals(v.clone())).collect()))
}

/// `anything-but` over string tests; equals-ignore-case and wildcard also take a list (EventBridge operators page).
fn anything_but_text(name: &str, operand: &Value, path: &str) -> Result<Condition, PatternError> {
    let bad = |expected: &str| invalid(path, format!("`anything-but` `{name}` expects {expected}, found {operand}"));
    let texts: Vec<&str> = match (name, operand) {
        ("prefix" | "suffix", Value::String(text)) if !text.is_empty() => vec![text],
        ("prefix" | "suffix", _) => return Err(bad("a non-empty string")),
        ("equals-ignore-case" | "wildcard", Value::String(text)) => vec![text],
        ("equals-ignore-case" | "wildcard", Value::Array(items)) if !items.is_empty() => {
            items.iter().map(Value::as_str).collect::<Option<_>>().ok_or_else(|| bad("strings"))?
        }
        ("equals-ignore-case" | "wildcard", _) => return Err(bad("a string or a non-empty list of strings")),
        _ => {
            return Err(PatternError::UnknownOperator {
                path: path.to_owned(),
                operator: format!("anything-but/{name}"),
            });
        }
    };
    texts.into_iter().map(|text| text_condition(name, text, path)).collect::<Result<_, _>>().map(Condition::AnythingBut)
}

fn parse_numeric(operand: &Value, path: &str) -> Result<Condition, PatternError> {
    let bad = |problem: String| invalid(path, format!("`numeric` {problem}"));
    let shape = || {
        bad("expects one comparison, or a lower bound (> or >=) then an upper bound (< or <=), \
             such as [\">\", 0, \"<=\", 5]"
            .to_owned())
    };
    let mut comparisons = Vec::new();
    for pair in operand.as_array().ok_or_else(shape)?.chunks(2) {
        let [operator, number] = pair else { return Err(shape()) };
        let operator = match operator.as_str() {
            Some(op @ ("=" | "<" | "<=" | ">" | ">=")) => op,
            _ => return Err(bad(format!("has unknown comparison {operator}; use =, <, <=, > or >="))),
        };
        let Some(value) = number.as_f64() else { return Err(bad(format!("compares to a number, found {number}"))) };
        let key = comparable(value).ok_or_else(|| bad(format!("operand {number} lies outside ±5.0e9")))?;
        comparisons.push((operator, key));
    }
    match comparisons.as_slice() {
        [("=", key)] => Ok(Condition::Numeric(Some((*key, true)), Some((*key, true)))),
        [(op @ (">" | ">="), key)] => Ok(Condition::Numeric(Some((*key, *op == ">=")), None)),
        [(op @ ("<" | "<="), key)] => Ok(Condition::Numeric(None, Some((*key, *op == "<=")))),
        [(low_op @ (">" | ">="), low), (high_op @ ("<" | "<="), high)] if low < high => {
            Ok(Condition::Numeric(Some((*low, *low_op == ">=")), Some((*high, *high_op == "<="))))
        }
        [(">" | ">=", _), ("<" | "<=", _)] => {
            Err(bad("range is empty: the lower bound must be below the upper".into()))
        }
        _ => Err(shape()),
    }
}

fn parse_cidr(operand: &Value) -> Option<Condition> {
    let (address, length) = operand.as_str()?.split_once('/')?;
    let (v6, bits) = ip_bits(address.parse().ok()?);
    let prefix_len: u32 = length.parse().ok()?;
    let max_len = if v6 { 128 } else { 32 };
    (prefix_len <= max_len).then_some(Condition::Cidr { v6, bits, prefix_len })
}

fn only_entry(map: &Map<String, Value>) -> Option<(&String, &Value)> {
    if map.len() == 1 { map.iter().next() } else { None }
}

fn invalid(path: &str, problem: impl Into<String>) -> PatternError {
    PatternError::Invalid { path: path.to_owned(), problem: problem.into() }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Fixed-point key with six decimals, as AWS compares numbers; `None` beyond ±5.0e9.
fn comparable(value: f64) -> Option<i64> {
    (-NUMBER_LIMIT..=NUMBER_LIMIT).contains(&value).then_some(((NUMBER_LIMIT + value) * 1e6) as i64)
}

fn number_key(number: &Number) -> Option<i64> {
    number.as_f64().and_then(comparable)
}

fn same_value(pattern: &Value, event: &Value) -> bool {
    match (pattern, event) {
        (Value::Number(p), Value::Number(e)) => p == e || number_key(p).is_some_and(|k| number_key(e) == Some(k)),
        _ => pattern == event,
    }
}

fn ip_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u32::from(v4).into()),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// Flattens arrays at any depth into the scalar leaves and the objects they hold.
fn collect<'a>(value: &'a Value, leaves: &mut Vec<&'a Value>, objects: &mut Vec<&'a Map<String, Value>>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect(item, leaves, objects)),
        Value::Object(map) => objects.push(map),
        scalar => leaves.push(scalar),
    }
}

impl Node {
    fn matches(&self, event: Option<&Map<String, Value>>) -> bool {
        let fields_match = self.fields.iter().all(|(key, field)| {
            let (mut leaves, mut objects) = (Vec::new(), Vec::new());
            if let Some(value) = event.and_then(|e| e.get(key)) {
                collect(value, &mut leaves, &mut objects);
            }
            match field {
                Field::Leaf(conditions) => conditions.iter().any(|c| c.matches(&leaves)),
                // Nothing to descend into: only conditions met by absence (`exists: false`) can hold.
                Field::Nested(node) if objects.is_empty() => node.matches(None),
                Field::Nested(node) => objects.iter().any(|object| node.matches(Some(object))),
            }
        });
        fields_match && (self.any_of.is_empty() || self.any_of.iter().any(|branch| branch.matches(event)))
    }
}

impl Condition {
    fn matches(&self, leaves: &[&Value]) -> bool {
        match self {
            Condition::Exists(false) => leaves.is_empty(),
            _ => leaves.iter().any(|leaf| self.matches_leaf(leaf)),
        }
    }

    fn matches_leaf(&self, value: &Value) -> bool {
        let text = value.as_str();
        match self {
            Condition::Equals(expected) => same_value(expected, value),
            Condition::Affix { text: affix, prefix, ignore_case } => text.is_some_and(|s| {
                let s = if *ignore_case { Cow::Owned(s.to_lowercase()) } else { Cow::Borrowed(s) };
                if *prefix { s.starts_with(affix.as_str()) } else { s.ends_with(affix.as_str()) }
            }),
            Condition::EqualsIgnoreCase(expected) => text.is_some_and(|s| s.to_lowercase() == *expected),
            Condition::Wildcard(segments) => text.is_some_and(|s| wildcard_matches(segments, s)),
            Condition::AnythingBut(excluded) => !excluded.iter().any(|c| c.matches_leaf(value)),
            Condition::Numeric(lower, upper) => value.as_number().and_then(number_key).is_some_and(|key| {
                lower.is_none_or(|(low, inclusive)| key > low || (inclusive && key == low))
                    && upper.is_none_or(|(high, inclusive)| key < high || (inclusive && key == high))
            }),
            Condition::Exists(present) => *present,
            Condition::Cidr { v6, bits, prefix_len } => {
                let Some((ip_v6, address)) = text.and_then(|s| s.parse().ok()).map(ip_bits) else { return false };
                let host_bits = (if *v6 { 128 } else { 32 }) - prefix_len;
                // A shift by all 128 bits (an IPv6 /0) overflows; it means there are no network bits to compare.
                ip_v6 == *v6 && (address ^ bits).checked_shr(host_bits).unwrap_or(0) == 0
            }
        }
    }
}

/// With `*` as the only wildcard, anchoring the outer segments and finding the inner ones leftmost-first is exact.
fn wildcard_matches(segments: &[String], text: &str) -> bool {
    let [first, middle @ .., last] = segments else { return segments.first().is_some_and(|only| only == text) };
    if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) || !text.ends_with(last.as_str()) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    middle.iter().all(|segment| match rest.find(segment.as_str()) {
        Some(at) => {
            rest = &rest[at + segment.len()..];
            true
        }
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::Pattern;

    /// Each line of `cases` lists patterns that match `event` (line starts with `+`) or do not (`-`).
    fn check(event: &Value, cases: &str) {
        for line in cases.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with("//")) {
            let (sign, patterns) = line.split_at(1);
            assert!(sign == "+" || sign == "-", "bad test line {line}");
            for pattern in serde_json::Deserializer::from_str(patterns).into_iter::<Value>() {
                let pattern = pattern.unwrap();
                let parsed = Pattern::parse(&pattern).unwrap_or_else(|e| panic!("{pattern} rejected: {e}"));
                assert_eq!(parsed.matches(event), sign == "+", "pattern {pattern} on event {event}");
            }
        }
    }

    /// Asserts that each pattern is rejected with a message containing the given text.
    fn rejects(cases: &[(Value, &str)]) {
        for (pattern, expected) in cases {
            match Pattern::parse(pattern) {
                Ok(_) => panic!("{pattern} was accepted"),
                Err(e) => assert!(e.to_string().contains(expected), "{pattern}: `{e}` lacks `{expected}`"),
            }
        }
    }

    #[test]
    fn exact_values_and_lists() {
        let event = json!({"source": "aws.ec2", "n": 300, "f": 301.8, "ok": true, "none": null, "empty": "",
                           "account": 123456789012_u64, "day": "Monday"});
        let cases = r#"
            + {"source": ["aws.ec2"]} {"source": ["aws.s3", "aws.ec2"], "day": ["Monday"]}
            - {"source": ["AWS.EC2"]} {"source": ["aws.s3", "aws.ec2"], "day": ["Tuesday"]}
            + {"n": [300.0]} {"n": [3.0e2]} {"f": [301.8]} {"ok": [true]} {"none": [null]} {"empty": [""]}
            - {"n": [301]} {"n": ["300"]} {"ok": ["true"]} {"none": [""]} {"empty": [null]}
            // Beyond ±5.0e9 only identical numbers match, as in AWS.
            + {"account": [123456789012]}
            - {"account": [123456789012.0]}
        "#;
        check(&event, cases);
    }

    #[test]
    fn nested_objects_arrays_and_missing_keys() {
        let event = json!({"source": "aws.ec2", "detail": {"state": "off"}, "resources": ["arn:a", "arn:b"],
                           "deep": [[1, 2], [3]]});
        let cases = r#"
            + {"source": ["aws.ec2"], "detail": {"state": ["off"]}} {"resources": ["arn:c", "arn:b"]} {"deep": [3]}
            - {"detail": {"state": ["on"]}} {"detail": {"missing": ["x"]}} {"absent": {"state": ["off"]}}
            - {"source": {"state": ["off"]}} {"detail": ["off"]} {"resources": ["arn:c"]}
        "#;
        check(&event, cases);
        check(&json!("not an object"), r#"- {"source": ["aws.ec2"]}"#);
        // Fields of a nested pattern must match within one array element (event-ruler's array consistency).
        let employees = json!({"employees": [
            [{"first": "John", "last": "Doe"}, {"first": "Anna", "last": "Smith"}],
            [{"first": "Peter", "last": "Jones"}]
        ]});
        let cases = r#"
            + {"employees": {"first": ["Anna"]}} {"employees": {"first": ["Anna"], "last": ["Smith"]}}
            - {"employees": {"first": ["Anna"], "last": ["Jones"]}}
        "#;
        check(&employees, cases);
    }

    #[test]
    fn string_operators() {
        let event = json!({"time": "2017-10-02T18:43:48Z", "file": "photo.PNG", "name": "Alice", "n": 2017});
        let cases = r#"
            + {"time": [{"prefix": "2017-10-02"}]} {"file": [{"suffix": ".PNG"}]}
            - {"time": [{"prefix": "2018"}]} {"n": [{"prefix": "20"}]} {"file": [{"suffix": ".png"}]}
            + {"file": [{"suffix": {"equals-ignore-case": ".png"}}]}
            + {"file": [{"prefix": {"equals-ignore-case": "PHOTO"}}]}
            - {"file": [{"prefix": {"equals-ignore-case": "video"}}]}
            + {"name": [{"equals-ignore-case": "aLiCe"}]}
            - {"name": [{"equals-ignore-case": "alic"}]} {"n": [{"equals-ignore-case": "2017"}]}
        "#;
        check(&event, cases);
    }

    #[test]
    fn wildcard() {
        let event = json!({"path": "dir/sub/file.png", "star": "a*b", "slash": "a\\b", "short": "aba", "n": 5});
        let cases = r#"
            + {"path": [{"wildcard": "dir/*.png"}]} {"path": [{"wildcard": "d*r*s*b*.png"}]}
            + {"path": [{"wildcard": "dir/sub/file.png*"}]}
            + {"star": [{"wildcard": "a\\*b"}]} {"slash": [{"wildcard": "a\\\\*"}]}
            - {"path": [{"wildcard": "*/lib/*"}]} {"path": [{"wildcard": "dir/sub"}]} {"path": [{"wildcard": "dir\\*"}]}
            - {"short": [{"wildcard": "ab*ba"}]} {"n": [{"wildcard": "*"}]}
        "#;
        check(&event, cases);
        rejects(&[
            (json!({"p": [{"wildcard": "a**b"}]}), "wildcard `a**b` has consecutive `*`"),
            (json!({"p": [{"wildcard": "a\\b"}]}), "may only escape"),
            (json!({"p": [{"wildcard": "a\\"}]}), "may only escape"),
        ]);
    }

    #[test]
    fn anything_but() {
        let event = json!({"state": "on", "limit": 100.0, "none": null, "list": ["off", "on"], "region": "us-east-1",
                           "path": "/usr/lib/libc.so", "loud": "INITIALIZING", "n": 7});
        let cases = r#"
            + {"state": [{"anything-but": "initializing"}]} {"limit": [{"anything-but": [200, 300]}]}
            + {"limit": [{"anything-but": ["100"]}]} {"none": [{"anything-but": "x"}]}
            + {"list": [{"anything-but": "off"}]}
            - {"state": [{"anything-but": ["off", "on"]}]} {"limit": [{"anything-but": 100}]}
            - {"list": [{"anything-but": ["off", "on"]}]} {"absent": [{"anything-but": "x"}]}
            + {"region": [{"anything-but": {"prefix": "eu-"}}]} {"path": [{"anything-but": {"suffix": ".png"}}]}
            - {"region": [{"anything-but": {"prefix": "us-"}}]} {"path": [{"anything-but": {"suffix": ".so"}}]}
            + {"loud": [{"anything-but": {"equals-ignore-case": ["on", "off"]}}]}
            - {"loud": [{"anything-but": {"equals-ignore-case": "initializing"}}]}
            + {"path": [{"anything-but": {"wildcard": ["*/bin/*", "*.dll"]}}]}
            - {"path": [{"anything-but": {"wildcard": "*/lib/*"}}]}
            // String tests never exclude a number.
            + {"n": [{"anything-but": {"prefix": "7"}}]}
        "#;
        check(&event, cases);
        rejects(&[
            (json!({"s": [{"anything-but": ["a", 1]}]}), "only strings or only numbers"),
            (json!({"s": [{"anything-but": [true]}]}), "found [true]"),
            (json!({"s": [{"anything-but": []}]}), "found []"),
            (json!({"s": [{"anything-but": null}]}), "found null"),
            (json!({"s": [{"anything-but": 6.0e9}]}), "within ±5.0e9"),
            (json!({"s": [{"anything-but": {"prefix": ""}}]}), "non-empty string"),
            (json!({"s": [{"anything-but": {"suffix": ["a"]}}]}), "non-empty string"),
            (json!({"s": [{"anything-but": {"wildcard": []}}]}), "non-empty list"),
            (json!({"s": [{"anything-but": {"equals-ignore-case": [3]}}]}), "expects strings"),
            (json!({"s": [{"anything-but": {"wildcard": "a**"}}]}), "consecutive"),
            (json!({"s": [{"anything-but": {"numeric": [">", 1]}}]}), "unknown operator `anything-but/numeric`"),
            (json!({"s": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}), "`anything-but` expects"),
        ]);
    }

    #[test]
    fn numeric() {
        let event = json!({"c": 5, "d": -3.5, "x": 301.8, "s": "5", "big": 6.0e9, "tiny": 0.0000001});
        let cases = r#"
            + {"c": [{"numeric": [">", 0, "<=", 5]}]} {"c": [{"numeric": [">=", 5]}]} {"c": [{"numeric": ["=", 5.0]}]}
            - {"c": [{"numeric": [">", 0, "<", 5]}]} {"c": [{"numeric": [">", 5]}]} {"missing": [{"numeric": [">", 0]}]}
            + {"d": [{"numeric": ["<", -3]}]} {"x": [{"numeric": ["=", 3.018e2]}]}
            - {"d": [{"numeric": ["<=", -4]}]} {"s": [{"numeric": ["=", 5]}]} {"big": [{"numeric": [">", 0]}]}
            // AWS keeps six decimals, so 1e-7 equals 0.
            + {"tiny": [{"numeric": ["=", 0]}]}
        "#;
        check(&event, cases);
        let shape = "lower bound (> or >=) then an upper bound";
        rejects(&[
            (json!({"price": [{"numeric": [">", 0, ">", 5]}]}), shape),
            (json!({"price": [{"numeric": ["<", 5, ">", 0]}]}), shape),
            (json!({"price": [{"numeric": ["=", 1, "<", 5]}]}), shape),
            (json!({"price": [{"numeric": [">", 1, "<", 5, "<", 9]}]}), shape),
            (json!({"price": [{"numeric": [">"]}]}), shape),
            (json!({"price": [{"numeric": []}]}), shape),
            (json!({"price": [{"numeric": ">"}]}), shape),
            (json!({"price": [{"numeric": [">", 5, "<", 5]}]}), "`$.price`: `numeric` range is empty"),
            (json!({"price": [{"numeric": ["!=", 5]}]}), "unknown comparison \"!=\""),
            (json!({"price": [{"numeric": [">", "5"]}]}), "compares to a number, found \"5\""),
            (json!({"price": [{"numeric": [">", 1.0e10]}]}), "outside ±5.0e9"),
        ]);
    }

    #[test]
    fn exists() {
        let event = json!({"detail": {"state": "on", "nothing": null, "c-count": {"c1": 100}, "tags": ["a"],
                                      "empty": [], "objs": [{"k": 1}]}});
        let cases = r#"
            + {"detail": {"state": [{"exists": true}]}} {"detail": {"nothing": [{"exists": true}]}}
            + {"detail": {"tags": [{"exists": true}]}} {"detail": {"absent": [{"exists": false}]}}
            - {"detail": {"state": [{"exists": false}]}} {"detail": {"absent": [{"exists": true}]}}
            // Intermediate nodes are not leaves (the EventBridge `c-count` example), nor is an empty array.
            + {"detail": {"c-count": [{"exists": false}]}} {"detail": {"objs": [{"exists": false}]}}
            - {"detail": {"c-count": [{"exists": true}]}} {"detail": {"objs": [{"exists": true}]}}
            + {"detail": {"empty": [{"exists": false}]}} {"missing": {"deeper": [{"exists": false}]}}
            - {"detail": {"empty": [{"exists": true}]}} {"missing": {"deeper": [{"exists": true}]}}
            + {"detail": {"state": [{"exists": false}, "on"]}}
        "#;
        check(&event, cases);
        rejects(&[(json!({"a": [{"exists": "yes"}]}), "`exists` expects true or false, found \"yes\"")]);
    }

    #[test]
    fn cidr() {
        let event = json!({"v4": "10.0.0.24", "v6": "2001:db8::1", "bad": "not-an-ip", "n": 10});
        let cases = r#"
            + {"v4": [{"cidr": "10.0.0.0/24"}]} {"v4": [{"cidr": "10.0.0.24/32"}]} {"v4": [{"cidr": "0.0.0.0/0"}]}
            - {"v4": [{"cidr": "10.0.1.0/24"}]} {"v4": [{"cidr": "::/0"}]}
            + {"v6": [{"cidr": "2001:db8::/32"}]} {"v6": [{"cidr": "::/0"}]}
            - {"v6": [{"cidr": "2001:db9::/32"}]} {"bad": [{"cidr": "0.0.0.0/0"}]} {"n": [{"cidr": "0.0.0.0/0"}]}
        "#;
        check(&event, cases);
        let blocks = [json!("10.0.0.0"), json!("10.0.0.0/33"), json!("::/129"), json!("x/8"), json!(10)];
        rejects(&blocks.map(|block| (json!({"ip": [{"cidr": block}]}), "`cidr` expects an IP block")));
    }

    #[test]
    fn or_at_any_level() {
        let event = json!({"source": "aws.cloudwatch", "namespace": "AWS/EC2", "detail": {"type": "Up"}});
        let cases = r#"
            + {"source": ["aws.cloudwatch"], "$or": [{"metric": ["CPU"]}, {"namespace": ["AWS/EC2"]}]}
            - {"source": ["aws.ec2"], "$or": [{"metric": ["CPU"]}, {"namespace": ["AWS/EC2"]}]}
            - {"$or": [{"metric": ["CPU"]}, {"namespace": ["AWS/ES"]}]}
            + {"detail": {"$or": [{"source": ["x"]}, {"type": ["Up"]}]}}
            + {"$or": [{"m": ["CPU"]}, {"namespace": ["AWS/EC2"], "$or": [{"id": [1]}, {"detail": {"type": ["Up"]}}]}]}
            - {"$or": [{"m": ["CPU"]}, {"namespace": ["AWS/EC2"], "$or": [{"id": [1]}, {"detail": {"type": ["Ok"]}}]}]}
        "#;
        check(&event, cases);
        rejects(&[
            (json!({"$or": {"a": ["b"]}}), "`$.$or`: `$or` takes an array of at least two pattern objects"),
            (json!({"$or": [{"a": ["b"]}]}), "at least two"),
            (json!({"$or": [{"a": ["b"]}, "c"]}), "`$.$or[1]`: expected a pattern object, found a string"),
            (
                json!({"x": {"$or": [{"a": ["b"]}, {"numeric": [">", 1]}]}}),
                "`$.x.$or[1].numeric`: `numeric` is an operator",
            ),
        ]);
    }

    #[test]
    fn malformed_patterns_name_the_path() {
        rejects(&[
            (json!(["a"]), "`$`: expected a pattern object, found an array"),
            (json!({}), "`$`: empty objects are not allowed"),
            (json!({"detail": {}}), "`$.detail`: empty objects are not allowed"),
            (json!({"detail": {"state": "on"}}), "`$.detail.state`: expected an array of match conditions or a nested"),
            (json!({"detail": {"state": []}}), "`$.detail.state`: empty arrays are not allowed"),
            (json!({"detail": {"state": [{"contains": "x"}]}}), "`$.detail.state`: unknown operator `contains`"),
            (json!({"a": [{"prefix": "x", "suffix": "y"}]}), "exactly one operator, found 2 keys"),
            (json!({"a": [{}]}), "exactly one operator, found 0 keys"),
            (json!({"a": [["x"]]}), "cannot be nested"),
            (json!({"a": [{"prefix": 1}]}), "`prefix` expects a string or {\"equals-ignore-case\": string}, found 1"),
            (json!({"a": [{"suffix": {"equals-ignore-case": 1}}]}), "`suffix` expects"),
            (json!({"a": [{"equals-ignore-case": ["x"]}]}), "`equals-ignore-case` expects a string, found [\"x\"]"),
        ]);
        let error = Pattern::from_json_str(r#"{ "a" : [ 1, 2 }"#).unwrap_err().to_string();
        assert!(error.starts_with("pattern is not valid JSON"), "{error}");
        // FilterCriteria carries each pattern as a JSON string.
        let criteria = json!({"Filters": [{"Pattern": "{ \"Metadata\" : [ 1, 2 ] }"}]});
        let pattern = Pattern::from_json_str(criteria["Filters"][0]["Pattern"].as_str().unwrap()).unwrap();
        assert!(pattern.matches(&json!({"Metadata": 2})) && !pattern.matches(&json!({"Metadata": 3})));
    }

    fn dynamodb_record(event_name: &str, status: &str) -> Value {
        json!({
            "eventID": "1", "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "dynamodb": {
                "Keys": {"CustomerName": {"S": "AnyCompany Industries"}},
                "NewImage": {
                    "CustomerName": {"S": "AnyCompany Industries"}, "AccountManager": {"S": "Pat Candella"},
                    "status": {"S": status}, "Quantity": {"N": "50"}, "Premium": {"BOOL": true},
                    "Organizations": {"L": [{"S": "Sales"}, {"S": "Marketing"}]}
                },
                "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_IMAGE"
            }
        })
    }

    #[test]
    fn dynamodb_stream_records() {
        check(&dynamodb_record("INSERT", "inactive"), r#"- {"dynamodb": {"NewImage": {"status": {"S": ["active"]}}}}"#);
        let cases = r#"
            + {"dynamodb": {"NewImage": {"status": {"S": ["active"]}}}}
            + {"dynamodb": {"Keys": {"CustomerName": {"S": ["AnyCompany Industries"]}}}}
            + {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella", "Shirley Rodriguez"]}}}}
            + {"dynamodb": {"NewImage": {"Premium": {"BOOL": [true]}}}}
            // Stream records carry DynamoDB numbers as strings, so numeric operators never match them.
            - {"dynamodb": {"NewImage": {"Quantity": {"N": [{"numeric": [">", 10]}]}}}}
            + {"dynamodb": {"NewImage": {"Quantity": {"N": ["50"]}}}}
            // Lambda's DynamoDB page: `exists` on the intermediate `Organizations` fails, on its leaves it works.
            - {"dynamodb": {"NewImage": {"Organizations": [{"exists": true}]}}}
            + {"dynamodb": {"NewImage": {"Organizations": {"L": {"S": [{"exists": true}]}}}}}
            + {"dynamodb": {"NewImage": {"Deleted": {"BOOL": [{"exists": false}]}}}}
        "#;
        check(&dynamodb_record("INSERT", "active"), cases);
        // Items deleted by TTL: REMOVE records made by the DynamoDB service principal.
        let ttl = json!({"eventName": ["REMOVE"],
                         "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}});
        let mut expired = dynamodb_record("REMOVE", "active");
        expired["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
        check(&expired, &format!("+ {ttl}"));
        check(&dynamodb_record("REMOVE", "active"), &format!("- {ttl}"));
        expired["eventName"] = json!("MODIFY");
        check(&expired, &format!("- {ttl}"));
    }

    #[test]
    fn sqs_records() {
        let mut record = json!({
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
            "body": {"City": "Seattle", "State": "WA", "Temperature": 46, "RequestCode": "AAAA"},
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                           "SenderId": "AIDAIENQZJOLO23YVJ4VO"},
            "messageAttributes": {}, "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue", "awsRegion": "us-east-2"
        });
        let cases = r#"
            + {"body": {"RequestCode": ["AAAA"]}}
            + {"body": {"Temperature": [{"numeric": [">", 40, "<=", 60]}], "State": ["WA"]}}
            + {"awsRegion": ["us-east-2"], "attributes": {"SenderId": [{"prefix": "AIDA"}]}}
            - {"body": {"RequestCode": ["BBBB"]}} {"body": [{"prefix": "Hello"}]}
        "#;
        check(&record, cases);
        record["body"] = json!("Hello from SQS");
        // A JSON body pattern never matches a plain-string body (Lambda drops such messages).
        let cases = r#"
            + {"body": [{"prefix": "Hello"}]}
            - {"body": {"City": ["Seattle"]}}
        "#;
        check(&record, cases);
    }
}
