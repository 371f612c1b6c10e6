//! Mesos's JSON mapping for the generated types (stout `jsonify` / `protobuf::parse`).
//!
//! `build.rs` points each generated field at one of these helpers, by the field's type and label:
//! enums travel as their value names, bytes as standard padded base64, numbers are accepted as
//! numbers or numeric strings (doubles also as `"Infinity"`/`"-Infinity"`/`"NaN"`), and a single
//! object is accepted where a repeated message field is expected.

use std::fmt;
use std::marker::PhantomData;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The value names of one proto enum; implemented by the marker types `build.rs` generates.
pub trait EnumNames {
    /// Fully-qualified proto name, for error messages.
    const NAME: &'static str;
    /// `(VALUE_NAME, number)` in declaration order.
    const VALUES: &'static [(&'static str, i32)];

    /// The value name of `number`, if the enum declares it.
    fn name_of(number: i32) -> Option<&'static str> {
        Self::VALUES
            .iter()
            .find(|(_, n)| *n == number)
            .map(|(s, _)| *s)
    }

    /// The number of `name`, if the enum declares it.
    fn number_of(name: &str) -> Option<i32> {
        Self::VALUES
            .iter()
            .find(|(s, _)| *s == name)
            .map(|(_, n)| *n)
    }
}

fn ser_enum<M: EnumNames, S: Serializer>(v: i32, s: S) -> Result<S::Ok, S::Error> {
    match M::name_of(v) {
        Some(name) => s.serialize_str(name),
        // An unknown number (e.g. from a newer peer over protobuf) is written as a number.
        None => s.serialize_i32(v),
    }
}

/// An enum value as JSON gives it — a name, or (leniently) a number — resolved against `M`
/// while it is read: no buffering and no allocation unless the value is unknown.
struct EnumValue<M> {
    /// The number, if `M` declares the value.
    number: Option<i32>,
    /// The value as given, kept only when `M` does not declare it (for the error message).
    unknown: Option<String>,
    marker: PhantomData<M>,
}

impl<M> EnumValue<M> {
    fn known(number: i32) -> Self {
        EnumValue {
            number: Some(number),
            unknown: None,
            marker: PhantomData,
        }
    }
    fn unknown(shown: String) -> Self {
        EnumValue {
            number: None,
            unknown: Some(shown),
            marker: PhantomData,
        }
    }
}

struct EnumValueVisitor<M>(PhantomData<M>);

impl<M: EnumNames> EnumValueVisitor<M> {
    fn number<E: de::Error>(v: i64) -> Result<EnumValue<M>, E> {
        let n = i32::try_from(v)
            .map_err(|_| E::custom(format!("{v} is out of range for enum {}", M::NAME)))?;
        Ok(match M::name_of(n) {
            Some(_) => EnumValue::known(n),
            None => EnumValue::unknown(n.to_string()),
        })
    }
}

impl<'de, M: EnumNames> Visitor<'de> for EnumValueVisitor<M> {
    type Value = EnumValue<M>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value name of enum {} (or its number)", M::NAME)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<EnumValue<M>, E> {
        Ok(match M::number_of(v) {
            Some(n) => EnumValue::known(n),
            None => EnumValue::unknown(v.to_string()),
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnumValue<M>, E> {
        Self::number(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnumValue<M>, E> {
        let v = i64::try_from(v)
            .map_err(|_| E::custom(format!("{v} is out of range for enum {}", M::NAME)))?;
        Self::number(v)
    }
}

impl<'de, M: EnumNames> Deserialize<'de> for EnumValue<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EnumValueVisitor(PhantomData))
    }
}

/// Optional enum field: an unknown name is dropped, as stout does.
pub mod enum_opt {
    use super::*;
    pub fn serialize<M: EnumNames, S: Serializer>(
        v: &Option<i32>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => ser_enum::<M, S>(*v, s),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, M: EnumNames, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<i32>, D::Error> {
        Ok(Option::<EnumValue<M>>::deserialize(d)?.and_then(|v| v.number))
    }
}

/// Required enum field: an unknown name is an error that names the enum.
pub mod enum_req {
    use super::*;
    pub fn serialize<M: EnumNames, S: Serializer>(v: &i32, s: S) -> Result<S::Ok, S::Error> {
        ser_enum::<M, S>(*v, s)
    }
    pub fn deserialize<'de, M: EnumNames, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        let value = EnumValue::<M>::deserialize(d)?;
        value.number.ok_or_else(|| {
            let shown = value.unknown.unwrap_or_default();
            de::Error::custom(format!("unknown value '{shown}' for enum {}", M::NAME))
        })
    }
}

/// Repeated enum field: unknown names are dropped.
pub mod enum_vec {
    use super::*;
    pub fn serialize<M: EnumNames, S: Serializer>(v: &[i32], s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for n in v {
            match M::name_of(*n) {
                Some(name) => seq.serialize_element(name)?,
                None => seq.serialize_element(n)?,
            }
        }
        seq.end()
    }
    pub fn deserialize<'de, M: EnumNames, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<i32>, D::Error> {
        let items: Vec<EnumValue<M>> = super::one_or_many::deserialize(d)?;
        Ok(items.into_iter().filter_map(|v| v.number).collect())
    }
}

