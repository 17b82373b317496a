//! `SqlParam` (the backend-neutral statement values of `data_access::sql`) as tokio-postgres
//! parameters. Each value is encoded for the type PostgreSQL inferred for its placeholder:
//! integers narrow or widen to the column's width, and text may fill an enum column
//! (`image_visibility`), whose binary form is its label.

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, IsNull, Kind, ToSql, Type};

use crate::data_access::sql::SqlParam;

#[derive(Debug)]
pub struct PgParam<'a>(pub &'a SqlParam);

type EncodeResult = Result<IsNull, Box<dyn Error + Sync + Send>>;

fn text(value: &str, ty: &Type, out: &mut BytesMut) -> EncodeResult {
    if matches!(ty.kind(), Kind::Enum(_)) {
        out.extend_from_slice(value.as_bytes());
        return Ok(IsNull::No);
    }
    value.to_sql(ty, out)
}

fn integer(value: i64, ty: &Type, out: &mut BytesMut) -> EncodeResult {
    match *ty {
        Type::INT2 => i16::try_from(value)?.to_sql(ty, out),
        Type::INT4 => i32::try_from(value)?.to_sql(ty, out),
        _ => value.to_sql(ty, out),
    }
}

impl ToSql for PgParam<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> EncodeResult {
        match self.0 {
            SqlParam::Text(value) => text(value, ty, out),
            SqlParam::Visibility(value) => text(value.as_str(), ty, out),
            SqlParam::BigInt(value) => integer(*value, ty, out),
            SqlParam::Int(value) => integer(i64::from(*value), ty, out),
            SqlParam::Bool(value) => value.to_sql(ty, out),
            SqlParam::Timestamp(value) => value.to_sql(ty, out),
        }
    }

    /// Checked per value in `to_sql`, where the variant is known.
    fn accepts(ty: &Type) -> bool {
        <&str as ToSql>::accepts(ty)
            || matches!(ty.kind(), Kind::Enum(_))
            || matches!(
                *ty,
                Type::INT2 | Type::INT4 | Type::INT8 | Type::BOOL | Type::TIMESTAMP
            )
    }

    to_sql_checked!();
}
