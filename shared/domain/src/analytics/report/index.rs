//! A hash index over a partial's groups, for the mapper's hot path: an existing group costs
//! one hash of the row's key bytes instead of a walk of string comparisons down the ordered
//! map (a third of a mapper's time on the flights file). The groups move into the ordered
//! map when the chunk is done.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::partial::{GroupKey, GroupStats};

/// Groups under construction, indexed by their keys' bytes.
#[derive(Debug, Default)]
pub(crate) struct GroupIndex {
    slots: HashMap<Box<[u8]>, usize, BuildHasherDefault<KeyHasher>>,
    groups: Vec<(GroupKey, GroupStats)>,
    /// The key being looked up, encoded; reused so a lookup does not allocate.
    scratch: Vec<u8>,
}

impl GroupIndex {
    /// The stats of a group, created empty on its first row.
    pub(crate) fn stats(&mut self, carrier: &str, origin: &str, year: i32, month: u8) -> &mut GroupStats {
        // 0xFF never occurs in UTF-8, so it separates the strings unambiguously.
        self.scratch.clear();
        self.scratch.extend_from_slice(carrier.as_bytes());
        self.scratch.push(0xFF);
        self.scratch.extend_from_slice(origin.as_bytes());
        self.scratch.push(0xFF);
        self.scratch.extend_from_slice(&year.to_le_bytes());
        self.scratch.push(month);
        let slot = match self.slots.get(self.scratch.as_slice()) {
            Some(&slot) => slot,
            None => {
                let key = GroupKey { carrier: carrier.to_owned(), origin: origin.to_owned(), year, month };
                self.groups.push((key, GroupStats::default()));
                let slot = self.groups.len() - 1;
                self.slots.insert(self.scratch.as_slice().into(), slot);
                slot
            }
        };
        &mut self.groups[slot].1
    }

    /// How many groups there are.
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }

    /// Moves the groups into `groups`, leaving the index empty.
    pub(crate) fn drain_into(&mut self, groups: &mut BTreeMap<GroupKey, GroupStats>) {
        self.slots.clear();
        for (key, stats) in self.groups.drain(..) {
            match groups.entry(key) {
                Entry::Occupied(mut mine) => mine.get_mut().merge(&stats),
                Entry::Vacant(slot) => {
                    slot.insert(stats);
                }
            }
        }
    }
}

/// FxHash's mix, a word at a time: keys are a few bytes of trusted shape, where SipHash's
/// strength would cost more than the lookup saves.
#[derive(Default)]
struct KeyHasher(u64);

impl KeyHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut lanes = [0; 8];
            lanes.copy_from_slice(word);
            self.mix(u64::from_le_bytes(lanes));
        }
        let mut rest = [0; 8];
        rest[..words.remainder().len()].copy_from_slice(words.remainder());
        self.mix(u64::from_le_bytes(rest));
    }

    fn write_usize(&mut self, value: usize) {
        self.mix(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_group_meet_in_one_stats_and_drain_in_order() {
        let mut index = GroupIndex::default();
        index.stats("UA", "EWR", 2013, 1).flights += 1;
        index.stats("AA", "JFK", 2013, 1).flights += 1;
        index.stats("UA", "EWR", 2013, 1).flights += 1;
        // Strings that would run together without a separator stay apart.
        index.stats("UAE", "WR", 2013, 1).flights += 1;

        let mut groups = BTreeMap::new();
        let key = GroupKey { carrier: "AA".into(), origin: "JFK".into(), year: 2013, month: 1 };
        groups.insert(key, GroupStats { flights: 10, ..GroupStats::default() });
        index.drain_into(&mut groups);
        let flights: Vec<(&str, u64)> = groups.iter().map(|(k, s)| (k.carrier.as_str(), s.flights)).collect();
        assert_eq!(flights, [("AA", 11), ("UA", 2), ("UAE", 1)]);
        assert!(index.groups.is_empty() && index.slots.is_empty());
    }
}
