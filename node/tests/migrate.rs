//! Migrations are safe when several nodes start at the same moment.

use sendjay_common::migrate::{self, MIGRATIONS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_each_step_once() {
    let pg = sendjay_testkit::postgres().await;
    let name = format!("sendjay_empty_{}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&pg.url("postgres"), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
        .await
        .unwrap();
    let url = pg.url(&name);
    let mut runs = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        runs.push(tokio::spawn(async move {
            let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            migrate::migrate(&mut client)
                .await
                .map(|applied| applied.len())
        }));
    }
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await.unwrap().expect("every concurrent run succeeds"));
    }
    applied.sort();
    assert_eq!(
        applied.iter().sum::<usize>(),
        MIGRATIONS.len(),
        "each migration applied exactly once: {applied:?}"
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    assert!(migrate::is_current(&client).await.unwrap());
    let rows: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, MIGRATIONS.len());
}