/// Optional bytes: standard base64 with padding.
pub mod bytes_opt {
    use super::*;
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&B64.encode(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<Base64>::deserialize(d)?.map(|b| b.0))
    }
}

/// Required bytes.
pub mod bytes_req {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(Base64::deserialize(d)?.0)
    }
}

/// Repeated bytes.
pub mod bytes_vec {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|b| B64.encode(b)))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let items: Vec<String> = super::one_or_many::deserialize(d)?;
        items.iter().map(|t| decode_b64::<D::Error>(t)).collect()
    }
}

/// Bytes given as a base64 string, decoded straight from the input (no intermediate string).
/// pymesos's ACKNOWLEDGE_OPERATION_STATUS sends `{"value": "<b64>"}` where a plain string is
/// expected, so that form is accepted too.
struct Base64(Vec<u8>);

struct Base64Visitor;

impl<'de> Visitor<'de> for Base64Visitor {
    type Value = Base64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a base64 string (or an object with a base64 `value`)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Base64, E> {
        decode_b64::<E>(v).map(Base64)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Base64, A::Error> {
        let mut value = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" && value.is_none() {
                value = Some(map.next_value::<Base64>()?);
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
        }
        value.ok_or_else(|| de::Error::missing_field("value"))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Base64Visitor)
    }
}

fn decode_b64<E: de::Error>(text: &str) -> Result<Vec<u8>, E> {
    B64.decode(text.as_bytes())
        .map_err(|e| E::custom(format!("invalid base64 '{text}': {e}")))
}

/// A number that JSON may give as a number or as a numeric string.
pub trait LenientNumber: Sized + Serialize {
    /// What the number is called in error messages.
    const KIND: &'static str;
    /// From a JSON float.
    fn from_f64(v: f64) -> Option<Self>;
    /// From a JSON integer.
    fn from_i128(v: i128) -> Option<Self>;
    /// From a JSON string.
    fn from_text(v: &str) -> Option<Self>;
}

macro_rules! lenient_int {
    ($($t:ty),*) => {$(
        impl LenientNumber for $t {
            const KIND: &'static str = stringify!($t);
            fn from_f64(v: f64) -> Option<Self> {
                // Only exact integral values convert; 1.5 for an integer field is an error.
                let ok = v.fract() == 0.0 && v >= <$t>::MIN as f64 && v <= <$t>::MAX as f64;
                #[allow(clippy::cast_possible_truncation)]
                ok.then_some(v as $t)
            }
            fn from_i128(v: i128) -> Option<Self> { <$t>::try_from(v).ok() }
            fn from_text(v: &str) -> Option<Self> { v.trim().parse().ok() }
        }
    )*};
}
lenient_int!(i32, i64, u32, u64);

macro_rules! lenient_float {
    ($($t:ty),*) => {$(
        impl LenientNumber for $t {
            const KIND: &'static str = stringify!($t);
            #[allow(clippy::cast_possible_truncation)]
            fn from_f64(v: f64) -> Option<Self> { Some(v as $t) }
            #[allow(clippy::cast_precision_loss)]
            fn from_i128(v: i128) -> Option<Self> { Some(v as $t) }
            fn from_text(v: &str) -> Option<Self> {
                match v.trim() {
                    "Infinity" | "inf" => Some(<$t>::INFINITY),
                    "-Infinity" | "-inf" => Some(<$t>::NEG_INFINITY),
                    "NaN" | "nan" => Some(<$t>::NAN),
                    t => t.parse().ok(),
                }
            }
        }
    )*};
}
lenient_float!(f32, f64);

struct NumberVisitor<T>(PhantomData<T>);

