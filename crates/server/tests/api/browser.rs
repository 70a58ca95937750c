//! The wallet in a real headless Chromium, driven over WebDriver (fantoccini and
//! Debian's chromedriver): sign in, a deposit paid on the mock gateway's page,
//! a declined one, a withdrawal refused for funds, a form without its CSRF token;
//! the operator console refunding part of a payment and releasing an escrow; the
//! example shop's buy → pay → deliver → the vendor's transfer.
//! A screenshot of each page is saved under `$CARGO_TARGET_TMPDIR/screenshots/`.
//! SQLite only, one browser at a time.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use app::Role;
use fantoccini::{Client, ClientBuilder, Locator};

use crate::helpers::{Db, TestApp, eventually, spawn_app, token};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];
const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);
/// One browser at a time: two cores do not run two Chromiums and the service well.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Browser {
    client: Client,
    driver: Child,
    profile: PathBuf,
    /// `http://localhost:{port}`: the service's public URL, so the gateway sends
    /// the browser back to the origin its cookies belong to.
    base: String,
}

impl Browser {
    async fn start(app: &TestApp) -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: the browser tests need Debian's chromium and chromium-driver; run ./scripts/test, which installs them"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            // Its own process group, which the Chromium it starts joins: see `Drop`.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = std::env::temp_dir().join(format!("vondipayment-chromium-{}", uuid::Uuid::new_v4().simple()));
        let mut args: Vec<String> = FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), serde_json::json!({"binary": CHROMIUM, "args": args}));
        let url = format!("http://127.0.0.1:{port}");
        let client = eventually("chromedriver to start a session", || {
            let (capabilities, url) = (capabilities.clone(), url.clone());
            async move {
                let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                ClientBuilder::new(connector).capabilities(capabilities).connect(&url).await.ok()
            }
        })
        .await;
        Self { client, driver, profile, base: format!("http://localhost:{}", app.addr.port()) }
    }

    async fn open(&self, path: &str) {
        self.visit(&format!("{}{path}", self.base)).await;
    }

    /// A page of another site (the example shop).
    async fn visit(&self, url: &str) {
        self.client.goto(url).await.expect("page opens");
    }

    /// Read again when the element went stale: the live refresh may replace it.
    async fn text(&self, css: &str) -> String {
        eventually(&format!("the text of {css}"), || async { self.element(css).await.text().await.ok() }).await
    }

    /// Waits for `css` (a page may still be loading after a click).
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(60))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    async fn fill(&self, css: &str, text: &str) {
        self.element(css).await.send_keys(text).await.expect("typing");
    }

    /// Every click here submits a form or follows a link: wait until the next page
    /// has replaced this one (the old root goes stale), so that what is read next
    /// is never the old page's element of the same id.
    async fn click(&self, css: &str) {
        let old_page = self.client.find(Locator::Css("html")).await.expect("the page's root");
        self.element(css).await.click().await.expect("click");
        eventually(&format!("the page after clicking {css}"), || async { old_page.tag_name().await.is_err().then_some(()) })
            .await;
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        format!("{}{}", url.path(), url.query().map(|q| format!("?{q}")).unwrap_or_default())
    }

    /// Saves the page at desktop and phone widths.
    async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        for (suffix, (width, height)) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.client.set_window_size(width, height).await.expect("window size");
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::write(dir.join(format!("{name}-{suffix}.png")), png).expect("write screenshot");
        }
        self.client.set_window_size(DESKTOP.0, DESKTOP.1).await.expect("window size");
    }

    async fn sign_in(&self, user: &str) {
        self.open("/login").await;
        self.screenshot("login").await;
        self.fill("#token", &token(user, &[Role::User])).await;
        self.click("form[action='/login'] button[type=submit]").await;
        eventually("the wallet after sign-in", || async { (self.path().await == "/en/balance").then_some(()) }).await;
    }

    /// Ends the WebDriver session (Chromium quits); `Drop` does the rest.
    async fn quit(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Also after a failed assertion: chromedriver and its Chromium are killed by
    /// their process group, so no browser outlives its test.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_tops_up_and_withdraws_in_a_real_browser() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app(Db::Sqlite).await;
    let browser = Browser::start(&app).await;
    browser.open("/").await;
    browser.screenshot("home").await;
    browser.sign_in("shopper").await;
    browser.screenshot("balance-empty").await;

    // A deposit paid on the gateway's page.
    browser.open("/en/balance/deposit").await;
    browser.screenshot("deposit").await;
    browser.fill("#amount", "25.50").await;
    browser.click("form[action='/en/balance/deposit'] button[type=submit]").await;
    assert_eq!(browser.text("#amount").await, "$25.50");
    browser.screenshot("checkout").await;
    browser.click("#pay").await;
    let credited = browser.text("#deposit-result[data-state=done] .amount").await;
    assert_eq!(credited, "$25.50");
    browser.screenshot("deposit-success").await;
    browser.open("/en/balance").await;
    assert_eq!(browser.text(".balance .amount").await, "$25.50");
    let row = browser.text(".history tbody tr").await;
    assert!(row.contains("Top-up") && row.contains("+$25.50") && row.contains("Completed"), "{row}");
    browser.screenshot("balance").await;

    // A declined payment comes back to the form with a message, and credits nothing.
    browser.open("/en/balance/deposit").await;
    browser.click("form[action='/en/balance/deposit'] button[type=submit]").await;
    browser.click("#decline").await;
    assert!(browser.text("#payment-failed").await.contains("did not go through"));
    assert!(browser.path().await.starts_with("/en/balance/deposit?error=payment_cancelled&session_id="));
    browser.screenshot("deposit-failed").await;
    assert_eq!(app.ledger_balance("wallet:shopper:USD").await, 2550);

    // A withdrawal beyond the balance: the API's message beside the amount.
    browser.open("/en/balance/withdraw").await;
    browser.fill("#amount", "100.00").await;
    browser.fill("#description", "rent").await;
    browser.click("form[action='/en/balance/withdraw'] button[type=submit]").await;
    assert!(browser.text("#amount-error").await.contains("insufficient"));
    let beside = browser.client.execute("return document.getElementById('amount').nextElementSibling.id", vec![]).await;
    assert_eq!(beside.expect("script").as_str(), Some("amount-error"));
    browser.screenshot("withdraw-refused").await;

    browser.open("/ru/balance").await;
    assert!(browser.text(".balance .amount").await.contains("25,50"));
    browser.screenshot("balance-ru").await;
    browser.open("/sr/balance/deposit").await;
    browser.screenshot("deposit-sr").await;
    browser.quit().await;
    app.assert_ledger_ok();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_is_refused_in_a_real_browser() {
    let _one = ONE_BROWSER.lock().await;
    let app = spawn_app(Db::Sqlite).await;
    app.top_up("keeper", "10.00", "success").await;
    let browser = Browser::start(&app).await;
    browser.sign_in("keeper").await;
    browser.open("/en/balance/withdraw").await;
    browser.fill("#amount", "10.00").await;
    browser.fill("#description", "forged").await;
    let before = app.row_counts().await;
    // What a forged form from another page would send: no token.
    let forge = "document.querySelector(\"form[action='/en/balance/withdraw'] input[name=csrf]\").remove()";
    browser.client.execute(forge, vec![]).await.expect("script");
    browser.click("form[action='/en/balance/withdraw'] button[type=submit]").await;
    assert!(browser.text("[role=alert]").await.contains("did not come from this site"));
    browser.screenshot("csrf-refused").await;
    assert_eq!(app.row_counts().await, before);
    assert_eq!(app.ledger_balance("wallet:keeper:USD").await, 1000);
    browser.quit().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_refunds_part_of_a_payment_and_releases_an_escrow_in_a_real_browser() {
    let _one = ONE_BROWSER.lock().await;
    let app = crate::marketplace::spawn_marketplace(Db::Sqlite).await;
    let (_, escrowed, plain) = crate::console::orders(&app).await;
    let browser = Browser::start(&app).await;
    browser.open("/en/admin").await;
    browser.fill("#token", &token("ops", &[Role::Admin])).await;
    browser.click("form[action='/login'] button[type=submit]").await;
    eventually("the console after sign-in", || async { (browser.path().await == "/en/admin").then_some(()) }).await;
    browser.screenshot("console-payments").await;

    browser.click(&format!("a[href='/en/admin/payments/{plain}']")).await;
    browser.fill("#amount", "20.00").await;
    browser.fill("#reason", "damaged").await;
    browser.screenshot("console-payment").await;
    browser.click("#refund-submit").await;
    assert_eq!(browser.text("[role=status]").await, "The refund was made.");
    assert_eq!(browser.text(".refunded").await, "$20.00");
    browser.screenshot("console-refunded").await;

    browser.open(&format!("/sr/admin/payments/{escrowed}")).await;
    browser.click("#release-submit").await;
    // The notice is only on the page after the release: the status is read there.
    assert_eq!(browser.text("[role=status]").await, "Eskrou je isplaćen prodavcu.");
    assert_eq!(browser.text("#escrow-status").await, "Isplaćeno");
    browser.screenshot("console-released-sr").await;
    assert_eq!(app.get_payment(&token("ops", &[Role::Admin]), &plain).await.expect("payment").refunded_amount, "20.00");
    browser.quit().await;
    app.assert_ledger_ok();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_buys_pays_and_marks_delivered_in_the_shop_and_the_vendor_is_paid_in_a_real_browser() {
    let _one = ONE_BROWSER.lock().await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/demo.json");
    let app = crate::helpers::spawn_app_with(Db::Sqlite, &[("FIXTURES_ENABLED", "true"), ("FIXTURES_PATH", fixtures)]).await;
    let service_url = format!("http://127.0.0.1:{}", app.addr.port());
    let vars: std::collections::BTreeMap<String, String> = [
        ("SHOP_PORT", "0"),
        ("SHOP_SERVICE_URL", service_url.as_str()),
        ("SHOP_JWT_SECRET", crate::helpers::JWT_SECRET),
        ("SHOP_CATALOGUE_PATH", fixtures),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let shop = shop::start(shop::Config::from_vars(&vars).expect("shop config")).await.expect("the shop starts");
    let browser = Browser::start(&app).await;

    browser.visit(&format!("{}/", shop.public_url)).await;
    browser.screenshot("shop-catalogue").await;
    browser.click("button[aria-label='Buy Programming in Rust (print)']").await;
    // The service's mock page names the vendor, not its account id.
    assert_eq!(browser.text("#merchant").await, "Libris Books");
    assert_eq!(browser.text("#amount").await, "$39.90");
    browser.screenshot("shop-checkout").await;
    browser.click("#pay").await;
    assert_eq!(browser.text("#status").await, "paid");
    assert!(browser.text("#escrow").await.starts_with("held until"));
    browser.screenshot("shop-order").await;
    browser.click("form[action$='/deliver'] button[type=submit]").await;
    assert_eq!(browser.text("#escrow").await, "delivered: released to the vendor");
    assert_eq!(browser.text("#vendor-transfer").await, "35.91 USD", "39.90 less the vendor's 10 % rule");
    browser.screenshot("shop-delivered").await;
    browser.visit(&format!("{}/operator", shop.public_url)).await;
    assert!(browser.text("#acting-as").await.contains("acts as the platform"));
    browser.screenshot("shop-operator").await;
    browser.quit().await;
    shop.shutdown().await;
    app.assert_ledger_ok();
    app.stop().await;
}
