//! A real nats-server with JetStream: clients connect, streams survive a restart, drop cleans.

use async_nats::jetstream::{self, stream};
use e2e::nats::NatsServer;

#[tokio::test]
async fn jetstream_survives_stop_and_restart_and_drop_removes_the_store() {
    let mut nats = NatsServer::start().await;
    let port = nats.port();
    let client = async_nats::connect(nats.url())
        .await
        .expect("a client connects");
    let js = jetstream::new(client);
    js.create_stream(stream::Config {
        name: "E2E".to_owned(),
        subjects: vec!["e2e.>".to_owned()],
        ..Default::default()
    })
    .await
    .expect("a stream is created");
    js.publish("e2e.hello", "hi".into())
        .await
        .expect("the publish is sent")
        .await
        .expect("JetStream acknowledges the message");
    let store = nats.store_dir();
    assert!(
        store.join("jetstream").is_dir(),
        "the store is in {}",
        store.display()
    );

    nats.stop().await;
    assert!(!nats.is_running());
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "nothing listens on {port} once stopped"
    );
    nats.restart().await;

    assert_eq!(nats.port(), port, "same port after restart");
    let client = async_nats::connect(nats.url())
        .await
        .expect("a client connects again");
    let mut stream = jetstream::new(client)
        .get_stream("E2E")
        .await
        .expect("the stream survived");
    let info = stream.info().await.expect("stream info");
    assert_eq!(info.state.messages, 1, "the message survived");
    drop(nats);
    assert!(!store.exists(), "{} is removed on drop", store.display());
}

#[tokio::test]
async fn servers_started_together_get_their_own_ports_and_stores() {
    let (a, b) = tokio::join!(NatsServer::start(), NatsServer::start());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.store_dir(), b.store_dir());
}
