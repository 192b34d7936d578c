//! End-to-end tests of the `kabao` binary: the real server on a random port with a fresh data directory,
//! driven through its CLI and through Debian's chromium (chromedriver). One test binary keeps link time down.

mod browser;
mod buying;
mod cli;
mod crash;
mod email;
mod harness;
mod insurance;
mod ops;
mod outage;
mod payments;
mod reconcile;
mod trust;
mod two_factor;
mod two_instances;
