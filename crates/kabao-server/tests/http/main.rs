//! HTTP tests of the whole router, in process (no sockets): pages with their CSRF and session cookies,
//! and the JSON API with bearer tokens. One test binary keeps link time down. The sockets: a fake 易支付
//! platform on 127.0.0.1 that the reconciliation job queries over real HTTP, and a fake WeChat Pay (Python, on
//! the wechatpayv3 SDK) that the WeChat Pay adapter calls.

mod access_matrix;
mod account_api;
mod alipay;
mod api;
mod app;
mod catalog;
mod claims;
mod disputes;
mod epay;
mod extended_warranty;
mod hardened;
mod history;
mod hygiene;
mod idempotency;
mod insurance;
mod insurance_book;
mod labels;
mod listing;
mod orders;
mod pages;
mod promotions;
mod reconcile;
mod reevaluation;
mod refunds;
mod sandbox;
mod security;
mod throttles;
mod trust;
mod two_factor;
mod verifier;
mod webhooks;
mod wechatpay;
mod withdrawals;
