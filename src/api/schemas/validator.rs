//! The JSON-Schema subset Glance's image schema uses, with jsonschema's messages in Python's
//! `repr()`.

use serde_json::Value;

use super::UUID_PATTERN;

/// The subset of JSON-Schema draft 4 Glance's image schema uses: type, enum, maxLength,
/// minLength, pattern (the UUID one), items, properties, required, additionalProperties.
/// Returns jsonschema's message for the first violation found.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| is_type(instance, t)) {
            let names: Vec<String> = allowed.iter().map(|t| format!("'{t}'")).collect();
            return Err(format!(
                "{} is not of type {}",
                py_repr(instance),
                names.join(", ")
            ));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum") {
        if !options.iter().any(|o| o == instance) {
            return Err(format!(
                "{} is not one of {}",
                py_repr(instance),
                py_repr(&Value::Array(options.clone()))
            ));
        }
    }
    if let Value::String(text) = instance {
        let length = text.chars().count() as u64;
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if length > max {
                return Err(format!("{} is too long", py_repr(instance)));
            }
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if length < min {
                return Err(format!("{} is too short", py_repr(instance)));
            }
        }
        if let Some(Value::String(pattern)) = schema.get("pattern") {
            if pattern == UUID_PATTERN && !is_uuid(text) {
                return Err(format!(
                    "{} does not match {}",
                    py_repr(instance),
                    py_repr_str(pattern)
                ));
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (instance, schema.get("items")) {
        for item in items {
            validate(item_schema, item)?;
        }
    }
    if let Value::Object(fields) = instance {
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    return Err(format!("{} is a required property", py_repr_str(name)));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, value) in fields {
            match properties.and_then(|p| p.get(name)) {
                Some(property_schema) => validate(property_schema, value)?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(format!(
                            "Additional properties are not allowed ({} was unexpected)",
                            py_repr_str(name)
                        ))
                    }
                    Some(extra @ Value::Object(_)) => validate(extra, value)?,
                    _ => {}
                },
            }
        }
    }
    Ok(())
}

pub(super) fn is_type(value: &Value, json_type: &str) -> bool {
    match json_type {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "number" => value.is_number(),
        "integer" => as_integer(value).is_some(),
        _ => true,
    }
}

/// A JSON number with no fraction (jsonschema counts `1.0` as an integer too).
pub fn as_integer(value: &Value) -> Option<i128> {
    let number = value.as_number()?;
    if let Some(i) = number.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = number.as_u64() {
        return Some(i128::from(u));
    }
    let f = number.as_f64()?;
    // Beyond i128 it still is an integer for the schema; saturate, range checks reject it.
    (f.fract() == 0.0 && f.is_finite()).then_some(f as i128)
}

/// Glance's id pattern: 8-4-4-4-12 hex digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Python's `repr()` of a JSON value, as jsonschema's messages show it.
pub fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_repr_str(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

pub fn py_repr_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}
