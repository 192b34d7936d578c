//! Catalog search and ordering: how product and shop names become index grams, how a query becomes terms, the
//! listing sorts, and the opaque keyset cursor. Pure, so both store backends index and query the same way.
//!
//! Chinese has no spaces between words, so the index holds every single character and every pair of adjacent
//! characters (unigrams and bigrams) of each word: a 1- or 2-character query ("卡", "点卡") is one exact index
//! lookup, and a longer one is the AND of its bigrams, confirmed by a substring test on the few candidates.

use crate::i18n::{Lang, Localized};
use base64::Engine;

/// Most words taken from a query; more are ignored.
pub const MAX_QUERY_WORDS: usize = 6;
/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 64;

/// Lower-cased runs of letters and digits: what is indexed and what is searched for.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// The searchable text of a product: its title's and its shop's words, space-separated.
pub fn document(title: &str, shop_name: &str) -> String {
    let mut w = words(title);
    w.extend(words(shop_name));
    w.join(" ")
}

/// The index grams of a document: every character and every pair of adjacent characters of each word, each once,
/// in first-seen order.
pub fn document_grams(document: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |g: String| {
        if !out.contains(&g) {
            out.push(g);
        }
    };
    for word in document.split(' ') {
        let chars: Vec<char> = word.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            push(c.to_string());
            if let Some(next) = chars.get(i + 1) {
                push(format!("{c}{next}"));
            }
        }
    }
    out
}

/// A parsed search: up to [`MAX_QUERY_WORDS`] lower-cased words; a product matches when every word is a
/// substring of its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    words: Vec<String>,
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("query too long")]
    QueryTooLong,
    #[error("unknown sort")]
    Sort,
    #[error("bad cursor")]
    Cursor,
    #[error("unknown category")]
    Category,
}

impl Localized for SearchError {
    fn code(&self) -> &'static str {
        match self {
            SearchError::QueryTooLong => "search.query_too_long",
            SearchError::Sort => "listing.sort",
            SearchError::Cursor => "listing.cursor",
            SearchError::Category => "product.category_invalid",
        }
    }
    fn field(&self) -> Option<&'static str> {
        Some(match self {
            SearchError::QueryTooLong => "q",
            SearchError::Sort => "sort",
            SearchError::Cursor => "cursor",
            SearchError::Category => "category",
        })
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            SearchError::QueryTooLong => lang.pick("搜索词不能超过 64 个字符", "The search is at most 64 characters"),
            SearchError::Sort => lang.pick(
                "排序方式只能是 newest、relevance、price_asc、price_desc、sales 或 trust",
                "sort is newest, relevance, price_asc, price_desc, sales or trust",
            ),
            SearchError::Cursor => {
                lang.pick("翻页游标无效，请从第一页重新开始", "Bad cursor: start again from the first page")
            }
            SearchError::Category => lang.pick("商品分类无效", "Unknown product category"),
        }
        .to_string()
    }
}

impl SearchTerms {
    /// None for a query with no letters or digits (a plain listing).
    pub fn parse(q: &str) -> Result<Option<SearchTerms>, SearchError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::QueryTooLong);
        }
        let mut kept: Vec<String> = Vec::new();
        for w in words(q) {
            if !kept.contains(&w) && kept.len() < MAX_QUERY_WORDS {
                kept.push(w);
            }
        }
        Ok((!kept.is_empty()).then_some(SearchTerms { words: kept }))
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The index grams every match must hold: a 1-character word itself, a longer word's bigrams.
    pub fn grams(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for word in &self.words {
            let chars: Vec<char> = word.chars().collect();
            let grams: Vec<String> = if chars.len() == 1 {
                vec![word.clone()]
            } else {
                chars.windows(2).map(|p| p.iter().collect()).collect()
            };
            for g in grams {
                if !out.contains(&g) {
                    out.push(g);
                }
            }
        }
        out
    }

    /// The first word, which relevance ranks by (title starting with it, then containing it).
    pub fn lead(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }
}

/// How a listing is ordered; every order ends with the product id so it is total (what keyset cursors need).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListingSort {
    /// Newest first (the default without a search).
    Newest,
    /// Best match first (the default with a search): title starts with the query, then title contains it, then
    /// only the shop's name matches; newest first within each.
    Relevance,
    PriceAsc,
    PriceDesc,
    /// Most units sold (paid orders) first.
    Sales,
    /// Highest stored shop trust score first (refreshed by the trust job).
    Trust,
}

