//! Languages and the contract for user-facing messages.
//! The product speaks zh-CN first and English second; every rule that can refuse input says why in both.

use serde::{Deserialize, Serialize};

/// A language the product speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// The BCP 47 tag, as used in `<html lang>` and the `lang` cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Parses a tag loosely (`zh`, `zh-CN`, `en`, `en-US`); anything else is `None`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.starts_with("zh") {
            Some(Lang::Zh)
        } else if tag.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// Picks a text by language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// An error or notice a user reads: a stable machine code, the field it is about, and a message per language.
pub trait Localized {
    /// Stable machine code, e.g. `"shop.name_too_long"`. Clients may match on it.
    fn code(&self) -> &'static str;
    /// The input field the message is about, if any.
    fn field(&self) -> Option<&'static str> {
        None
    }
    /// The message in the given language.
    fn message(&self, lang: Lang) -> String;
}
