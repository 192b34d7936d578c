//! Payment rails: the clients that speak HTTP to payment gateways (and to merchants' webhook endpoints). `kabao-app` defines what it needs of a
//! gateway as traits (e.g. [`kabao_app::epay::EpayQuery`]) and stays free of HTTP; this crate implements them
//! with reqwest, and the binary (or a test) hands them to the application. [`verifier`] holds the key
//! verifier's client and the reference verifier server.

pub mod verifier;

use kabao_app::epay::{EpayConfig, EpayQuery, QueryError, MAX_ANSWER_BYTES, QUERY_TIMEOUT};
use kabao_core::payments::{epay_parse_query, EpayQueryAnswer};
use std::sync::OnceLock;

/// The 易支付 order query over HTTP(S): one client (and its connection pool) for the life of the process, short
/// timeouts, no redirects (the query URL carries the merchant key).
#[derive(Default)]
pub struct EpayHttp {
    client: OnceLock<reqwest::Client>,
}

impl EpayHttp {
    fn client(&self) -> Result<&reqwest::Client, QueryError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let built = reqwest::Client::builder()
            .timeout(QUERY_TIMEOUT)
            .connect_timeout(QUERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| QueryError::Unreachable(format!("epay query client: {}", describe(e))))?;
        Ok(self.client.get_or_init(|| built))
    }
}

#[async_trait::async_trait]
impl EpayQuery for EpayHttp {
    /// `GET {api_url}?act=order&pid=…&key=…&out_trade_no=…`. The answer is unsigned; it is believed because it
    /// comes from the configured platform (over TLS in production) in answer to a query only the key holder can
    /// make, and only if it names our pid and trade.
    async fn query_order(&self, cfg: &EpayConfig, out_trade_no: &str) -> Result<EpayQueryAnswer, QueryError> {
        let mut res = self
            .client()?
            .get(&cfg.api_url)
            .query(&[
                ("act", "order"),
                ("pid", cfg.pid.as_str()),
                ("key", cfg.key.as_str()),
                ("out_trade_no", out_trade_no),
            ])
            .send()
            .await
            .map_err(|e| QueryError::Unreachable(describe(e)))?;
        if !res.status().is_success() {
            return Err(QueryError::Status(res.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| QueryError::Unreachable(describe(e)))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(QueryError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(epay_parse_query(&body, &cfg.pid, out_trade_no)?)
    }
}

/// The payments port's HTTP client ([`kabao_app::gateways::HttpPort`]): one reqwest client for the life of the
/// process, [`kabao_app::gateways::CALL_TIMEOUT`], no redirects (a gateway never redirects an API call; a
/// redirect would carry signed requests elsewhere), answers cut at [`kabao_app::gateways::MAX_ANSWER_BYTES`].
#[derive(Default)]
pub struct GatewayHttp {
    client: OnceLock<reqwest::Client>,
    /// Instead of [`kabao_app::gateways::CALL_TIMEOUT`] (tests that make a gateway outwait the client).
    timeout: Option<std::time::Duration>,
}

impl GatewayHttp {
    /// A client whose calls, connecting included, may take at most `timeout`.
    pub fn with_timeout(timeout: std::time::Duration) -> GatewayHttp {
        GatewayHttp { client: OnceLock::new(), timeout: Some(timeout) }
    }
}

#[async_trait::async_trait]
impl kabao_app::gateways::HttpPort for GatewayHttp {
    async fn send(
        &self,
        request: kabao_app::gateways::HttpRequest,
    ) -> Result<kabao_app::gateways::HttpResponse, String> {
        use kabao_app::gateways::{HttpResponse, CALL_TIMEOUT, MAX_ANSWER_BYTES};
        let client = match self.client.get() {
            Some(c) => c,
            None => {
                let timeout = self.timeout.unwrap_or(CALL_TIMEOUT);
                let built = reqwest::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(describe)?;
                self.client.get_or_init(|| built)
            }
        };
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        let mut res = builder.send().await.map_err(describe)?;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_string())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(format!("answer larger than {MAX_ANSWER_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse { status, headers, body })
    }
}

/// A reqwest error as text, without its URL: the query URL carries the merchant key, which must not be logged.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Merchant webhooks over HTTP(S). The host is resolved here and every address checked against the platform's
/// policy before connecting, and the connection is pinned to the checked address (a name that resolves to a
/// public address at registration and to an internal one later is still refused). No redirects; a bounded
/// timeout; only the first bytes of the answer are read.
#[derive(Default)]
pub struct WebhookHttp;

#[async_trait::async_trait]
impl kabao_app::webhooks::WebhookTransport for WebhookHttp {
    async fn post(
        &self,
        request: &kabao_app::webhooks::WebhookRequest<'_>,
    ) -> Result<kabao_app::webhooks::WebhookResponse, kabao_app::webhooks::TransportError> {
        use kabao_app::webhooks::{TransportError, WebhookResponse, SEND_TIMEOUT};
        use kabao_core::webhook::RESPONSE_EXCERPT_BYTES;
        let url = request.policy.parse(request.url).map_err(|e| TransportError::Refused(e.to_string()))?;
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((url.host(), url.port()))
            .await
            .map_err(|e| TransportError::Unreachable(format!("resolve: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(TransportError::Unreachable("the host name does not resolve".into()));
        }
        if addrs.iter().any(|a| !request.policy.address_allowed(a.ip())) {
            return Err(TransportError::Refused(format!("{} resolves to a non-public address", url.host())));
        }
        let client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(url.host(), &addrs)
            .build()
            .map_err(|e| TransportError::Unreachable(describe(e)))?;
        let mut builder = client.post(url.as_str()).body(request.body.to_vec());
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let mut res = builder.send().await.map_err(|e| TransportError::Unreachable(describe(e)))?;
        let status = res.status().as_u16();
        let mut body = Vec::new();
        while body.len() < RESPONSE_EXCERPT_BYTES {
            match res.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                // The status arrived; a body cut off does not change what the receiver said.
                Err(_) => break,
            }
        }
        body.truncate(RESPONSE_EXCERPT_BYTES);
        Ok(WebhookResponse { status, excerpt: String::from_utf8_lossy(&body).into_owned() })
    }
}
