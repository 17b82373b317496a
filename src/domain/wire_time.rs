//! How timestamps travel in the domain types' serde form, which is the glance-registry RPC
//! wire format (`glance/common/rpc.py`): `{"_type": "datetime", "_value": "<isoformat>"}`,
//! Python's `datetime.isoformat()` of a naive UTC datetime. Reading also takes a plain
//! timestamp string. Written per field, so user data (properties, location metadata) is never
//! looked at, whatever it contains.

use chrono::{NaiveDateTime, Timelike};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

use super::query::CmpOp;
use super::Timestamp;

/// Python's `datetime.isoformat()` of a naive datetime: microseconds, none when zero.
pub fn python_isoformat(ts: &NaiveDateTime) -> String {
    let mut text = super::iso_seconds(ts);
    let micros = ts.nanosecond() / 1_000;
    if micros != 0 {
        // Six digits, leading zeros kept, by hand (`to_string` went through core::fmt).
        let mut digits = *b".000000";
        let mut rest = micros;
        for slot in digits[1..].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        text.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    }
    text
}

/// Parse `isoformat()` output (naive, or with an offset that is converted to UTC).
pub fn parse_python_isoformat(text: &str) -> Option<NaiveDateTime> {
    parse_naive_isoformat(text)
        .or_else(|| text.parse::<NaiveDateTime>().ok())
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|dt| dt.naive_utc())
        })
}

/// The form this wire always carries, `YYYY-MM-DDTHH:MM:SS[.ffffff]`, read by hand (chrono's
/// general parser was most of the cost of reading a timestamp); `None` for any other form.
fn parse_naive_isoformat(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if !(b.len() == 19 || (b.len() == 26 && b[19] == b'.')) {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let micros = if b.len() == 26 { number(20, 26)? } else { 0 };
    let year = i32::try_from(number(0, 4)?).ok()?;
    chrono::NaiveDate::from_ymd_opt(year, number(5, 7)?, number(8, 10)?)?.and_hms_micro_opt(
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        micros,
    )
}

/// One timestamp in its wire form.
struct Wire<'a>(&'a Timestamp);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("_type", "datetime")?;
        map.serialize_entry("_value", &python_isoformat(self.0))?;
        map.end()
    }
}

/// A timestamp read from its wire form or from a plain string.
struct Read(Timestamp);

impl<'de> Deserialize<'de> for Read {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReadVisitor)
    }
}

struct ReadVisitor;

