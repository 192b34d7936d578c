//! Identifier newtypes, so a shop id can never be passed where a product id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(/// A user account.
    UserId);
id_type!(/// A shop.
    ShopId);
id_type!(/// A product of a shop.
    ProductId);
id_type!(/// One import of card keys (a batch is voided as a whole).
    BatchId);
id_type!(/// One card key in inventory.
    CardKeyId);
id_type!(/// A merchant API token.
    ApiTokenId);
