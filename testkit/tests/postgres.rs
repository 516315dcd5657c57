//! The private PostgreSQL: it starts, and every fresh database has the schema and is independent of the others.

use sendjay_testkit::postgres;
use tokio_postgres::{Client, NoTls};

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    tokio::spawn(connection);
    client
}

async fn table_exists(client: &Client, table: &str) -> bool {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn server_is_private_and_answers() {
    let pg = postgres().await;
    assert_ne!(
        pg.port(),
        5432,
        "must never be the machine's own PostgreSQL"
    );
    let client = connect(&pg.url("postgres")).await;
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!version.is_empty());
    let data_dir: String = client
        .query_one("SHOW data_directory", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        std::path::Path::new(&data_dir).starts_with(pg.dir()),
        "data directory {data_dir} must be inside {}",
        pg.dir().display()
    );
    let fsync: String = client.query_one("SHOW fsync", &[]).await.unwrap().get(0);
    assert_eq!(fsync, "off");
    let max: String = client
        .query_one("SHOW max_connections", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(max, "300");
}

#[tokio::test]
async fn fresh_database_has_the_schema() {
    let pg = postgres().await;
    let url = pg.fresh_database().await;
    let client = connect(&url).await;
    for table in ["messages", "users", "rooms", "room_members", "org_units"] {
        assert!(
            table_exists(&client, table).await,
            "table {table} missing in {url}"
        );
    }
    assert!(sendjay_common::migrate::is_current(&client).await.unwrap());
}

#[tokio::test]
async fn fresh_databases_are_independent() {
    let pg = postgres().await;
    let (url_a, url_b) = tokio::join!(pg.fresh_database(), pg.fresh_database());
    assert_ne!(url_a, url_b);
    let a = connect(&url_a).await;
    let b = connect(&url_b).await;
    a.batch_execute("CREATE TABLE only_in_a (x int); INSERT INTO only_in_a VALUES (1)")
        .await
        .unwrap();
    assert!(table_exists(&a, "only_in_a").await);
    assert!(
        !table_exists(&b, "only_in_a").await,
        "a change in one fresh database leaked into another"
    );
    // And nothing leaked back into the template: a third database is clean as well.
    let c = connect(&pg.fresh_database().await).await;
    assert!(!table_exists(&c, "only_in_a").await);
}

#[tokio::test]
async fn many_fresh_databases_concurrently() {
    let pg = postgres().await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        tasks.push(tokio::spawn(async move { pg.fresh_database().await }));
    }
    let mut urls = Vec::new();
    for task in tasks {
        urls.push(task.await.unwrap());
    }
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len(), 8);
}
