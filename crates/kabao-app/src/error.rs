//! What the use cases' errors share. Each module has its own error enum in domain words (`orders::OrderError`,
//! `claims::ClaimsError`, ...) implementing [`kabao_core::Localized`] (a stable code, the field at fault, the
//! words in zh-CN and English); `kabao-server/src/error.rs` is the one place that gives each variant its HTTP
//! status. Nothing here knows about HTTP.

use kabao_core::Lang;

/// What an internal failure says to the user, in every module's `Localized` (the cause is logged, never shown).
pub fn internal_words(lang: Lang) -> &'static str {
    lang.pick("服务器内部错误，请稍后重试", "Internal error, please retry later")
}

/// [`internal_words`] as an owned message.
pub fn internal_message(lang: Lang) -> String {
    internal_words(lang).to_string()
}
