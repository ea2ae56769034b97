//! Where the columns the report reads sit in a record, found once from the header and
//! carried to every mapper in its task message.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The header lacks columns the report needs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the header lacks the columns {}", .0.join(", "))]
pub struct MissingColumns(pub Vec<String>);

/// Field positions of the columns the report reads, and how many fields a record has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Columns {
    pub year: usize,
    pub month: usize,
    pub dep_time: usize,
    pub dep_delay: usize,
    pub arr_delay: usize,
    pub carrier: usize,
    pub origin: usize,
    /// Fields in the header: a record with any other number is rejected.
    pub count: usize,
}

impl Columns {
    /// Finds the columns by exact name (the first of duplicates).
    pub fn from_header(names: &[String]) -> Result<Columns, MissingColumns> {
        let mut missing = Vec::new();
        let mut find = |name: &str| match names.iter().position(|n| n == name) {
            Some(index) => index,
            None => {
                missing.push(name.to_owned());
                0
            }
        };
        let columns = Columns {
            year: find("year"),
            month: find("month"),
            dep_time: find("dep_time"),
            dep_delay: find("dep_delay"),
            arr_delay: find("arr_delay"),
            carrier: find("carrier"),
            origin: find("origin"),
            count: names.len(),
        };
        if missing.is_empty() { Ok(columns) } else { Err(MissingColumns(missing)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(header: &str) -> Vec<String> {
        header.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn columns_are_found_in_the_flights_layout() {
        let header = "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,\
                      carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour";
        let columns = Columns::from_header(&names(header)).unwrap();
        assert_eq!(
            columns,
            Columns { year: 0, month: 1, dep_time: 3, dep_delay: 5, arr_delay: 8, carrier: 9, origin: 12, count: 19 }
        );
        let json = serde_json::to_string(&columns).unwrap();
        assert_eq!(serde_json::from_str::<Columns>(&json).unwrap(), columns);
    }

    #[test]
    fn every_missing_column_is_named() {
        let error = Columns::from_header(&names("year,Month,carrier,origin,dep_time")).unwrap_err();
        assert_eq!(error.0, ["month", "dep_delay", "arr_delay"]);
        assert_eq!(error.to_string(), "the header lacks the columns month, dep_delay, arr_delay");
    }
}