impl ListingSort {
    pub const ALL: [ListingSort; 6] = [
        ListingSort::Newest,
        ListingSort::Relevance,
        ListingSort::PriceAsc,
        ListingSort::PriceDesc,
        ListingSort::Sales,
        ListingSort::Trust,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ListingSort::Newest => "newest",
            ListingSort::Relevance => "relevance",
            ListingSort::PriceAsc => "price_asc",
            ListingSort::PriceDesc => "price_desc",
            ListingSort::Sales => "sales",
            ListingSort::Trust => "trust",
        }
    }

    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            ListingSort::Newest => lang.pick("最新", "Newest"),
            ListingSort::Relevance => lang.pick("相关度", "Relevance"),
            ListingSort::PriceAsc => lang.pick("价格从低到高", "Price: low to high"),
            ListingSort::PriceDesc => lang.pick("价格从高到低", "Price: high to low"),
            ListingSort::Sales => lang.pick("销量", "Sales"),
            ListingSort::Trust => lang.pick("店铺信誉", "Shop trust"),
        }
    }

    /// The asked sort, or the default: relevance for a search, newest otherwise. Relevance without a search is
    /// newest.
    pub fn parse(s: Option<&str>, searching: bool) -> Result<ListingSort, SearchError> {
        let sort = match s.map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(Self::ALL.into_iter().find(|o| o.as_str() == name).ok_or(SearchError::Sort)?),
        };
        Ok(match sort {
            None if searching => ListingSort::Relevance,
            None | Some(ListingSort::Relevance) if !searching => ListingSort::Newest,
            None => ListingSort::Newest,
            Some(o) => o,
        })
    }

    /// Whether larger keys come first.
    pub fn descending(self) -> bool {
        self != ListingSort::PriceAsc
    }
}

/// Where the next page starts: after the row with this sort key and product id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: i64,
}

impl Cursor {
    /// Opaque to clients: base64url of "sort:key:id", so a cursor from another sort is refused, not misread.
    pub fn encode(self, sort: ListingSort) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{}:{}", sort.as_str(), self.key, self.id))
    }

    pub fn decode(s: &str, sort: ListingSort) -> Result<Cursor, SearchError> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim()).map_err(|_| SearchError::Cursor)?;
        let text = String::from_utf8(raw).map_err(|_| SearchError::Cursor)?;
        let mut parts = text.split(':');
        let (Some(name), Some(key), Some(id), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(SearchError::Cursor);
        };
        if name != sort.as_str() {
            return Err(SearchError::Cursor);
        }
        let key = key.parse().map_err(|_| SearchError::Cursor)?;
        let id = id.parse().map_err(|_| SearchError::Cursor)?;
        Ok(Cursor { key, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_grams_hold_every_character_and_adjacent_pair() {
        let doc = document("网易一卡通点卡 100 元", "Steam 小铺");
        assert_eq!(doc, "网易一卡通点卡 100 元 steam 小铺");
        let grams = document_grams(&doc);
        for g in ["点卡", "点", "卡", "10", "00", "元", "st", "am", "小铺"] {
            assert!(grams.contains(&g.to_string()), "{g} missing from {grams:?}");
        }
        assert!(!grams.contains(&"卡 ".to_string()) && !grams.contains(&"元s".to_string()), "no gram spans words");
    }

    #[test]
    fn two_character_query_is_one_gram_and_longer_ones_are_bigrams() {
        let t = SearchTerms::parse(" 点卡 ").unwrap().unwrap();
        assert_eq!(t.grams(), vec!["点卡"]);
        let t = SearchTerms::parse("一卡通").unwrap().unwrap();
        assert_eq!(t.grams(), vec!["一卡", "卡通"]);
        let t = SearchTerms::parse("卡").unwrap().unwrap();
        assert_eq!(t.grams(), vec!["卡"]);
        assert_eq!(SearchTerms::parse("  ,. ").unwrap(), None);
        assert_eq!(SearchTerms::parse(&"长".repeat(65)), Err(SearchError::QueryTooLong));
    }

    #[test]
    fn cursor_round_trips_and_refuses_another_sort_or_garbage() {
        let c = Cursor { key: -5, id: 42 };
        let s = c.encode(ListingSort::PriceAsc);
        assert_eq!(Cursor::decode(&s, ListingSort::PriceAsc), Ok(c));
        assert_eq!(Cursor::decode(&s, ListingSort::Sales), Err(SearchError::Cursor));
        assert_eq!(Cursor::decode("not base64!", ListingSort::Sales), Err(SearchError::Cursor));
    }

    #[test]
    fn default_sort_is_relevance_for_a_search_and_newest_otherwise() {
        assert_eq!(ListingSort::parse(None, true), Ok(ListingSort::Relevance));
        assert_eq!(ListingSort::parse(None, false), Ok(ListingSort::Newest));
        assert_eq!(ListingSort::parse(Some("relevance"), false), Ok(ListingSort::Newest));
        assert_eq!(ListingSort::parse(Some("sales"), true), Ok(ListingSort::Sales));
        assert_eq!(ListingSort::parse(Some("cheapest"), true), Err(SearchError::Sort));
    }
}
