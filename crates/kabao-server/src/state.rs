//! What every request handler may use: the application (`kabao_app::App`: store, keyring, configuration,
//! clock, mailer) and what only the HTTP side keeps (request metrics).

use kabao_app::App;
use kabao_core::vault::Keyring;
use kabao_store::Store;
use std::sync::Arc;

pub struct AppState {
    pub app: App,
    pub metrics: crate::metrics::Metrics,
    /// HTTP-only settings: the metrics token and the public URL (HSTS).
    pub http: crate::hardening::HttpSettings,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// The application over `store`, with the gateway and key-verifier clients of `kabao-rails` and request metrics.
    pub fn new(
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        config: kabao_app::Config,
        clock: Arc<dyn kabao_app::Clock>,
    ) -> AppState {
        let verifiers = kabao_app::verification::Verifiers::build(&config.verifiers, |c| {
            Arc::new(kabao_rails::verifier::VerifierHttp::new(c)) as Arc<dyn kabao_app::verification::Verifier>
        });
        let app = App::new(store, keyring, config, clock)
            .with_gateway_http(Arc::new(kabao_rails::GatewayHttp::default()))
            .with_verifiers(verifiers)
            .with_webhook_transport(Arc::new(kabao_rails::WebhookHttp));
        AppState { app, metrics: crate::metrics::Metrics::new(), http: crate::hardening::HttpSettings::default() }
    }

    /// Replaces the mailer (the default keeps mails in memory, as tests want).
    pub fn with_mailer(mut self, mailer: Arc<dyn kabao_app::mailer::Mailer>, public_url: Option<String>) -> AppState {
        self.app = self.app.with_mailer(mailer, public_url);
        self
    }
}

impl AppState {
    /// Sets the HTTP-only settings (the default: no metrics token, no HSTS).
    pub fn with_http(mut self, http: crate::hardening::HttpSettings) -> AppState {
        self.http = http;
        self
    }
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}
