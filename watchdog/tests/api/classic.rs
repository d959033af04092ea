//! Classic watchdog mode: fork per call, buffered, CGI environment.

use std::collections::HashMap;
use std::time::Duration;

use crate::helpers::{poll_until, process_exists, script, spawn_app};

fn env_lines(body: &str) -> HashMap<String, String> {
    body.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[actix_web::test]
async fn echoes_the_body_with_the_callers_content_type() {
    let app = spawn_app(&[("fprocess", "cat")]).await;
    let res = app
        .client
        .post(app.url("/"))
        .header("Content-Type", "application/json")
        .body(r#"{"hello":"world"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let seconds: f64 = res.headers()["x-duration-seconds"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(seconds > 0.0 && seconds < 10.0, "{seconds}");
    assert_eq!(res.text().await.unwrap(), r#"{"hello":"world"}"#);

    // No Content-Type anywhere: sniffed, as Go's ResponseWriter does.
    let res = app
        .client
        .post(app.url("/"))
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn the_cgi_environment_describes_the_request() {
    let app = spawn_app(&[("fprocess", "env")]).await;
    let res = app
        .client
        .put(app.url("/a/b%20c?x=1&y=%20z"))
        .header("X-Call-Id", "call-1")
        .header("User-Agent", "ironfaas-test")
        .body("12345")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let env = env_lines(&res.text().await.unwrap());
    let want = [
        ("Http_Method", "PUT".to_owned()),
        ("Http_Path", "/a/b c".to_owned()),
        ("Http_Query", "x=1&y=%20z".to_owned()),
        ("Http_X_Call_Id", "call-1".to_owned()),
        ("Http_User_Agent", "ironfaas-test".to_owned()),
        ("Http_Content_Length", "5".to_owned()),
        ("Http_ContentLength", "5".to_owned()),
        ("Http_Host", format!("127.0.0.1:{}", app.port)),
    ];
    for (name, value) in want {
        assert_eq!(env.get(name), Some(&value), "{name} in {env:?}");
    }
    // The watchdog's own environment passes through.
    assert!(env.contains_key("PATH"), "{env:?}");

    let res = app.client.get(app.url("/")).send().await.unwrap();
    let env = env_lines(&res.text().await.unwrap());
    assert_eq!(env.get("Http_Method").map(String::as_str), Some("GET"));
    assert_eq!(
        env.get("Http_Content_Length").map(String::as_str),
        Some("0")
    );
    assert_eq!(env.get("Http_Query"), None, "no query, no Http_Query");
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn methods_exits_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let failing = script(dir.path(), "fail.sh", "echo out; echo err >&2; exit 3");
    let app = spawn_app(&[("fprocess", &failing)]).await;

    let res = app.client.head(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 405, "HEAD is not a function method");
    assert!(res.headers().contains_key("x-duration-seconds"));

    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(res.text().await.unwrap(), "exit status 3\nout\nerr\n");
    app.stop().await.unwrap();

    // combine_output=false: stderr goes to the log, not the answer.
    let app = spawn_app(&[("fprocess", &failing), ("combine_output", "false")]).await;
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(res.text().await.unwrap(), "exit status 3\nout\n");
    app.stop().await.unwrap();

    let app = spawn_app(&[("fprocess", "/no/such/program")]).await;
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    let body = res.text().await.unwrap();
    assert!(body.contains("/no/such/program"), "{body}");
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn marshal_request_wraps_headers_and_body_in_json() {
    let app = spawn_app(&[("fprocess", "cat"), ("marshal_request", "true")]).await;
    let res = app
        .client
        .post(app.url("/"))
        .header("X-Test", "yes")
        .body("hi")
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["body"]["raw"], "aGk=");
    assert_eq!(json["header"]["X-Test"], serde_json::json!(["yes"]));
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn exec_timeout_kills_the_child_and_its_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    let body = format!("sleep 300 &\necho $! > {}\nsleep 300", pid_file.display());
    let slow = script(dir.path(), "slow.sh", &body);
    let app = spawn_app(&[("fprocess", &slow), ("exec_timeout", "500ms")]).await;

    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 408);
    assert_eq!(res.text().await.unwrap(), "Killed process.\n");

    let grandchild: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Gone entirely: killed with its group and reaped (the watchdog is its subreaper).
    poll_until(Duration::from_secs(5), || async move {
        match process_exists(grandchild) {
            None => Ok(()),
            Some(state) => Err(format!(
                "grandchild {grandchild} still there, state {state}"
            )),
        }
    })
    .await
    .unwrap();
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn write_timeout_bounds_a_call_without_exec_timeout() {
    let app = spawn_app(&[("fprocess", "sleep 300"), ("write_timeout", "300ms")]).await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 408);
    app.stop().await.unwrap();
}
