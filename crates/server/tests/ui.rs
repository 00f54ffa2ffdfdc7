//! The web UI over real sockets: pages and assets, and the UI gateway with every credential
//! configured (an API key, AWS key pairs, Rollbar project tokens) — the UI's one token opens
//! every protocol's API through `/ui/api/…`, nothing opens without it, and the gateway's
//! trust cannot be claimed by a client talking to the APIs directly.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::sync::Arc;

use protocols::aws::Credentials;
use protocols::rollbar::Projects;
use store::{DuckStore, Store};
use waggle_server::aws::AwsAuth;
use waggle_server::rollbar::RollbarConfig;
use waggle_server::{ApiKeys, Pipeline, Server, ServerConfig, UiConfig};

const KEY: &str = "ui-test-key";

async fn start() -> (String, tokio::sync::oneshot::Sender<()>) {
    let store: Arc<dyn Store> = Arc::new(DuckStore::open_in_memory().unwrap());
    let (pipeline, _writer) = Pipeline::start(store.clone());
    let any = "127.0.0.1:0".parse().unwrap();
    let aws = AwsAuth {
        credentials: Some(Arc::new(
            Credentials::parse("AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY").unwrap(),
        )),
        region: None,
    };
    let server = Server::bind(
        ServerConfig {
            api_keys: ApiKeys::new([KEY]).unwrap(),
            xray: Some(waggle_server::xray::XrayConfig {
                daemon_addr: any,
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
                auth: aws.clone(),
            }),
            cloudwatch_logs: Some(waggle_server::cloudwatch_logs::LogsConfig {
                account_id: "123456789012".into(),
                region: "us-east-1".into(),
                auth: aws,
            }),
            ui: UiConfig::default(),
            rollbar: RollbarConfig {
                projects: Arc::new(Projects::parse("web:tok-web:read,other:tok-other").unwrap()),
                ..RollbarConfig::default()
            },
            ..ServerConfig::loopback()
        },
        store,
        pipeline,
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.http_addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    (base, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_assets_are_served_with_a_strict_policy() {
    let (base, _stop) = start().await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/");
    for page in [
        "/ui/",
        "/ui/query",
        "/ui/traces",
        "/ui/trace/abc",
        "/ui/map",
        "/ui/errors",
        "/ui/item/3",
        "/ui/logs",
        "/ui/xray",
    ] {
        let r = c.get(format!("{base}{page}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{page}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("\"token_required\":true"),
            "{page}: the shell must ask for the token"
        );
    }
    assert_eq!(
        c.get(format!("{base}/ui/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    for asset in ["js/core.js", "js/chart.js", "app.css", "css/query.css"] {
        let r = c
            .get(format!("{base}/ui/assets/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{asset}");
    }
    for bad in ["../Cargo.toml", "js/../../src/lib.rs", "nope.js"] {
        let r = c
            .get(format!("{base}/ui/assets/{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_token_opens_every_protocol_and_nothing_opens_without_it() {
    let (base, _stop) = start().await;
    let c = reqwest::Client::new();
    let bearer = format!("Bearer {KEY}");
    // (method, gateway path, extra headers, body)
    let xray = ("POST", "/ui/api/Groups", vec![], "{}");
    let logs = (
        "POST",
        "/ui/api/",
        vec![
            ("x-amz-target", "Logs_20140328.DescribeLogGroups"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        "{}",
    );
    let rollbar = (
        "GET",
        "/ui/api/api/1/items",
        vec![("x-waggle-project", "other")],
        "",
    );
    let honeycomb = ("GET", "/ui/api/1/datasets", vec![], "");
    for (method, path, headers, body) in [xray, logs, rollbar, honeycomb] {
        let send = |auth: Option<&str>| {
            let mut rb = c
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .body(body);
            for (k, v) in &headers {
                rb = rb.header(*k, *v);
            }
            if let Some(a) = auth {
                rb = rb.header("authorization", a);
            }
            rb.send()
        };
        let ok = send(Some(&bearer)).await.unwrap();
        let status = ok.status();
        let text = ok.text().await.unwrap();
        assert_eq!(status, 200, "{path} with the UI token: {text}");
        for wrong in [None, Some("Bearer nope")] {
            assert_eq!(
                send(wrong).await.unwrap().status(),
                401,
                "{path} with {wrong:?}"
            );
        }
    }
    // Rollbar through the gateway reads the named project; an unknown one is refused.
    let r = c
        .get(format!("{base}/ui/api/api/1/items"))
        .header("authorization", &bearer)
        .header("x-waggle-project", "ghost")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateways_trust_cannot_be_claimed_directly() {
    let (base, _stop) = start().await;
    let c = reqwest::Client::new();
    // Unsigned X-Ray and Logs calls straight to the APIs are refused with credentials set,
    // whatever the request claims.
    let r = c
        .post(format!("{base}/Groups"))
        .header("x-waggle-ui-grant", "guess")
        .header("authorization", format!("Bearer {KEY}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_ne!(r.status(), 200);
    // Rollbar with a forged grant and no token: refused.
    let r = c
        .get(format!("{base}/api/1/items"))
        .header("x-waggle-ui-grant", "0".repeat(64))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // The gateway does not forward to itself.
    let r = c
        .get(format!("{base}/ui/api/ui/api/1/datasets"))
        .header("authorization", format!("Bearer {KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
