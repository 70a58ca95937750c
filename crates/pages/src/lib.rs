//! The HTML pages served beside the API on the same port: the home page and
//! probes, sign-in, the wallet, and the mock gateway's hosted pages. Rendered on
//! the server by askama (templates compiled into the binary), in English, Serbian
//! and Russian, with one CSS and one small JavaScript file served from here.
//!
//! Every page gets the same shell (`layout`), the same session cookie and CSRF
//! check (`session`), and the same security headers (`guard`), so an operator
//! console can be added as more routes of the same shape.

mod assets;
mod chart;
mod forms;
mod guard;
pub mod i18n;
mod layout;
pub mod money;
mod routes;
mod session;

use std::sync::Arc;

use api::Authenticator;
use app::App;
use axum::Router;
use axum::routing::{get, post};

/// Signs tokens for "sign in as" on the login page: development only, with the
/// service's own HS256 secret. No `Debug`: it holds the secret.
pub struct DevSigner {
    pub secret: Vec<u8>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub ttl: chrono::Duration,
}

pub struct Settings {
    /// The service's public base URL: where gateways send the browser back to.
    pub public_url: String,
    /// Cookies marked `Secure` (production, behind HTTPS).
    pub secure_cookies: bool,
    pub dev_signer: Option<DevSigner>,
}

/// The pages' router state.
#[derive(Clone)]
pub struct Pages {
    app: App,
    auth: Authenticator,
    settings: Arc<Settings>,
}

/// Every page route, with the security headers and the CSRF cookie on each.
pub fn router(app: App, auth: Authenticator, settings: Settings) -> Router {
    let state = Pages { app, auth, settings: Arc::new(settings) };
    Router::new()
        .route("/", get(routes::home::home))
        .route("/healthz", get(routes::home::healthz))
        .route("/readyz", get(routes::home::readyz))
        .route("/static/app.css", get(assets::css))
        .route("/static/app.js", get(assets::js))
        .route("/login", get(routes::login::page).post(routes::login::sign_in))
        .route("/login/dev", post(routes::login::sign_in_as))
        .route("/logout", post(routes::login::sign_out))
        .route("/{locale}", get(routes::home::home_in))
        .route("/{locale}/balance", get(routes::wallet::page))
        .route("/{locale}/balance/deposit", get(routes::deposit::page).post(routes::deposit::submit))
        .route("/{locale}/balance/deposit/success", get(routes::deposit::success))
        .route("/{locale}/balance/withdraw", get(routes::withdraw::page).post(routes::withdraw::submit))
        .merge(console())
        .route("/payment/mock", get(routes::gateway::checkout_page))
        .route("/payment/mock/complete", post(routes::gateway::complete))
        .route("/connect/mock/onboarding", get(routes::gateway::onboarding_page).post(routes::gateway::onboard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
}

/// The operator console's routes (`routes::admin`).
fn console() -> Router<Pages> {
    use routes::admin::{self, accounts, disputes, events, log, payments, reconciliation, splits};
    Router::new()
        .route("/admin", get(admin::entry))
        .route("/{locale}/admin", get(payments::list))
        .route("/{locale}/admin/webhooks", get(log::webhooks))
        .route("/{locale}/admin/disputes", get(disputes::list))
        .route("/{locale}/admin/ledger", get(log::ledger))
        .route("/{locale}/admin/reconciliation", get(reconciliation::list))
        .route("/{locale}/admin/reconciliation/{id}", get(reconciliation::detail))
        .route("/{locale}/admin/events", get(events::list))
        .route("/{locale}/admin/events/redeliver", post(events::redeliver))
        .route("/{locale}/admin/events/endpoints", post(events::create))
        .route("/{locale}/admin/events/endpoints/{id}", post(events::act))
        .route("/{locale}/admin/accounts", get(accounts::list))
        .route("/{locale}/admin/accounts/{id}", get(accounts::detail))
        .route("/{locale}/admin/splits", get(splits::list).post(splits::create))
        .route("/{locale}/admin/splits/{id}", get(splits::edit).post(splits::update))
        .route("/{locale}/admin/splits/{id}/delete", post(splits::delete))
        .route("/{locale}/admin/payments/{id}", get(payments::detail))
        .route("/{locale}/admin/payments/{id}/refund", post(payments::refund))
        .route("/{locale}/admin/payments/{id}/release", post(payments::release))
        .route("/{locale}/admin/payments/{id}/cancel", post(payments::cancel))
        .route("/{locale}/admin/payments/{id}/close-dispute", post(payments::close_dispute))
}
