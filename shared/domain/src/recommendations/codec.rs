//! The model's stored form: the training counts, not the derived tables, so it stays small
//! (varints, product ids front-coded) and the tables are rebuilt exactly on load.
//!
//! ```text
//! version: u8 | body length: u32 LE | body | CRC-32 of everything before: u32 LE
//! body = params (4 × f32 LE)
//!        tag count, then per tag: name
//!        product count, then per product: id (shared prefix with the previous id, rest),
//!            flags (bit 0 = available), choices, tag count, tag numbers (ascending, deltas)
//!        per tag: entry count, then per entry: product (ascending, delta), choices
//! ```
//! Every count and number is an unsigned LEB128 varint.

use thiserror::Error;

use super::catalogue::Catalogue;
use super::model::{Model, Params};

/// The format `to_bytes` writes; `from_bytes` reads only this one.
pub const FORMAT_VERSION: u8 = 1;
const HEADER: usize = 5;
const TRAILER: usize = 4;

/// Why stored model bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    #[error("model bytes are empty")]
    Empty,
    #[error("model format version {0} is not supported (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("model bytes are truncated")]
    Truncated,
    #[error("model checksum does not match: the bytes are corrupt")]
    Checksum,
    #[error("model bytes are corrupt: {0}")]
    Corrupt(&'static str),
}

impl Model {
    /// The compact stored form, for S3 or a DynamoDB item.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for value in [
            self.params.popularity_prior,
            self.params.untagged_weight,
            self.params.prior_strength,
            self.params.popularity_correction,
        ] {
            body.extend_from_slice(&value.to_le_bytes());
        }
        let catalogue = &self.catalogue;
        put_varint(&mut body, catalogue.tag_count() as u64);
        for t in 0..catalogue.tag_count() as u32 {
            put_bytes(&mut body, catalogue.tag_name(t).as_bytes());
        }
        put_varint(&mut body, catalogue.len() as u64);
        let mut previous: &str = "";
        for p in 0..catalogue.len() as u32 {
            let id = catalogue.id(p);
            let shared = id.bytes().zip(previous.bytes()).take_while(|(a, b)| a == b).count();
            put_varint(&mut body, shared as u64);
            put_bytes(&mut body, &id.as_bytes()[shared..]);
            previous = id;
            body.push(u8::from(catalogue.is_available(p)));
            put_varint(&mut body, u64::from(self.chosen[p as usize]));
            put_ascending(&mut body, catalogue.product_tags(p).iter().copied());
        }
        for choices in &self.tag_choices {
            put_varint(&mut body, choices.len() as u64);
            let mut last = 0;
            for (i, &(p, n)) in choices.iter().enumerate() {
                put_varint(&mut body, u64::from(if i == 0 { p } else { p - last }));
                put_varint(&mut body, u64::from(n));
                last = p;
            }
        }

        let mut bytes = Vec::with_capacity(HEADER + body.len() + TRAILER);
        bytes.push(FORMAT_VERSION);
        // A model body is far below 4 GiB (10,000 products take ~140 KB).
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&body);
        let checksum = crc32(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// Reads `to_bytes`' output back, refusing anything truncated, corrupt or of another
    /// version. Never panics, whatever the input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        let (&version, _) = bytes.split_first().ok_or(ModelError::Empty)?;
        if version != FORMAT_VERSION {
            return Err(ModelError::UnsupportedVersion(version));
        }
        let length_bytes: [u8; 4] =
            bytes.get(1..HEADER).and_then(|b| b.try_into().ok()).ok_or(ModelError::Truncated)?;
        let body_length = u32::from_le_bytes(length_bytes) as usize;
        let expected = HEADER.saturating_add(body_length).saturating_add(TRAILER);
        if bytes.len() < expected {
            return Err(ModelError::Truncated);
        }
        if bytes.len() > expected {
            return Err(ModelError::Corrupt("bytes after the end of the model"));
        }
        let (signed, trailer) = bytes.split_at(HEADER + body_length);
        let stored: [u8; 4] = trailer.try_into().map_err(|_| ModelError::Truncated)?;
        if crc32(signed) != u32::from_le_bytes(stored) {
            return Err(ModelError::Checksum);
        }
        let model = decode_body(&mut Reader { bytes: &signed[HEADER..] })?;
        Ok(model)
    }
}

