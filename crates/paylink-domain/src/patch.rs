//! Three-state fields for PATCH requests: absent (leave as is), `null` (clear), or a value.

use serde::{Deserialize, Deserializer};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    /// The field's next value given its current one.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => current,
            Patch::Null => None,
            Patch::Value(v) => Some(v),
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Value(v),
        })
    }
}

/// In the OpenAPI document a PATCH field is its value's schema, or `null`. The schema of
/// `T` is handed in by utoipa's derive for generic fields.
impl<T> utoipa::__dev::ComposeSchema for Patch<T> {
    fn compose(
        generics: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let inner = generics
            .into_iter()
            .next()
            .unwrap_or_else(|| utoipa::openapi::ObjectBuilder::new().into());
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Null),
            )
            .item(inner)
            .into()
    }
}

impl<T: utoipa::ToSchema> utoipa::ToSchema for Patch<T> {
    fn schemas(
        out: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        T::schemas(out);
    }
}

/// A PATCH field's schema with its own rules: `null`, or `inner` (for `schema_with`,
/// where utoipa's derive would drop a field's length and pattern rules).
pub fn or_null(inner: utoipa::openapi::schema::Object) -> utoipa::openapi::schema::Schema {
    let one_of = utoipa::openapi::schema::OneOfBuilder::new()
        .item(
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Null),
        )
        .item(inner)
        .build();
    utoipa::openapi::schema::Schema::OneOf(one_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct P {
        #[serde(default)]
        a: Patch<u32>,
    }

    #[test]
    fn three_states() {
        let p: P = serde_json::from_str("{}").unwrap();
        assert_eq!(p.a, Patch::Absent);
        let p: P = serde_json::from_str(r#"{"a":null}"#).unwrap();
        assert_eq!(p.a, Patch::Null);
        let p: P = serde_json::from_str(r#"{"a":3}"#).unwrap();
        assert_eq!(p.a.apply(Some(1)), Some(3));
    }
}
