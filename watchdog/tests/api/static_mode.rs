//! of-watchdog static mode.

use crate::helpers::{raw_http, spawn_app};

#[actix_web::test]
async fn serves_files_and_refuses_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("public");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(root.join("sub").join("file.txt"), "in sub").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "TOP SECRET").unwrap();
    let app = spawn_app(&[("mode", "static"), ("static_path", root.to_str().unwrap())]).await;

    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-duration-seconds"));
    assert_eq!(res.text().await.unwrap(), "<h1>home</h1>");
    let res = app
        .client
        .get(app.url("/sub/file.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(res.text().await.unwrap(), "in sub");
    let res = app.client.get(app.url("/sub/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text().await.unwrap().contains("file.txt"),
        "a directory listing"
    );
    let res = app.client.get(app.url("/missing")).send().await.unwrap();
    assert_eq!(res.status(), 404);

    for path in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
    ] {
        let answer = raw_http(
            app.port,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        let status = answer.split(' ').nth(1).unwrap_or("");
        assert!(status == "404" || status == "400", "{path}: {answer}");
        assert!(
            !answer.contains("TOP SECRET"),
            "{path} escaped the root: {answer}"
        );
    }
    app.stop().await.unwrap();
}
