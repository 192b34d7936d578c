//! A route list that is also a table: [`Routes::route`] registers a route in the axum [`Router`] and records
//! each of its methods with the path, so the access-matrix test walks exactly the routes the server has, not a
//! second hand-written list. `get`, `post`, `put` and `delete` here read like axum's (`get(a).post(b)`,
//! `.layer(...)`), but remember which methods they were given.

use crate::SharedState;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, Route};
use axum::Router;
use std::convert::Infallible;

/// The handlers of one path and the methods they answer.
pub struct Methods {
    router: MethodRouter<SharedState>,
    methods: Vec<Method>,
}

macro_rules! method_fns {
    ($($name:ident => $method:ident),*) => {
        $(
            /// Routes this method to `handler`, like axum's function of the same name.
            pub fn $name<H, T>(handler: H) -> Methods
            where
                H: Handler<T, SharedState>,
                T: 'static,
            {
                Methods { router: axum::routing::$name(handler), methods: vec![Method::$method] }
            }
        )*

        impl Methods {
            $(
                /// Adds this method, like axum's `MethodRouter` method of the same name.
                pub fn $name<H, T>(mut self, handler: H) -> Methods
                where
                    H: Handler<T, SharedState>,
                    T: 'static,
                {
                    self.router = self.router.$name(handler);
                    self.methods.push(Method::$method);
                    self
                }
            )*
        }
    };
}

method_fns!(get => GET, post => POST, put => PUT, delete => DELETE, patch => PATCH);

impl Methods {
    /// Wraps the handlers in a layer (e.g. a body limit), like `MethodRouter::layer`.
    pub fn layer<L>(mut self, layer: L) -> Methods
    where
        L: tower::Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as tower::Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as tower::Service<Request>>::Future: Send + 'static,
    {
        self.router = self.router.layer(layer);
        self
    }
}

/// A router being built, and the `(method, path)` of every route registered so far.
pub struct Routes {
    router: Router<SharedState>,
    table: Vec<(Method, String)>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    pub fn new() -> Routes {
        Routes { router: Router::new(), table: Vec::new() }
    }

    /// Registers `path` with its handlers (axum's `Router::route`) and records each method.
    pub fn route(mut self, path: &str, methods: Methods) -> Routes {
        self.router = self.router.route(path, methods.router);
        self.table.extend(methods.methods.into_iter().map(|m| (m, path.to_string())));
        self
    }

    pub fn into_router(self) -> Router<SharedState> {
        self.router
    }

    /// Every `(method, path)` registered, each path prefixed with `prefix` (where the router is nested).
    pub fn table(&self, prefix: &str) -> Vec<(Method, String)> {
        self.table.iter().map(|(m, p)| (m.clone(), format!("{prefix}{p}"))).collect()
    }
}