impl<'de> Visitor<'de> for ReadVisitor {
    type Value = Read;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(r#"{"_type": "datetime", "_value": "<isoformat>"} or a timestamp string"#)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Read, E> {
        parse_python_isoformat(text)
            .map(Read)
            .ok_or_else(|| E::custom(format!("invalid datetime {text:?}")))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read, A::Error> {
        let (mut kind, mut value): (Option<String>, Option<String>) = (None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "_type" => kind = Some(map.next_value()?),
                "_value" => value = Some(map.next_value()?),
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        match (kind.as_deref(), value) {
            (Some("datetime"), Some(text)) => self.visit_str(&text),
            _ => Err(de::Error::custom("expected a wire datetime")),
        }
    }
}

/// `#[serde(with = "wire_time::required")]` for `Timestamp`.
pub mod required {
    use super::*;

    pub fn serialize<S: Serializer>(ts: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        Wire(ts).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        Read::deserialize(deserializer).map(|read| read.0)
    }
}

/// `#[serde(with = "wire_time::optional")]` for `Option<Timestamp>`.
pub mod optional {
    use super::*;

    pub fn serialize<S: Serializer>(
        ts: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => serializer.serialize_some(&Wire(ts)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        Ok(Option::<Read>::deserialize(deserializer)?.map(|read| read.0))
    }
}

/// `#[serde(with = "wire_time::comparisons")]` for the `[[op, timestamp], …]` filters.
pub mod comparisons {
    use super::*;

    pub fn serialize<S: Serializer>(
        items: &[(CmpOp, Timestamp)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        struct Pair<'a>(&'a CmpOp, &'a Timestamp);
        impl Serialize for Pair<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut pair = serializer.serialize_tuple(2)?;
                pair.serialize_element(self.0)?;
                pair.serialize_element(&Wire(self.1))?;
                pair.end()
            }
        }
        let mut seq = serializer.serialize_seq(Some(items.len()))?;
        for (op, ts) in items {
            seq.serialize_element(&Pair(op, ts))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(CmpOp, Timestamp)>, D::Error> {
        let pairs = Vec::<(CmpOp, Read)>::deserialize(deserializer)?;
        Ok(pairs.into_iter().map(|(op, read)| (op, read.0)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::query::ImageFilters;
    use crate::domain::{Image, ImageStatus, Location, LocationStatus, Visibility};
    use serde_json::json;

    fn ts(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").expect("valid timestamp")
    }

    #[test]
    fn the_hand_parser_agrees_with_chrono() {
        for text in [
            "2026-11-27T14:06:18",
            "2026-11-27T14:06:18.000001",
            "1999-01-01T00:00:00.999999",
            "2024-02-29T23:59:59.123456",
        ] {
            assert_eq!(
                parse_naive_isoformat(text),
                text.parse::<NaiveDateTime>().ok(),
                "{text}"
            );
        }
        for text in [
            "2026-11-27 14:06:18",
            "2026-13-27T14:06:18",
            "2025-02-29T14:06:18",
            "2026-11-27T14:06:18.12",
            "2026-11-27T14:06:18+01:00",
            "2026-11-27T14:6:18.0000001",
            "2026-11-27T24:00:00",
            "+026-11-27T14:06:18",
        ] {
            assert_eq!(parse_naive_isoformat(text), None, "{text}");
        }
        // Other forms still parse, through chrono.
        assert_eq!(
            parse_python_isoformat("2026-11-27T14:06:18.12"),
            Some(ts("2026-11-27T14:06:18.12"))
        );
        assert_eq!(
            parse_python_isoformat("2026-11-27T15:06:18+01:00"),
            Some(ts("2026-11-27T14:06:18"))
        );
    }

    #[test]
    fn isoformat_matches_python() {
        for (stored, python) in [
            ("2020-06-30T17:44:53.123456", "2020-06-30T17:44:53.123456"),
            ("2020-06-30T17:44:53.000001", "2020-06-30T17:44:53.000001"),
            ("2020-06-30T17:44:53.5", "2020-06-30T17:44:53.500000"),
            ("2020-06-30T17:44:53", "2020-06-30T17:44:53"),
            // Nanoseconds below a microsecond are dropped, as Python has none.
            ("2020-06-30T17:44:53.000000900", "2020-06-30T17:44:53"),
        ] {
            assert_eq!(python_isoformat(&ts(stored)), python);
        }
    }

    fn image() -> Image {
        Image {
            id: "x".into(),
            name: None,
            size: None,
            virtual_size: None,
            status: ImageStatus::Active,
            visibility: Visibility::Public,
            disk_format: None,
            container_format: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            owner: None,
            min_disk: 0,
            min_ram: 0,
            protected: false,
            os_hidden: false,
            created_at: ts("2020-06-30T17:44:53.123456"),
            updated_at: None,
            deleted_at: Some(ts("2020-06-30T17:44:53")),
            deleted: false,
            properties: [(
                "created_at".to_string(),
                Some("2020-01-01T00:00:00.5".to_string()),
            )]
            .into(),
            tags: vec![],
            locations: vec![Location {
                id: 1,
                url: "file:///x".into(),
                metadata: json!({"created_at": {"_type": "datetime", "_value": "nonsense"}})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                status: LocationStatus::Active,
            }],
        }
    }

    #[test]
    fn timestamps_cross_as_wire_datetimes_and_user_data_is_untouched() {
        let original = image();
        let wire = serde_json::to_value(&original).expect("serializes");
        assert_eq!(
            wire["created_at"],
            json!({"_type": "datetime", "_value": "2020-06-30T17:44:53.123456"})
        );
        assert_eq!(wire["deleted_at"]["_value"], "2020-06-30T17:44:53");
        assert_eq!(wire["updated_at"], serde_json::Value::Null);
        assert_eq!(wire["properties"]["created_at"], "2020-01-01T00:00:00.5");
        assert_eq!(
            wire["locations"][0]["metadata"]["created_at"]["_value"],
            "nonsense"
        );
        let back: Image = serde_json::from_value(wire).expect("deserializes");
        assert_eq!(back, original);
    }

    #[test]
    fn filters_carry_wire_datetimes_and_plain_strings_are_read_too() {
        let filters = ImageFilters {
            created_at: vec![(CmpOp::Gt, ts("2021-01-01T00:00:00"))],
            ..ImageFilters::default()
        };
        let wire = serde_json::to_value(&filters).expect("serializes");
        assert_eq!(
            wire["created_at"],
            json!([["gt", {"_type": "datetime", "_value": "2021-01-01T00:00:00"}]])
        );
        let back: ImageFilters = serde_json::from_value(wire).expect("deserializes");
        assert_eq!(back, filters);
        let mut plain = serde_json::to_value(image()).expect("serializes");
        plain["created_at"] = json!("2020-06-30T17:44:53.123456");
        let read: Image = serde_json::from_value(plain).expect("plain string");
        assert_eq!(read.created_at, image().created_at);
    }

    #[test]
    fn a_bad_wire_datetime_is_an_error() {
        let mut wire = serde_json::to_value(image()).expect("serializes");
        wire["created_at"] = json!({"_type": "datetime", "_value": "soon"});
        assert!(serde_json::from_value::<Image>(wire.clone()).is_err());
        wire["created_at"] = json!({"_type": "date", "_value": "2020-06-30T17:44:53"});
        assert!(serde_json::from_value::<Image>(wire).is_err());
    }
}