fn decode_body(r: &mut Reader<'_>) -> Result<Model, ModelError> {
    let params = Params {
        popularity_prior: r.f32()?,
        untagged_weight: r.f32()?,
        prior_strength: r.f32()?,
        popularity_correction: r.f32()?,
    };
    if !params.is_valid() {
        return Err(ModelError::Corrupt("invalid model constants"));
    }

    let tag_count = r.count()?;
    let mut tags = Vec::with_capacity(tag_count);
    for _ in 0..tag_count {
        tags.push(r.string()?);
    }

    let product_count = r.count()?;
    let mut ids: Vec<String> = Vec::with_capacity(product_count);
    let mut available = Vec::with_capacity(product_count);
    let mut chosen = Vec::with_capacity(product_count);
    let mut product_tags = Vec::with_capacity(product_count);
    for _ in 0..product_count {
        let shared = r.count()?;
        let previous = ids.last().map_or(&[][..], |id| id.as_bytes());
        let prefix = previous.get(..shared).ok_or(ModelError::Corrupt("id prefix longer than the previous id"))?;
        let mut id = prefix.to_vec();
        id.extend_from_slice(r.bytes()?);
        ids.push(String::from_utf8(id).map_err(|_| ModelError::Corrupt("product id is not UTF-8"))?);
        available.push(match r.byte()? {
            0 => false,
            1 => true,
            _ => return Err(ModelError::Corrupt("unknown product flags")),
        });
        chosen.push(r.u32()?);
        product_tags.push(r.ascending(tag_count)?);
    }
    let catalogue = Catalogue::from_parts(ids, available, product_tags, tags).map_err(ModelError::Corrupt)?;

    let mut tag_choices = Vec::with_capacity(tag_count);
    for _ in 0..tag_count {
        let entries = r.count()?;
        let mut choices: Vec<(u32, u32)> = Vec::with_capacity(entries);
        for _ in 0..entries {
            let step = r.u32()?;
            let p = match choices.last() {
                None => Some(step),
                Some(&(last, _)) if step > 0 => last.checked_add(step),
                Some(_) => None,
            }
            .filter(|&p| (p as usize) < product_count)
            .ok_or(ModelError::Corrupt("tag choices not ascending known products"))?;
            let n = r.u32()?;
            if n == 0 {
                return Err(ModelError::Corrupt("a recorded choice count of zero"));
            }
            choices.push((p, n));
        }
        tag_choices.push(choices);
    }
    if !r.bytes.is_empty() {
        return Err(ModelError::Corrupt("bytes after the last tag"));
    }
    Ok(Model::assemble(catalogue, params, chosen, tag_choices))
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A strictly ascending list as its length, its first value, then the steps.
fn put_ascending(out: &mut Vec<u8>, values: impl ExactSizeIterator<Item = u32>) {
    put_varint(out, values.len() as u64);
    let mut last = None;
    for value in values {
        put_varint(out, u64::from(last.map_or(value, |l| value - l)));
        last = Some(value);
    }
}

/// Reads from the front of a byte slice; every read checks what is left.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        if n > self.bytes.len() {
            return Err(ModelError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, ModelError> {
        Ok(self.take(1)?[0])
    }

    fn f32(&mut self) -> Result<f32, ModelError> {
        let raw: [u8; 4] = self.take(4)?.try_into().map_err(|_| ModelError::Truncated)?;
        Ok(f32::from_le_bytes(raw))
    }

    fn varint(&mut self) -> Result<u64, ModelError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(ModelError::Corrupt("varint overflows 64 bits"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ModelError::Corrupt("varint longer than 10 bytes"))
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        u32::try_from(self.varint()?).map_err(|_| ModelError::Corrupt("number out of range"))
    }

    /// A length or count: never more than the bytes left, since every element takes at
    /// least one, so a corrupt count cannot ask for a huge allocation.
    fn count(&mut self) -> Result<usize, ModelError> {
        let count = self.varint()?;
        if count > self.bytes.len() as u64 {
            return Err(ModelError::Truncated);
        }
        Ok(count as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ModelError> {
        let n = self.count()?;
        self.take(n)
    }

    fn string(&mut self) -> Result<String, ModelError> {
        let raw = self.bytes()?;
        std::str::from_utf8(raw).map(str::to_owned).map_err(|_| ModelError::Corrupt("tag is not UTF-8"))
    }

    /// `put_ascending`'s list, each value below `bound`.
    fn ascending(&mut self, bound: usize) -> Result<Vec<u32>, ModelError> {
        let n = self.count()?;
        let mut values: Vec<u32> = Vec::with_capacity(n);
        for _ in 0..n {
            let step = self.u32()?;
            let value = match values.last() {
                None => Some(step),
                Some(&last) if step > 0 => last.checked_add(step),
                Some(_) => None,
            }
            .filter(|&v| (v as usize) < bound)
            .ok_or(ModelError::Corrupt("tag numbers not ascending known tags"))?;
            values.push(value);
        }
        Ok(values)
    }
}

/// CRC-32 (IEEE 802.3), bitwise over a table built at compile time.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut bit = 0;
            while bit < 8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                bit += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |crc, &b| TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::recommendations::model::{Feedback, Product};

    fn sample() -> Model {
        let products = vec![
            Product { id: "sku-0001".into(), tags: vec!["insomnia".into(), "calm".into()], available: true },
            Product { id: "sku-0002".into(), tags: vec!["insomnia".into()], available: false },
            Product { id: "sku-0010".into(), tags: vec!["energy".into(), "focus".into()], available: true },
            Product { id: "ümlaut".into(), tags: vec![], available: true },
        ];
        let feedback = vec![
            Feedback { tags: vec!["insomnia".into()], chosen: Some("sku-0002".into()) },
            Feedback { tags: vec!["insomnia".into(), "calm".into()], chosen: Some("sku-0001".into()) },
            Feedback { tags: vec!["sleep".into()], chosen: Some("ümlaut".into()) },
            Feedback { tags: vec!["focus".into()], chosen: None },
        ];
        Model::train(&products, &feedback)
    }

    /// Rewrites the checksum so a mutated body reaches the parser.
    fn resign(bytes: &mut [u8]) {
        if bytes.len() >= HEADER + TRAILER {
            let end = bytes.len() - TRAILER;
            let checksum = crc32(&bytes[..end]);
            bytes[end..].copy_from_slice(&checksum.to_le_bytes());
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trips_exactly() {
        let model = sample();
        let bytes = model.to_bytes();
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back, model);
        assert_eq!(back.recommend(&["insomnia"], 3), model.recommend(&["insomnia"], 3));
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn empty_models_round_trip() {
        let model = Model::train(&[], &[]);
        assert_eq!(Model::from_bytes(&model.to_bytes()).unwrap(), model);
    }

    #[test]
    fn refuses_empty_truncated_other_versions_and_extra_bytes() {
        let bytes = sample().to_bytes();
        assert_eq!(Model::from_bytes(&[]), Err(ModelError::Empty));
        for cut in [1, 3, HEADER, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(Model::from_bytes(&bytes[..cut]), Err(ModelError::Truncated), "cut at {cut}");
        }
        let mut other = bytes.clone();
        other[0] = 2;
        assert_eq!(Model::from_bytes(&other), Err(ModelError::UnsupportedVersion(2)));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(Model::from_bytes(&longer), Err(ModelError::Corrupt(_))));
    }

    #[test]
    fn refuses_a_flipped_bit() {
        let bytes = sample().to_bytes();
        for i in HEADER..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            assert_eq!(Model::from_bytes(&flipped), Err(ModelError::Checksum), "byte {i}");
        }
    }

    #[test]
    fn refuses_well_signed_nonsense() {
        let mut bytes = sample().to_bytes();
        let body_start = HEADER + 16; // after the constants
        bytes[body_start] = 0xff; // a tag count far beyond the bytes left
        resign(&mut bytes);
        assert_eq!(Model::from_bytes(&bytes), Err(ModelError::Truncated));

        let mut bytes = sample().to_bytes();
        bytes[HEADER..HEADER + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        resign(&mut bytes);
        assert!(matches!(Model::from_bytes(&bytes), Err(ModelError::Corrupt(_))));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Model::from_bytes(&bytes);
        }

        #[test]
        fn arbitrary_signed_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut bytes = vec![FORMAT_VERSION];
            bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&body);
            bytes.extend_from_slice(&[0; TRAILER]);
            resign(&mut bytes);
            let _ = Model::from_bytes(&bytes);
        }

        #[test]
        fn mutated_models_never_panic(
            position in any::<proptest::sample::Index>(),
            value in any::<u8>(),
            cut in any::<proptest::sample::Index>(),
        ) {
            let mut bytes = sample().to_bytes();
            let i = position.index(bytes.len());
            bytes[i] = value;
            resign(&mut bytes);
            if let Ok(model) = Model::from_bytes(&bytes) {
                // Whatever parsed must also answer without panicking.
                let _ = model.recommend(&["insomnia", "calm", "sleep"], 3);
            }
            let truncated = &bytes[..cut.index(bytes.len())];
            prop_assert!(Model::from_bytes(truncated).is_err());
        }
    }
}
