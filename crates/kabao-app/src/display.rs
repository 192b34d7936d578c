//! Time as people read it, in one place: pages, the complaint package and mails all format moments here.
//! Always UTC+8: the product's users are in China, whatever the server's zone.

use kabao_core::Timestamp;

/// A date as `2026-11-28` (UTC+8).
pub fn date(ts: Timestamp) -> String {
    let secs = ts.millis().div_euclid(1000) + 8 * 3600;
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(d) => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        Err(_) => "-".into(),
    }
}

/// A moment as `2026-11-28 14:05` (UTC+8).
pub fn datetime(ts: Timestamp) -> String {
    let secs = ts.millis().div_euclid(1000) + 8 * 3600;
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(d) => format!("{:04}-{:02}-{:02} {:02}:{:02}", d.year(), u8::from(d.month()), d.day(), d.hour(), d.minute()),
        Err(_) => "-".into(),
    }
}
