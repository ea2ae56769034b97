//! The report itself: one row per group with the figures derived from its stats, as
//! JSON rows or as CSV.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::partial::{DelayStats, Partial};

/// The CSV report's header line (without its line end).
pub const CSV_HEADER: &str = "carrier,origin,year,month,flights,cancelled,mean_dep_delay,max_dep_delay,\
                              mean_arr_delay,max_arr_delay,share_dep_over_15";

/// One group's figures; a figure over no non-null delays is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRow {
    pub carrier: String,
    pub origin: String,
    pub year: i32,
    pub month: u8,
    pub flights: u64,
    pub cancelled: u64,
    pub mean_dep_delay: Option<f64>,
    pub max_dep_delay: Option<f64>,
    pub mean_arr_delay: Option<f64>,
    pub max_arr_delay: Option<f64>,
    /// Of the records with a departure delay, the share delayed more than 15 minutes.
    pub share_dep_over_15: Option<f64>,
}

/// The report's rows, sorted by (carrier, origin, year, month).
pub fn report_rows(partial: &Partial) -> Vec<ReportRow> {
    // The map's order is the report's.
    partial
        .groups
        .iter()
        .map(|(key, stats)| ReportRow {
            carrier: key.carrier.clone(),
            origin: key.origin.clone(),
            year: key.year,
            month: key.month,
            flights: stats.flights,
            cancelled: stats.cancelled,
            mean_dep_delay: mean(&stats.dep_delay),
            max_dep_delay: stats.dep_delay.max,
            mean_arr_delay: mean(&stats.arr_delay),
            max_arr_delay: stats.arr_delay.max,
            share_dep_over_15: ratio(stats.dep_over_15, stats.dep_delay.count),
        })
        .collect()
}

fn mean(delay: &DelayStats) -> Option<f64> {
    (delay.count > 0).then(|| delay.sum / delay.count as f64)
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The rows as CSV, header first, `\n` line ends; `None` is an empty field and floats are
/// written in Rust's shortest form that reads back as the same value.
pub fn to_csv(rows: &[ReportRow]) -> String {
    let mut out = String::with_capacity((rows.len() + 1) * 80);
    out.push_str(CSV_HEADER);
    out.push('\n');
    for row in rows {
        push_text(&mut out, &row.carrier);
        out.push(',');
        push_text(&mut out, &row.origin);
        // Writing to a String cannot fail.
        let _ = write!(out, ",{},{},{},{}", row.year, row.month, row.flights, row.cancelled);
        for figure in
            [row.mean_dep_delay, row.max_dep_delay, row.mean_arr_delay, row.max_arr_delay, row.share_dep_over_15]
        {
            out.push(',');
            if let Some(value) = figure {
                let _ = write!(out, "{value}");
            }
        }
        out.push('\n');
    }
    out
}

fn push_text(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::report::partial::{GroupKey, GroupStats};

    fn partial() -> Partial {
        let mut partial = Partial::default();
        let group = |carrier: &str, month, stats| {
            (GroupKey { carrier: carrier.into(), origin: "EWR".into(), year: 2013, month }, stats)
        };
        partial.groups.extend([
            group(
                "UA",
                2,
                GroupStats {
                    flights: 4,
                    cancelled: 1,
                    dep_delay: DelayStats { count: 3, sum: 10.0, max: Some(9.0) },
                    dep_over_15: 1,
                    arr_delay: DelayStats { count: 2, sum: -7.0, max: Some(-2.0) },
                },
            ),
            group("A\"A,", 12, GroupStats { flights: 1, cancelled: 1, ..GroupStats::default() }),
        ]);
        partial
    }

    #[test]
    fn figures_are_means_of_non_null_values_and_the_late_share() {
        let rows = report_rows(&partial());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].carrier, "A\"A,");
        assert_eq!(rows[0].mean_dep_delay, None);
        assert_eq!(rows[0].share_dep_over_15, None);
        let ua = &rows[1];
        assert_eq!(ua.mean_dep_delay, Some(10.0 / 3.0));
        assert_eq!(ua.max_dep_delay, Some(9.0));
        assert_eq!(ua.mean_arr_delay, Some(-3.5));
        assert_eq!(ua.share_dep_over_15, Some(1.0 / 3.0));
        let json = serde_json::to_value(ua).unwrap();
        assert_eq!(json["meanArrDelay"], -3.5);
        assert_eq!(json["shareDepOver15"], 1.0 / 3.0);
    }

    #[test]
    fn csv_leaves_none_empty_and_quotes_text_that_needs_it() {
        let csv = to_csv(&report_rows(&partial()));
        assert_eq!(
            csv,
            "carrier,origin,year,month,flights,cancelled,mean_dep_delay,max_dep_delay,mean_arr_delay,\
             max_arr_delay,share_dep_over_15\n\
             \"A\"\"A,\",EWR,2013,12,1,1,,,,,\n\
             UA,EWR,2013,2,4,1,3.3333333333333335,9,-3.5,-2,0.3333333333333333\n"
        );
        assert_eq!(to_csv(&[]), format!("{CSV_HEADER}\n"));
    }
}
