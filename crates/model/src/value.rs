//! Typed attribute values. Honeycomb's column types are string, integer, float and boolean;
//! arrays, maps and bytes arrive as JSON strings (as husky does).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Value {
    /// The column type this value would create.
    pub fn column_type(&self) -> ColumnType {
        match self {
            Value::Str(_) => ColumnType::String,
            Value::Int(_) => ColumnType::Integer,
            Value::Float(_) => ColumnType::Float,
            Value::Bool(_) => ColumnType::Boolean,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(_) => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// From a JSON scalar; objects and arrays become JSON text, null becomes `None`.
    pub fn from_json(v: &serde_json::Value) -> Option<Value> {
        Some(match v {
            serde_json::Value::Null => return None,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64()?),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            other => Value::Str(other.to_string()),
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Honeycomb's column types (`GET /1/columns` spells them this way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    String,
    Integer,
    Float,
    Boolean,
}

impl ColumnType {
    pub fn honeycomb_name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Integer => "integer",
            ColumnType::Float => "float",
            ColumnType::Boolean => "boolean",
        }
    }
}

/// The narrowest type that holds values of both types without loss of meaning (integers
/// read as floats; anything reads as text).
pub fn widen(a: ColumnType, b: ColumnType) -> ColumnType {
    use ColumnType::*;
    match (a, b) {
        (x, y) if x == y => x,
        (Integer, Float) | (Float, Integer) => Float,
        _ => String,
    }
}

/// Largest integer magnitude a double holds exactly (2⁵³).
const F64_EXACT_INT_MAX: i64 = 1 << 53;

impl Value {
    /// Whether a column of type `ty` holds this value exactly: text takes anything (as its
    /// text), a float column takes integers up to 2⁵³, other types only their own.
    pub fn fits(&self, ty: ColumnType) -> bool {
        match (self, ty) {
            (_, ColumnType::String) => true,
            (Value::Int(i), ColumnType::Float) => i.unsigned_abs() <= F64_EXACT_INT_MAX as u64,
            (v, t) => v.column_type() == t,
        }
    }
}
