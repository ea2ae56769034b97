//! The stored form of a [`Partial`]: compact JSON, since partials wait in DynamoDB items
//! (400 KB at most) for the reducer. A group is one array,
//! `[carrier, origin, year, month, flights, cancelled, depN, depSum, depMax|null, depOver15,
//! arrN, arrSum, arrMax|null]`, and a sample is `[offset, reason, text]`. Sums survive
//! exactly: serde_json writes the shortest text that reads back as the same f64.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::partial::{DelayStats, GroupKey, GroupStats, Partial, RejectedSample};

type GroupWire = (String, String, i32, u8, u64, u64, u64, f64, Option<f64>, u64, u64, f64, Option<f64>);
type SampleWire = (u64, String, String);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireRef<'a> {
    #[serde(serialize_with = "groups_ref")]
    groups: &'a BTreeMap<GroupKey, GroupStats>,
    rows_read: u64,
    rows_rejected: u64,
    rejected_by_reason: &'a BTreeMap<String, u64>,
    #[serde(serialize_with = "samples_ref")]
    samples: &'a [RejectedSample],
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Wire {
    groups: Vec<GroupWire>,
    rows_read: u64,
    rows_rejected: u64,
    rejected_by_reason: BTreeMap<String, u64>,
    samples: Vec<SampleWire>,
}

fn groups_ref<S: Serializer>(groups: &&BTreeMap<GroupKey, GroupStats>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(groups.iter().map(|(k, s)| {
        let (dep, arr) = (&s.dep_delay, &s.arr_delay);
        (
            &k.carrier,
            &k.origin,
            k.year,
            k.month,
            s.flights,
            s.cancelled,
            dep.count,
            dep.sum,
            dep.max,
            s.dep_over_15,
            arr.count,
            arr.sum,
            arr.max,
        )
    }))
}

fn samples_ref<S: Serializer>(samples: &&[RejectedSample], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(samples.iter().map(|s| (s.offset, &s.reason, &s.text)))
}

impl Serialize for Partial {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireRef {
            groups: &self.groups,
            rows_read: self.rows_read,
            rows_rejected: self.rows_rejected,
            rejected_by_reason: &self.rejected_by_reason,
            samples: &self.samples,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Partial {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(deserializer)?;
        let groups = wire
            .groups
            .into_iter()
            .map(|(carrier, origin, year, month, flights, cancelled, dn, dsum, dmax, late, an, asum, amax)| {
                let stats = GroupStats {
                    flights,
                    cancelled,
                    dep_delay: DelayStats { count: dn, sum: dsum, max: dmax },
                    dep_over_15: late,
                    arr_delay: DelayStats { count: an, sum: asum, max: amax },
                };
                (GroupKey { carrier, origin, year, month }, stats)
            })
            .collect();
        let samples =
            wire.samples.into_iter().map(|(offset, reason, text)| RejectedSample { offset, reason, text }).collect();
        Ok(Partial {
            groups,
            rows_read: wire.rows_read,
            rows_rejected: wire.rows_rejected,
            rejected_by_reason: wire.rejected_by_reason,
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial() -> Partial {
        let mut partial = Partial::default();
        let stats = GroupStats {
            flights: 3,
            cancelled: 1,
            dep_delay: DelayStats { count: 2, sum: 0.1 + 0.2, max: Some(-1.5) },
            dep_over_15: 0,
            arr_delay: DelayStats::default(),
        };
        let key = GroupKey { carrier: "U,\"A".into(), origin: "EWR".into(), year: 2013, month: 1 };
        partial.groups.insert(key, stats);
        partial.rows_read = 4;
        partial.reject("wrong number of fields", 77, "2013,1");
        partial
    }

    #[test]
    fn the_stored_form_is_compact() {
        let json = serde_json::to_string(&partial()).unwrap();
        assert_eq!(
            json,
            r#"{"groups":[["U,\"A","EWR",2013,1,3,1,2,0.30000000000000004,-1.5,0,0,0.0,null]],"rowsRead":5,"rowsRejected":1,"rejectedByReason":{"wrong number of fields":1},"samples":[[77,"wrong number of fields","2013,1"]]}"#
        );
    }

    #[test]
    fn partials_round_trip_exactly() {
        let partial = partial();
        let json = serde_json::to_string(&partial).unwrap();
        assert_eq!(serde_json::from_str::<Partial>(&json).unwrap(), partial);
        let empty = Partial::default();
        assert_eq!(serde_json::from_str::<Partial>(&serde_json::to_string(&empty).unwrap()).unwrap(), empty);
        assert!(serde_json::from_str::<Partial>(r#"{"groups":[["UA"]]}"#).is_err());
    }
}
