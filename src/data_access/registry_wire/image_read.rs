//! Reading replies of images in the form `image_json` writes them, by hand: the keys in that
//! order, no whitespace, no escapes. Anything else (another registry version's order, a string
//! with an escape, a timestamp as a plain string) is not an error here but `None`, and the
//! caller reads the reply with serde as before, so what is accepted and refused stays serde's.
//! serde's reader was a sixth of glance-api's instructions per GET image in registry-proxy
//! mode; most of it went to matching each of the 28 keys against every field name.

use super::image_json::TEXT_KEYS;
use crate::domain::wire_time::parse_python_isoformat;
use crate::domain::{Image, ImageStatus, Location, LocationStatus, Properties, Visibility};

/// A one-command reply (`[<image>]`).
pub fn image_reply(text: &str) -> Option<Image> {
    let mut r = Reader { text, at: 0 };
    r.literal("[")?;
    let image = r.image()?;
    r.literal("]")?;
    r.end(image)
}

/// A one-command reply of a list (`[[<image>,…]]`).
pub fn images_reply(text: &str) -> Option<Vec<Image>> {
    let mut r = Reader { text, at: 0 };
    r.literal("[[")?;
    let mut images = Vec::new();
    r.each_until("]", |r| {
        images.push(r.image()?);
        Some(())
    })?;
    r.literal("]")?;
    r.end(images)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &[u8] {
        self.text.as_bytes().get(self.at..).unwrap_or_default()
    }

    fn eat(&mut self, literal: &str) -> bool {
        let found = self.rest().starts_with(literal.as_bytes());
        if found {
            self.at += literal.len();
        }
        found
    }

    fn literal(&mut self, literal: &str) -> Option<()> {
        self.eat(literal).then_some(())
    }

    /// `"key":` (after a `,` unless it is the first member).
    fn key(&mut self, key: &str, first: bool) -> Option<()> {
        if !first {
            self.literal(",")?;
        }
        self.literal("\"")?;
        self.literal(key)?;
        self.literal("\":")
    }

    fn end<T>(&self, value: T) -> Option<T> {
        (self.at == self.text.len()).then_some(value)
    }

    /// A string without escapes (one with an escape or a raw control byte is not read here).
    fn str(&mut self) -> Option<&str> {
        self.literal("\"")?;
        let len = self
            .rest()
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if self.rest().get(len) != Some(&b'"') {
            return None;
        }
        let text = self.text.get(self.at..self.at + len)?;
        self.at += len + 1;
        Some(text)
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    fn null(&mut self) -> bool {
        self.eat("null")
    }

    fn opt_string(&mut self) -> Option<Option<String>> {
        if self.null() {
            return Some(None);
        }
        self.string().map(Some)
    }

    fn int(&mut self) -> Option<i64> {
        let negative = self.eat("-");
        let digits = self
            .rest()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let text = self.text.get(self.at..self.at + digits)?;
        // JSON has no leading zeros; such a number is left to serde to refuse.
        if digits == 0 || (digits > 1 && text.starts_with('0')) {
            return None;
        }
        self.at += digits;
        let value: i64 = text.parse().ok()?;
        Some(if negative { -value } else { value })
    }

    fn opt_int(&mut self) -> Option<Option<i64>> {
        if self.null() {
            return Some(None);
        }
        self.int().map(Some)
    }

    fn bool(&mut self) -> Option<bool> {
        if self.eat("true") {
            Some(true)
        } else if self.eat("false") {
            Some(false)
        } else {
            None
        }
    }

    fn time(&mut self) -> Option<Option<chrono::NaiveDateTime>> {
        if self.null() {
            return Some(None);
        }
        self.literal("{\"_type\":\"datetime\",\"_value\":")?;
        let at = parse_python_isoformat(self.str()?)?;
        self.literal("}")?;
        Some(Some(at))
    }

    fn image(&mut self) -> Option<Image> {
        self.literal("{")?;
        self.key("id", true)?;
        let id = self.string()?;
        self.key("name", false)?;
        let name = self.opt_string()?;
        self.key("size", false)?;
        let size = self.opt_int()?;
        self.key("virtual_size", false)?;
        let virtual_size = self.opt_int()?;
        self.key("status", false)?;
        let status = ImageStatus::parse(self.str()?)?;
        self.key("visibility", false)?;
        let visibility = Visibility::parse(self.str()?)?;
        let mut texts: [Option<String>; 6] = Default::default();
        for (key, slot) in TEXT_KEYS.into_iter().zip(texts.iter_mut()) {
            self.key(key, false)?;
            *slot = self.opt_string()?;
        }
        let [disk_format, container_format, checksum, os_hash_algo, os_hash_value, owner] = texts;
        self.key("min_disk", false)?;
        let min_disk = i32::try_from(self.int()?).ok()?;
        self.key("min_ram", false)?;
        let min_ram = i32::try_from(self.int()?).ok()?;
        self.key("protected", false)?;
        let protected = self.bool()?;
        self.key("os_hidden", false)?;
        let os_hidden = self.bool()?;
        self.key("created_at", false)?;
        let created_at = self.time()??;
        self.key("updated_at", false)?;
        let updated_at = self.time()?;
        self.key("deleted_at", false)?;
        let deleted_at = self.time()?;
        self.key("deleted", false)?;
        let deleted = self.bool()?;
        self.key("properties", false)?;
        let properties = self.properties()?;
        self.key("tags", false)?;
        let tags = self.tags()?;
        self.key("locations", false)?;
        let locations = self.locations()?;
        self.literal("}")?;
        Some(Image {
            id,
            name,
            size,
            virtual_size,
            status,
            visibility,
            disk_format,
            container_format,
            checksum,
            os_hash_algo,
            os_hash_value,
            owner,
            min_disk,
            min_ram,
            protected,
            os_hidden,
            created_at,
            updated_at,
            deleted_at,
            deleted,
            properties,
            tags,
            locations,
        })
    }

    /// Members or elements up to `close`, `,`-separated, each read by `each`.
    fn each_until(
        &mut self,
        close: &str,
        mut each: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        let mut first = true;
        while !self.eat(close) {
            if !first {
                self.literal(",")?;
            }
            first = false;
            each(self)?;
        }
        Some(())
    }

    fn properties(&mut self) -> Option<Properties> {
        self.literal("{")?;
        let mut properties = Properties::new();
        self.each_until("}", |r| {
            let name = r.string()?;
            r.literal(":")?;
            properties.insert(name, r.opt_string()?);
            Some(())
        })?;
        Some(properties)
    }

    fn tags(&mut self) -> Option<Vec<String>> {
        self.literal("[")?;
        let mut tags = Vec::new();
        self.each_until("]", |r| {
            tags.push(r.string()?);
            Some(())
        })?;
        Some(tags)
    }

    fn locations(&mut self) -> Option<Vec<Location>> {
        self.literal("[")?;
        let mut locations = Vec::new();
        self.each_until("]", |r| {
            r.literal("{")?;
            r.key("id", true)?;
            let id = r.int()?;
            r.key("url", false)?;
            let url = r.string()?;
            r.key("metadata", false)?;
            let metadata = r.metadata()?;
            r.key("status", false)?;
            let status = LocationStatus::parse(r.str()?)?;
            r.literal("}")?;
            locations.push(Location {
                id,
                url,
                metadata,
                status,
            });
            Some(())
        })?;
        Some(locations)
    }

    /// Location metadata is any JSON object: serde reads it, from here to its end.
    fn metadata(&mut self) -> Option<serde_json::Map<String, serde_json::Value>> {
        if self.eat("{}") {
            return Some(serde_json::Map::new());
        }
        let rest = self.text.get(self.at..)?;
        let mut values =
            serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Map<_, _>>();
        let metadata = values.next()?.ok()?;
        self.at += values.byte_offset();
        Some(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::super::image_json;
    use super::super::image_json::tests::sample;
    use super::*;

    fn serde_reply(text: &str) -> Image {
        let (image,): (Image,) = serde_json::from_str(text).expect("serde reads it");
        image
    }

    #[test]
    fn replies_written_by_the_registry_are_read_as_serde_reads_them() {
        let mut plain = sample();
        plain.name = Some("plain name".into());
        plain.properties = [
            ("kernel_id".to_string(), None),
            ("os_distro".to_string(), Some("debian".to_string())),
        ]
        .into_iter()
        .collect();
        plain.tags = vec!["a".into(), "b".into()];
        let mut bare = plain.clone();
        bare.locations.clear();
        bare.properties.clear();
        bare.tags.clear();
        bare.updated_at = None;
        bare.size = None;
        bare.min_disk = i32::MIN;
        for image in [&plain, &bare] {
            let text = format!("[{}]", image_json::image(image));
            assert_eq!(image_reply(&text).as_ref(), Some(image));
            assert_eq!(&serde_reply(&text), image);
        }
        let list = vec![plain.clone(), bare.clone()];
        let text = format!("[{}]", image_json::images(&list));
        assert_eq!(images_reply(&text), Some(list));
        assert_eq!(images_reply("[[]]"), Some(vec![]));
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        // The sample's name and a property hold escapes.
        let escaped = format!("[{}]", image_json::image(&sample()));
        assert_eq!(image_reply(&escaped), None);
        let mut image = sample();
        image.name = None;
        image.properties.clear();
        image.tags.clear();
        let text = format!("[{}]", image_json::image(&image));
        assert!(image_reply(&text).is_some());
        for changed in [
            text.replacen("{\"id\"", "{ \"id\"", 1),
            text.replacen("\"min_disk\":-1", "\"min_disk\":-01", 1),
            text.replacen("\"min_disk\":-1", "\"min_disk\":-1.0", 1),
            text.replacen("\"protected\":true", "\"protected\":1", 1),
            text.replacen("\"status\":\"active\"", "\"status\":\"gone\"", 1),
            text.replacen("\"size\":", "\"bytes\":", 1),
            format!("{text} "),
            text.replacen(']', "", 1),
        ] {
            assert_ne!(changed, text);
            assert_eq!(image_reply(&changed), None, "{changed}");
        }
    }
}