impl<'de, T: LenientNumber> Visitor<'de> for NumberVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} as a number or a numeric string", T::KIND)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::from_i128(i128::from(v))
            .ok_or_else(|| E::custom(format!("{v} is out of range for {}", T::KIND)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::from_i128(i128::from(v))
            .ok_or_else(|| E::custom(format!("{v} is out of range for {}", T::KIND)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        T::from_f64(v).ok_or_else(|| E::custom(format!("{v} is not a valid {}", T::KIND)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::from_text(v).ok_or_else(|| E::custom(format!("'{v}' is not a valid {}", T::KIND)))
    }
}

struct Lenient<T>(T);

impl<'de, T: LenientNumber> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberVisitor(PhantomData)).map(Lenient)
    }
}

/// A number as JSON output: finite values as numbers; non-finite doubles as the strings
/// `"Infinity"`, `"-Infinity"` and `"NaN"` (JSON has no tokens for them; the input side reads
/// them back).
pub trait OutputNumber {
    /// Serialize `self`.
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
}

macro_rules! output_int {
    ($($t:ty),*) => {$(
        impl OutputNumber for $t {
            fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { self.serialize(s) }
        }
    )*};
}
output_int!(i32, i64, u32, u64);

macro_rules! output_float {
    ($($t:ty),*) => {$(
        impl OutputNumber for $t {
            fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if self.is_finite() {
                    self.serialize(s)
                } else if self.is_nan() {
                    s.serialize_str("NaN")
                } else if *self > 0.0 {
                    s.serialize_str("Infinity")
                } else {
                    s.serialize_str("-Infinity")
                }
            }
        }
    )*};
}
output_float!(f32, f64);

struct Out<'a, T>(&'a T);

impl<T: OutputNumber> Serialize for Out<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.write(s)
    }
}

macro_rules! number_modules {
    ($opt:ident, $req:ident, $vec:ident) => {
        /// Optional number, lenient on input.
        pub mod $opt {
            use super::*;
            pub fn serialize<T: OutputNumber, S: Serializer>(
                v: &Option<T>,
                s: S,
            ) -> Result<S::Ok, S::Error> {
                match v {
                    Some(v) => v.write(s),
                    None => s.serialize_none(),
                }
            }
            pub fn deserialize<'de, T: LenientNumber, D: Deserializer<'de>>(
                d: D,
            ) -> Result<Option<T>, D::Error> {
                Ok(Option::<Lenient<T>>::deserialize(d)?.map(|l| l.0))
            }
        }
        /// Required number, lenient on input.
        pub mod $req {
            use super::*;
            pub fn serialize<T: OutputNumber, S: Serializer>(
                v: &T,
                s: S,
            ) -> Result<S::Ok, S::Error> {
                v.write(s)
            }
            pub fn deserialize<'de, T: LenientNumber, D: Deserializer<'de>>(
                d: D,
            ) -> Result<T, D::Error> {
                Ok(Lenient::<T>::deserialize(d)?.0)
            }
        }
        /// Repeated number, lenient on input.
        pub mod $vec {
            use super::*;
            pub fn serialize<T: OutputNumber, S: Serializer>(
                v: &[T],
                s: S,
            ) -> Result<S::Ok, S::Error> {
                s.collect_seq(v.iter().map(Out))
            }
            pub fn deserialize<'de, T: LenientNumber, D: Deserializer<'de>>(
                d: D,
            ) -> Result<Vec<T>, D::Error> {
                let items: Vec<Lenient<T>> = super::one_or_many::deserialize(d)?;
                Ok(items.into_iter().map(|l| l.0).collect())
            }
        }
    };
}
number_modules!(float_opt, float_req, float_vec);
number_modules!(int_opt, int_req, int_vec);

/// A repeated field: accepts an array, a single element (as stout does) or `null` (empty).
/// Element errors keep their own message (e.g. the missing field they name).
pub mod one_or_many {
    use super::*;
    use serde::de::value::MapAccessDeserializer;
    use serde::de::{MapAccess, SeqAccess};

    struct OneOrMany<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrMany<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array, a single element or null")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
            Ok(vec![T::deserialize(MapAccessDeserializer::new(map))?])
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| vec![t])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<T>, E> {
            T::deserialize(de::value::I64Deserializer::<E>::new(v)).map(|t| vec![t])
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<T>, E> {
            T::deserialize(de::value::U64Deserializer::<E>::new(v)).map(|t| vec![t])
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Vec<T>, E> {
            T::deserialize(de::value::F64Deserializer::<E>::new(v)).map(|t| vec![t])
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        d.deserialize_any(OneOrMany(PhantomData))
    }
}
