//! The HTML pages over real HTTP: status codes, the security headers, the
//! session and CSRF cookies, every page in every language, and the wallet's
//! deposit and withdrawal through the forms.

use std::collections::BTreeMap;

use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};

use crate::helpers::{Db, TestApp, spawn_app, spawn_app_with};
use crate::on_both_databases;

on_both_databases!(
    a_deposit_through_the_pages_credits_the_wallet_once,
    a_post_without_the_csrf_token_is_refused_and_changes_nothing,
    a_withdrawal_refused_for_funds_shows_the_message_beside_the_amount,
);

/// A browser's cookie jar over the test's HTTP client (which follows no redirect).
pub struct WebSession<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
    /// The `Set-Cookie` values of the last answer, as sent.
    pub set_cookies: Vec<String>,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

impl<'a> WebSession<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self { app, cookies: BTreeMap::new(), set_cookies: Vec::new() }
    }

    fn absolute(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_owned() } else { self.app.url(path) }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let request = if jar.is_empty() { request } else { request.header(COOKIE, jar.join("; ")) };
        let response = request.send().await.expect("the page answers");
        self.set_cookies =
            response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        for cookie in &self.set_cookies {
            let Some((name, value)) = cookie.split(';').next().and_then(|pair| pair.split_once('=')) else { continue };
            if cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        Answer { status, headers, body: response.text().await.expect("body") }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let request = self.app.http.get(self.absolute(path));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let request = self.app.http.post(self.absolute(path)).form(form);
        self.send(request).await
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Development's "sign in as" on the login page.
    pub async fn sign_in_as(&mut self, user: &str) {
        let login = self.get("/login").await;
        assert_eq!(login.status, 200);
        let csrf = hidden(&login.body, "csrf");
        let signed =
            self.post("/login/dev", &[("csrf", &csrf), ("user_id", user), ("role_user", "on"), ("next", "/en/balance")]).await;
        assert_eq!((signed.status, signed.location()), (303, "/en/balance"), "{}", signed.body);
    }
}

/// The value of the hidden input `name` in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no hidden {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap_or_default().to_owned()
}

