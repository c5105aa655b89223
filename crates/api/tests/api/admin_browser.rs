//! The admin panel in a real browser: headless Chromium driven over WebDriver by
//! fantoccini. Runs when `CHAT_API_TEST_BROWSER` is set (`.ci/run` sets it and installs Debian's
//! `chromium` and `chromium-driver`), otherwise skips visibly (and fails under
//! `CHAT_API_TEST_REQUIRE_ALL=1`).

use std::{
    net::{TcpListener, TcpStream},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use test_support::Backend;

use crate::{
    admin::{ADMIN_PASSWORD, create_superuser},
    helpers::*,
};

/// Set to run browser tests.
const BROWSER_VAR: &str = "CHAT_API_TEST_BROWSER";

/// chromedriver, started in its own process group so that dropping the guard (also on a test
/// panic) kills it and the Chromium it launched.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    fn start() -> Self {
        let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("chromedriver not found: apt-get install chromium chromium-driver");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let guard = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        guard
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browser processes it spawned.
        let _kill_group = Command::new("kill")
            .args(["-KILL", &format!("-{}", self.child.id())])
            .status();
        let _kill = self.child.kill();
        let _reap = self.child.wait();
    }
}

async fn browser(driver: &Chromedriver, profile: &tempfile::TempDir) -> Client {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("chromium not found: apt-get install chromium");
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--disable-extensions", "--disable-breakpad",
                "--disable-domain-reliability", "--disable-client-side-phishing-detection",
                "--no-default-browser-check", "--window-size=1280,1100",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("WebDriver session")
}

/// Pages change under the driver after a click or submit, so every lookup waits (up to 10 s) for
/// its element instead of failing on the previous page.
async fn element(client: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(locator)
        .await
        .unwrap()
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = element(client, Locator::Css(css)).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Waits (up to 10 s) until the browser's URL satisfies `done`, so the next lookup reads the new
/// page rather than the one a submit is leaving.
async fn url_until(client: &Client, done: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = client.current_url().await.unwrap();
        if done(url.as_str()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the browser never reached the expected page: {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Anonymous visitors end up on the login form.
async fn assert_on_login_page(client: &Client) {
    let url = client.current_url().await.unwrap();
    assert!(url.path().ends_with("/admin/login/"), "{url}");
}

async fn click(client: &Client, locator: Locator<'_>) {
    element(client, locator).await.click().await.unwrap();
}

/// The text of the element matching `css`, polling (up to 10 s) until it satisfies `done`: pages
/// change under the driver after clicks, so an element read too early may be stale or absent.
async fn text_until(client: &Client, css: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.ok(),
            Err(_) => None,
        };
        match text {
            Some(text) if done(&text) => return text,
            last if Instant::now() >= deadline => {
                panic!("{css}: gave up waiting, last text {last:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits until the element matching `css` shows exactly `expected`.
async fn wait_text(client: &Client, css: &str, expected: &str) {
    text_until(client, css, |text| text == expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superuser_finds_a_user_credits_tokens_and_logs_out_in_a_real_browser() {
    if std::env::var_os(BROWSER_VAR).is_none() {
        test_support::skip(
            "admin_browser::a_superuser_finds_a_user_credits_tokens_and_logs_out_in_a_real_browser",
            &format!("{BROWSER_VAR} is not set"),
        );
        return;
    }
    // A wedged browser must fail the test, not hang the suite.
    tokio::time::timeout(Duration::from_secs(180), browser_scenario())
        .await
        .expect("the browser scenario finishes within 3 minutes");
}

/// Log in, find a user, credit 500 tokens, check balance and ledger, open the chats, log out.
async fn browser_scenario() {
    let app = spawn_app(Backend::Sqlite).await;
    let user = app.signed_up("browser_user").await;
    app.signed_up("someone_else").await;
    assert_eq!(
        app.chat(&user.access, "What is the admin panel for?")
            .await
            .status(),
        reqwest::StatusCode::OK
    );
    create_superuser(&app, "root").await;

    let driver = Chromedriver::start();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, &profile).await;

    client.goto(&app.url("/admin/")).await.unwrap();
    assert_on_login_page(&client).await;
    fill(&client, "#username", "root").await;
    fill(&client, "#password", ADMIN_PASSWORD).await;
    click(&client, Locator::Css("#login")).await;
    wait_text(&client, "#total-users", "3").await;

    click(&client, Locator::LinkText("Users")).await;
    fill(&client, "#search", "browser").await;
    click(&client, Locator::Css("#search-submit")).await;
    url_until(&client, |url| url.contains("q=browser")).await;
    click(&client, Locator::LinkText("browser_user")).await;
    wait_text(&client, "#balance", "3900").await; // 4000 granted, one chat

    fill(&client, "#amount", "500").await;
    fill(&client, "#reason", "Browser test credit").await;
    click(&client, Locator::Css("#adjust")).await;
    wait_text(&client, "#notice", "Tokens credited.").await;
    wait_text(&client, "#balance", "4400").await;
    let ledger = text_until(&client, "#ledger tbody tr:first-child", |t| {
        t.contains("+500")
    })
    .await;
    assert!(
        ledger.contains("Browser test credit")
            && ledger.contains("+500")
            && ledger.contains("root"),
        "{ledger}"
    );
    let screenshot = client.screenshot().await.unwrap();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("admin-user-page.png");
    std::fs::write(&path, &screenshot).unwrap();
    println!("screenshot of the user page: {}", path.display());

    click(&client, Locator::LinkText("Chats")).await;
    let chats = text_until(&client, "#chat-list", |t| t.contains("What is")).await;
    assert!(chats.contains("What is the admin panel for?"), "{chats}");

    click(&client, Locator::Css("#logout")).await;
    client
        .wait()
        .for_element(Locator::Css("#login"))
        .await
        .unwrap();
    client.goto(&app.url("/admin/users/")).await.unwrap();
    assert_on_login_page(&client).await;
    client.close().await.unwrap();
    drop(driver);
    assert_eq!(app.balance(&user.access).await, 4400);
    app.assert_ledger_consistent().await;
}
