//! Private macros that stamp out open enums, `type`-tagged enums and method marker types.

/// An open string enum: known variants plus `Unknown(Cow<str>)`, so a value from a newer spec
/// or an extension never fails deserialization. (De)serializes as a plain JSON string.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident<$lt:lifetime> {
            $( $(#[$vmeta:meta])* $var:ident = $s:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name<$lt> {
            $( $(#[$vmeta])* $var, )+
            /// A value this crate does not know (a newer spec or an extension), kept verbatim.
            /// Deserialization never produces `Unknown` for a known string.
            Unknown(::std::borrow::Cow<$lt, str>),
        }

        impl<$lt> $name<$lt> {
            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$var => $s, )+
                    Self::Unknown(s) => s,
                }
            }

            /// The variant for a wire string (known strings never become `Unknown`).
            pub fn from_cow(s: ::std::borrow::Cow<$lt, str>) -> Self {
                match &*s {
                    $( $s => Self::$var, )+
                    _ => Self::Unknown(s),
                }
            }

            /// Whether this is a value this crate knows.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        impl ::serde::Serialize for $name<'_> {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de: $lt, $lt> ::serde::Deserialize<'de> for $name<$lt> {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$crate::mcp::de::BorrowCow<'de> as ::serde::Deserialize<'de>>::deserialize(d)
                    .map(|c| Self::from_cow(c.0))
            }
        }
    };
}

/// An enum tagged by a string member (`"type"`), with an `Unknown(Json)` fallback holding the
/// whole raw object so new kinds never fail the enclosing message.
///
/// Deserialization captures the raw object, peeks the tag, then parses the variant from the raw
/// text (borrowing from it). It therefore needs serde_json's deserializer (`from_slice`/`from_str`).
macro_rules! tagged_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident<$lt:lifetime> tag $tag:literal {
            $( $(#[$vmeta:meta])* $var:ident($ty:ty) = $s:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum $name<$lt> {
            $( $(#[$vmeta])* $var($ty), )+
            /// A kind this crate does not know (or no tag at all): the whole object, verbatim.
            Unknown($crate::mcp::Json<$lt>),
        }

        impl $name<'_> {
            /// The tag value (e.g. `"text"`); for `Unknown`, the raw tag when it is an escape-free
            /// string, else `None`.
            pub fn kind(&self) -> Option<&str> {
                match self {
                    $( Self::$var(_) => Some($s), )+
                    Self::Unknown(raw) => {
                        $crate::mcp::de::peek_str(raw.as_raw(), $tag).ok().flatten().and_then(
                            |c| match c {
                                ::std::borrow::Cow::Borrowed(b) => Some(b),
                                ::std::borrow::Cow::Owned(_) => None,
                            },
                        )
                    }
                }
            }
        }

        impl ::serde::Serialize for $name<'_> {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                #[derive(::serde::Serialize)]
                #[serde(tag = $tag)]
                enum Tagged<'b, $lt: 'b> {
                    $( #[serde(rename = $s)] $var(&'b $ty), )+
                }
                match self {
                    $( Self::$var(v) => Tagged::$var(v).serialize(s), )+
                    Self::Unknown(raw) => raw.serialize(s),
                }
            }
        }

        impl<'de: $lt, $lt> ::serde::Deserialize<'de> for $name<$lt> {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use ::serde::de::Error as _;
                let raw: &'de ::serde_json::value::RawValue = ::serde::Deserialize::deserialize(d)?;
                let tag = $crate::mcp::de::peek_str(raw, $tag).map_err(D::Error::custom)?;
                let parsed = match tag.as_deref() {
                    $( Some($s) => $crate::mcp::de::reparse(raw).map(Self::$var), )+
                    _ => Ok(Self::Unknown($crate::mcp::Json(raw))),
                };
                parsed.map_err(D::Error::custom)
            }
        }
    };
}

/// Uninhabited marker types tying a request method to its params and result types.
macro_rules! request_marker {
    ($(
        $(#[$meta:meta])*
        $name:ident = $method:path, <$lt:lifetime> $params:ty => $result:ty;
    )+) => {$(
        $(#[$meta])*
        #[derive(Debug)]
        #[allow(clippy::exhaustive_enums, reason = "uninhabited marker type, never matched")]
        pub enum $name {}

        impl $crate::mcp::Request for $name {
            const METHOD: &'static str = $method;
            type Params<$lt> = $params;
            type Result<$lt> = $result;
        }
    )+};
}

/// Uninhabited marker types tying a notification method to its params type.
macro_rules! notification_marker {
    ($(
        $(#[$meta:meta])*
        $name:ident = $method:path, <$lt:lifetime> $params:ty;
    )+) => {$(
        $(#[$meta])*
        #[derive(Debug)]
        #[allow(clippy::exhaustive_enums, reason = "uninhabited marker type, never matched")]
        pub enum $name {}

        impl $crate::mcp::Notification for $name {
            const METHOD: &'static str = $method;
            type Params<$lt> = $params;
        }
    )+};
}
