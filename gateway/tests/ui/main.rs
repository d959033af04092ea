//! The web UI end to end: headless Chromium (WebDriver) drives `/ui/` of an in-process gateway
//! in front of provider-swarm on the real Docker engine.
//!
//! The browser's gateway runs with `basic_auth=false`: Chromium refuses `user:pass@` URLs for
//! the page's own requests (fetch rejects a URL with credentials) and headless Chromium has no
//! login prompt. That `/ui/` and its files require the credentials is checked with a plain HTTP
//! client against a second gateway, with `basic_auth=true`, over the same provider.

mod helpers;
mod lifecycle;

use fantoccini::Locator;
use helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_invoke_scale_and_delete_through_the_ui() {
    let stack = spawn_stack().await;
    let http = reqwest::Client::new();

    // Behind basic auth: the page and its modules.
    for path in ["/ui/", "/ui/app.js"] {
        let url = format!("{}{path}", stack.gateway_with_auth);
        let res = http.get(&url).send().await.expect("gateway answers");
        assert_eq!(res.status(), 401, "{path} without credentials");
        let res = http
            .get(&url)
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .expect("gateway answers");
        assert_eq!(res.status(), 200, "{path} with credentials");
        assert!(res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-cache"));
    }

    let (_driver, client) = browser(1280, 1000).await;
    client
        .goto(&format!("{}/ui/", stack.gateway))
        .await
        .expect("open /ui/");
    wait_text(&client, "h1", "Functions").await;
    screenshot(&client, "01-list-empty").await;

    // An invalid name: the API's message appears next to the name field.
    click(&client, "#deploy-link").await;
    wait_text(&client, "h1", "Deploy a function").await;
    fill(&client, "#f-name", "Bad").await;
    fill(&client, "#f-image", &stack.image).await;
    click(&client, "#deploy-submit").await;
    let message = wait_text(&client, "#f-name-error", "service").await;
    assert!(message.contains("Bad"), "{message}");
    screenshot(&client, "02-deploy-invalid-name").await;

    let name = stack.resources.name("ui");
    fill(&client, "#f-name", &name).await;
    fill(&client, "#f-labels", "com.openfaas.scale.min=1\nteam=ui").await;
    fill(&client, "#f-env", "GREETING=hi").await;
    click(&client, "#deploy-submit").await;
    wait_text(&client, "#fn-title", &name).await;

    // The list shows it with a ready replica.
    client
        .goto(&format!("{}/ui/#/", stack.gateway))
        .await
        .expect("open the list");
    let row = format!("tr[data-function=\"{name}\"] .replicas");
    wait_text(&client, &row, "1 / 1").await;
    screenshot(&client, "03-list-ready").await;

    // Invoke from the function's page.
    click(&client, &format!("tr[data-function=\"{name}\"] a")).await;
    wait_text(&client, "#fn-replicas", "1 ready").await;
    wait_text(&client, "#fn-logs", "").await;
    fill(&client, "#invoke-body", "from the browser").await;
    click(&client, "#invoke-send").await;
    wait_text(&client, "#invoke-output", "hello from the browser").await;
    wait_text(&client, "#invoke-status", "200").await;
    assert!(
        text(&client, "#invoke-call-id").await.is_some(),
        "no call id shown"
    );
    screenshot(&client, "04-function-invoked").await;

    // Scale to 2, confirming in the dialog.
    fill(&client, "#scale-replicas", "2").await;
    click(&client, "#scale-submit").await;
    wait_text(&client, "#confirm-text", "2 replica").await;
    screenshot(&client, "05-scale-confirm").await;
    click(&client, "#confirm-ok").await;
    wait_text(&client, "#fn-replicas", "2 ready / 2 desired").await;
    screenshot(&client, "06-function-scaled").await;

    // The phone layout of the same page.
    client
        .set_window_size(390, 844)
        .await
        .expect("resize the window");
    screenshot(&client, "07-function-phone").await;
    client
        .set_window_size(1280, 1000)
        .await
        .expect("resize the window");

    // Delete: cancelling keeps it, confirming removes it.
    click(&client, "#delete-button").await;
    wait_text(&client, "#confirm-text", "Delete").await;
    click(&client, "#confirm-cancel").await;
    wait_text(&client, "#fn-title", &name).await;
    click(&client, "#delete-button").await;
    wait_text(&client, "#confirm-text", "Delete").await;
    click(&client, "#confirm-ok").await;
    wait_text(&client, "h1", "Functions").await;
    wait_gone(&client, &row).await;
    screenshot(&client, "08-list-deleted").await;
    let gone = http
        .get(format!("{}/system/function/{name}", stack.gateway))
        .send()
        .await
        .expect("gateway answers");
    assert_eq!(gone.status(), 404);
    assert!(client.find(Locator::Css("#functions")).await.is_ok());

    client.close().await.expect("close the session");
}