/// What every page answer must carry.
fn assert_page(answer: &Answer, what: &str) {
    let content_type = answer.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{what}: {content_type}");
    let policy = answer.headers.get(CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{what}: {policy}");
    assert!(answer.body.contains("name=\"viewport\""), "{what} has no mobile viewport");
    assert!(!answer.body.contains(pages::i18n::MISSING), "{what} has an untranslated text");
    assert!(!answer.body.contains("<script>"), "{what} has an inline script");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_and_probes_share_the_port_with_grpc() {
    let app = spawn_app(Db::Sqlite).await;
    let mut web = WebSession::new(&app);
    let home = web.get("/").await;
    assert_eq!(home.status, 200);
    assert_page(&home, "/");
    for link in ["/en/balance", "/admin", "/readyz", "/api/v1/openapi.json"] {
        assert!(home.body.contains(&format!("href=\"{link}\"")), "/ links {link}");
    }
    assert_eq!(web.get("/healthz").await.status, 200);
    assert_eq!(web.get("/readyz").await.status, 200);
    let mut fresh = WebSession::new(&app);
    assert_eq!(fresh.get("/static/app.css").await.status, 200);
    assert!(fresh.set_cookies.is_empty(), "a cacheable asset carries no cookie");
    assert_eq!(web.get("/static/app.js").await.status, 200);
    // gRPC beside the pages: the health check, and an unknown method is still gRPC's UNIMPLEMENTED.
    let health = app.payments().health_check(api::proto::HealthCheckRequest {}).await.expect("gRPC still answers");
    assert_eq!(health.into_inner().status, "SERVING");
    let invented = app
        .http
        .post(app.url("/invented.v1.Nothing/Invented"))
        .header(CONTENT_TYPE, "application/grpc")
        .send()
        .await
        .expect("answer");
    assert_eq!(invented.headers().get("grpc-status").and_then(|v| v.to_str().ok()), Some("12"));
    // Back from another site's checkout without the Strict cookie: a same-site hop first, then the login.
    let returning = web.get("/en/balance/deposit/success?session_id=cs_mock_x").await;
    assert_eq!(returning.status, 200);
    let follow = returning.body.split("data-follow href=\"").nth(1).unwrap_or_default().split('"').next().unwrap_or_default();
    assert_eq!(follow, "/en/balance/deposit/success?session_id=cs%5Fmock%5Fx&#38;back=1", "a link to itself, flagged");
    let still_anonymous = web.get("/en/balance/deposit/success?session_id=cs_mock_x&back=1").await;
    assert_eq!(still_anonymous.status, 303);
    assert!(still_anonymous.location().starts_with("/login?lang=en&next="), "{}", still_anonymous.location());
    let onboarding = web.get("/connect/mock/onboarding?account_id=x&link_id=y").await;
    assert_eq!(onboarding.status, 400);
    assert_page(&onboarding, "a bad onboarding link");
    let unknown =
        web.get(&format!("/connect/mock/onboarding?account_id={}&link_id={}", uuid::Uuid::nil(), uuid::Uuid::nil())).await;
    assert_eq!(unknown.status, 404);
    assert_page(&unknown, "an unknown onboarding link");
    let nowhere = web.get("/no/such/page").await;
    assert_eq!(nowhere.status, 404);
    assert!(nowhere.headers.contains_key(CONTENT_SECURITY_POLICY));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_does_not_answer() {
    let app = spawn_app(Db::Postgres).await;
    let mut web = WebSession::new(&app);
    assert_eq!(web.get("/readyz").await.status, 200);
    crate::helpers::drop_database(&app.db_url).await;
    let ready = crate::helpers::eventually("readyz to fail", || async {
        let status = web_status(&app, "/readyz").await;
        (status != 200).then_some(status)
    })
    .await;
    assert_eq!(ready, 503);
    assert_eq!(web.get("/healthz").await.status, 200, "liveness does not need the database");
    app.stop().await;
}

async fn web_status(app: &TestApp, path: &str) -> u16 {
    app.http.get(app.url(path)).send().await.expect("answer").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_every_language_is_translated_and_guarded() {
    let app = spawn_app(Db::Sqlite).await;
    let session_id = app.top_up("user-1", "12.00", "success").await;
    let pending = app
        .create_checkout(
            &crate::helpers::token("user-1", &[app::Role::User]),
            crate::helpers::checkout_request("user-1", "5.00", "USD"),
        )
        .await
        .expect("checkout");
    let mut web = WebSession::new(&app);
    let anonymous = web.get("/en/balance").await;
    assert_eq!((anonymous.status, anonymous.location()), (303, "/login?lang=en&next=%2Fen%2Fbalance"));
    assert!(web.set_cookies.is_empty(), "a redirect sets no cookie");
    web.get("/login").await;
    let csrf_cookie = web.set_cookies.iter().find(|c| c.starts_with("vp_csrf=")).cloned().unwrap_or_default();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"), "{csrf_cookie}");
    web.sign_in_as("user-1").await;
    let session = web.set_cookies.iter().find(|c| c.starts_with("vp_session=")).cloned().unwrap_or_default();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/"), "{session}");
    assert!(!session.contains("Secure"), "development serves plain HTTP");
    for locale in ["en", "sr", "ru"] {
        for path in [
            format!("/{locale}"),
            format!("/{locale}/balance"),
            format!("/{locale}/balance/deposit"),
            format!("/{locale}/balance/deposit?error=payment_failed"),
            format!("/{locale}/balance/withdraw"),
            format!("/{locale}/balance/deposit/success?session_id={session_id}"),
            format!("/login?lang={locale}"),
            format!("/payment/mock?session_id={}&lang={locale}", pending.session_id),
        ] {
            let page = web.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            assert_page(&page, &path);
            let lang = if locale == "sr" { "sr-Latn" } else { locale };
            assert!(page.body.contains(&format!("<html lang=\"{lang}\"")), "{path}");
        }
    }
    let russian = web.get("/ru/balance").await;
    assert!(russian.body.contains("12,00\u{a0}$") && russian.body.contains("Пополнение"), "{}", russian.body);
    let serbian = web.get(&format!("/payment/mock?session_id={}&lang=sr", pending.session_id)).await;
    assert!(serbian.body.contains("5,00\u{a0}USD") && serbian.body.contains("Plati"), "{}", serbian.body);
    let unknown = web.get("/de/balance").await;
    assert_eq!(unknown.status, 404);
    assert_page(&unknown, "/de/balance");
    for (path, lang) in [("/en/balance?page=abc", "en"), ("/sr/balance?page=-1", "sr-Latn")] {
        let unreadable = web.get(path).await;
        assert_eq!(unreadable.status, 400, "{path}: {}", unreadable.body);
        assert_page(&unreadable, path);
        assert!(unreadable.body.contains(&format!("<html lang=\"{lang}\"")), "{path}: {}", unreadable.body);
    }
    app.stop().await;
}

async fn a_deposit_through_the_pages_credits_the_wallet_once(db: Db) {
    let app = spawn_app(db).await;
    let mut web = WebSession::new(&app);
    web.sign_in_as("buyer-7").await;
    let form = web.get("/en/balance/deposit").await;
    let (csrf, key) = (hidden(&form.body, "csrf"), hidden(&form.body, "idempotency_key"));
    let fields = [
        ("csrf", csrf.as_str()),
        ("idempotency_key", key.as_str()),
        ("preset", "10"),
        ("amount", "25.50"),
        ("currency", "USD"),
        ("gateway", "mock"),
    ];
    let created = web.post("/en/balance/deposit", &fields).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let checkout = created.location().to_owned();
    assert!(checkout.contains("/payment/mock?session_id="), "{checkout}");
    // The same form sent twice is one deposit.
    assert_eq!(web.post("/en/balance/deposit", &fields).await.location(), checkout);

    let page = web.get(&checkout).await;
    assert_eq!(page.status, 200);
    assert_page(&page, "checkout");
    assert!(page.body.contains("$25.50") && page.body.contains("Wallet top-up"), "{}", page.body);
    let session_id = hidden(&page.body, "session_id");
    let back = web.post("/payment/mock/complete", &[("session_id", &session_id), ("outcome", "success")]).await;
    assert_eq!(back.status, 303);
    assert_eq!(
        back.location(),
        format!("http://localhost:{}/en/balance/deposit/success?session_id={session_id}", app.addr.port())
    );
    let success = web.get(back.location()).await;
    assert_eq!(success.status, 200);
    assert!(success.body.contains("data-state=\"done\"") && success.body.contains("$25.50"), "{}", success.body);

    let balance = web.get("/en/balance").await;
    assert!(balance.body.contains("$25.50") && balance.body.contains("Top-up") && balance.body.contains("badge completed"));
    assert!(balance.body.contains("<polyline points="), "the chart is drawn");
    // Past the end: said so, with a link back to the last page with rows, and no "older" link.
    let beyond = web.get("/en/balance?page=99").await;
    assert!(beyond.body.contains("id=\"past-end\"") && beyond.body.contains("href=\"/en/balance?page=1\""), "{}", beyond.body);
    assert!(!beyond.body.contains("page=98") && !beyond.body.contains("rel=\"next\""), "{}", beyond.body);
    let serbian = web.get("/sr/balance").await;
    assert!(serbian.body.contains("Dopuna novčanika") && !serbian.body.contains("top-up"), "{}", serbian.body);
    assert_eq!(app.ledger_balance("wallet:buyer-7:USD").await, 2550);
    // A finished checkout is gone; an unknown one was never there.
    let finished = web.get(&checkout).await;
    assert_eq!(finished.status, 410);
    assert_page(&finished, "finished checkout");
    assert_eq!(web.get("/payment/mock?session_id=cs_mock_none").await.status, 404);
    app.assert_ledger_ok();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_deposit_comes_back_to_the_form_with_a_message() {
    let app = spawn_app(Db::Sqlite).await;
    let mut web = WebSession::new(&app);
    web.sign_in_as("buyer-8").await;
    let form = web.get("/sr/balance/deposit").await;
    let fields = [
        ("csrf", hidden(&form.body, "csrf")),
        ("idempotency_key", hidden(&form.body, "idempotency_key")),
        ("preset", "10".into()),
        ("currency", "EUR".into()),
        ("gateway", "mock".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let checkout = web.post("/sr/balance/deposit", &fields).await.location().to_owned();
    // The gateway's page speaks the wallet's language, and its cancel link goes back to the wallet.
    let page = web.get(&checkout).await;
    assert!(page.body.contains("<html lang=\"sr-Latn\">"), "{}", page.body);
    let cancel = page.body.split("id=\"cancel\">").nth(1).unwrap_or_default().split('<').next().unwrap_or_default();
    assert_eq!(cancel, "Otkaži i vrati se u novčanik");
    let session_id = hidden(&page.body, "session_id");
    let cancel_url = page.body.split("<a href=\"").find(|link| link.contains("error=payment_cancelled")).unwrap_or_default();
    let cancelled = web.get(&cancel_url.split('"').next().unwrap_or_default().replace("&#38;", "&")).await;
    assert!(
        cancelled.body.contains("id=\"payment-cancelled\"") && cancelled.body.contains("Otkazali ste plaćanje"),
        "{}",
        cancelled.body
    );
    assert!(!cancelled.body.contains("id=\"payment-failed\""));
    // Declined: the same way back, but the page says it failed.
    let back = web.post("/payment/mock/complete", &[("session_id", &session_id), ("outcome", "failure")]).await;
    assert!(back.location().contains("/sr/balance/deposit?error=payment_cancelled&session_id="), "{}", back.location());
    let again = web.get(back.location()).await;
    assert!(again.body.contains("id=\"payment-failed\"") && again.body.contains("Plaćanje nije prošlo"), "{}", again.body);
    assert_eq!(app.ledger_balance("wallet:buyer-8:EUR").await, 0);
    // A bad amount is named beside its field, and nothing is written.
    let before = app.row_counts().await;
    let form = web.get("/en/balance/deposit").await;
    let bad = web
        .post("/en/balance/deposit", &[("csrf", &hidden(&form.body, "csrf")), ("amount", "12.345"), ("currency", "USD")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"amount-error\""), "{}", bad.body);
    assert_eq!(app.row_counts().await, before);
    app.stop().await;
}

async fn a_withdrawal_refused_for_funds_shows_the_message_beside_the_amount(db: Db) {
    let app = spawn_app_with(db, &[("GATEWAYS_MOCK_PAYOUT_STEP", "50ms")]).await;
    app.top_up("saver", "5.00", "success").await;
    let mut web = WebSession::new(&app);
    web.sign_in_as("saver").await;
    let form = web.get("/en/balance/withdraw").await;
    let csrf = hidden(&form.body, "csrf");
    let key = hidden(&form.body, "idempotency_key");
    let refused = web
        .post(
            "/en/balance/withdraw",
            &[("csrf", &csrf), ("idempotency_key", &key), ("amount", "50.00"), ("currency", "USD"), ("description", "rent")],
        )
        .await;
    assert_eq!(refused.status, 400);
    let beside = refused.body.split("id=\"amount-error\"").nth(1).unwrap_or_default();
    assert!(beside.split("</p>").next().unwrap_or_default().contains("insufficient"), "{}", refused.body);
    assert_ne!(hidden(&refused.body, "idempotency_key"), key, "a refused form gets a new key");
    // In Serbian: the refusal's kind in Serbian, not the API's English.
    let serbian = web
        .post(
            "/sr/balance/withdraw",
            &[("csrf", &csrf), ("idempotency_key", &key), ("amount", "50.00"), ("currency", "USD"), ("description", "rent")],
        )
        .await;
    let beside = serbian.body.split("id=\"amount-error\"").nth(1).unwrap_or_default().split("</p>").next().unwrap_or_default();
    assert!(beside.contains("nedovoljno sredstava") && !beside.contains("insufficient"), "{}", serbian.body);
    let accepted = web
        .post(
            "/en/balance/withdraw",
            &[
                ("csrf", &csrf),
                ("idempotency_key", &hidden(&refused.body, "idempotency_key")),
                ("amount", "2.00"),
                ("currency", "USD"),
                ("description", "rent"),
            ],
        )
        .await;
    assert_eq!((accepted.status, accepted.location()), (303, "/en/balance?notice=withdrawal_requested"));
    let balance = web.get(accepted.location()).await;
    assert!(balance.body.contains("$3.00") && balance.body.contains("Withdrawal") && balance.body.contains("role=\"status\""));
    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing(db: Db) {
    let app = spawn_app(db).await;
    app.top_up("victim", "20.00", "success").await;
    let mut web = WebSession::new(&app);
    web.sign_in_as("victim").await;
    let before = app.row_counts().await;
    let wrong = "0".repeat(64);
    for csrf in ["", wrong.as_str()] {
        let withdraw = web
            .post("/en/balance/withdraw", &[("csrf", csrf), ("amount", "20.00"), ("currency", "USD"), ("description", "x")])
            .await;
        assert_eq!(withdraw.status, 403, "{}", withdraw.body);
        assert_page(&withdraw, "refused withdrawal");
        let deposit = web.post("/en/balance/deposit", &[("csrf", csrf), ("amount", "5.00"), ("currency", "USD")]).await;
        assert_eq!(deposit.status, 403);
    }
    assert_eq!(app.row_counts().await, before);
    assert_eq!(app.ledger_balance("wallet:victim:USD").await, 2000);
    // Sign-in and sign-out need the token too: a forged form cannot log a browser in or out.
    let mut stranger = WebSession::new(&app);
    let login = stranger.post("/login", &[("token", &crate::helpers::token("attacker", &[app::Role::User]))]).await;
    assert_eq!(login.status, 403);
    assert!(stranger.cookie("vp_session").is_none());
    assert_eq!(web.post("/logout", &[("csrf", "")]).await.status, 403);
    assert!(web.get("/en/balance").await.status == 200, "still signed in");
    let csrf = web.cookie("vp_csrf").unwrap_or_default().to_owned();
    assert_eq!(web.post("/logout", &[("csrf", &csrf)]).await.status, 303);
    assert_eq!(web.get("/en/balance").await.status, 303, "signed out");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signs_in_only_when_it_verifies() {
    let app = spawn_app(Db::Sqlite).await;
    let mut web = WebSession::new(&app);
    let login = web.get("/login?lang=ru&next=%2Fru%2Fbalance").await;
    let csrf = hidden(&login.body, "csrf");
    let forged =
        api::mint_hs256(b"another-secret-of-enough-length-000", "user-2", &[app::Role::User], chrono::Duration::hours(1))
            .unwrap();
    let refused = web.post("/login", &[("csrf", &csrf), ("lang", "ru"), ("token", &forged)]).await;
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("id=\"token-error\""), "{}", refused.body);
    assert!(refused.body.contains("подпись неверна") && !refused.body.contains("invalid token"), "{}", refused.body);
    assert!(web.cookie("vp_session").is_none());
    let secret = crate::helpers::JWT_SECRET.as_bytes();
    let expired = api::mint_hs256(secret, "user-2", &[app::Role::User], chrono::Duration::hours(-1)).unwrap();
    let late = web.post("/login", &[("csrf", &csrf), ("lang", "sr"), ("token", &expired)]).await;
    assert!(late.body.contains("istekao je") && !late.body.contains("(exp)"), "{}", late.body);
    let roleless = crate::helpers::token("user-2", &[]);
    let idle = web.post("/login", &[("csrf", &csrf), ("lang", "en"), ("token", &roleless)]).await;
    assert_eq!(idle.status, 401);
    assert!(idle.body.contains("grants no role"), "{}", idle.body);
    assert!(web.cookie("vp_session").is_none());
    let good = crate::helpers::token("user-2", &[app::Role::User]);
    let signed = web.post("/login", &[("csrf", &csrf), ("lang", "ru"), ("next", "/ru/balance"), ("token", &good)]).await;
    assert_eq!((signed.status, signed.location()), (303, "/ru/balance"));
    let balance = web.get("/ru/balance").await;
    assert!(balance.body.contains("user-2") && balance.body.contains("Кошелёк"));
    // Only a path of this site is followed after sign-in.
    let away = web.post("/login", &[("csrf", &csrf), ("next", "//evil.example/"), ("token", &good)]).await;
    assert_eq!(away.location(), "/en/balance");
    app.stop().await;
}
