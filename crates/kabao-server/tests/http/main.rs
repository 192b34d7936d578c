//! HTTP tests of the whole router, in process (no sockets): pages with their CSRF and session cookies,
//! and the JSON API with bearer tokens. One test binary keeps link time down.

mod api;
mod app;
mod orders;
mod pages;
