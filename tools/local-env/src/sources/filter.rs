//! Event filtering (`FilterCriteria`) for event source mappings: records that match none
//! of the filters never reach the function. Patterns use the EventBridge syntax
//! ([`crate::event_pattern`]); a JSON `body` (SQS) or `data` (Kinesis) is matched as
//! JSON, anything else as the plain string, as Lambda does.

use serde_json::Value;

use crate::Error;
use crate::event_pattern::Pattern;
use crate::properties::Props;

/// Lambda's limit on filters per event source mapping.
const MAX_FILTERS: usize = 5;

#[derive(Debug)]
pub struct Filters {
    patterns: Vec<Pattern>,
}

impl Filters {
    /// `FilterCriteria: {Filters: [{Pattern: '<json>'}, ...]}`, if given.
    pub fn from_props(props: &Props) -> Result<Option<Self>, Error> {
        let Some(criteria) = props.nested("FilterCriteria") else { return Ok(None) };
        let filters = criteria.list("Filters");
        criteria.finish()?;
        if filters.len() > MAX_FILTERS {
            return Err(props.error(format!("FilterCriteria: at most {MAX_FILTERS} filters, found {}", filters.len())));
        }
        let mut patterns = Vec::new();
        for filter in &filters {
            let filter = crate::template::mapping(Some(filter));
            let text = crate::template::get(&filter, "Pattern")
                .and_then(|p| {
                    p.as_str().map(str::to_owned).or_else(|| serde_json::to_string(&crate::provision::json_of(p)).ok())
                })
                .ok_or_else(|| props.error("FilterCriteria: every filter needs a Pattern"))?;
            if filter.len() != 1 {
                return Err(props.error("FilterCriteria: a filter has only a Pattern"));
            }
            let pattern = Pattern::from_json_str(&text)
                .map_err(|e| props.error(format!("FilterCriteria pattern {text}: {e}")))?;
            patterns.push(pattern);
        }
        Ok(Some(Self { patterns }))
    }

    /// Whether a record passes: any filter matches (filters are ORed).
    pub fn matches(&self, record: &Value) -> bool {
        self.patterns.iter().any(|p| p.matches(record))
    }
}

/// The record as filters see it: `field` (a string holding JSON, such as an SQS `body`
/// or decoded Kinesis `data`) parsed when it is a JSON object or array.
pub fn with_json_field(record: &Value, field: &str, text: Option<&str>) -> Value {
    let mut view = record.clone();
    if let Some(parsed) =
        text.and_then(|t| serde_json::from_str::<Value>(t).ok()).filter(|v| v.is_object() || v.is_array())
        && let Some(object) = view.as_object_mut()
    {
        object.insert(field.to_owned(), parsed);
    }
    view
}
