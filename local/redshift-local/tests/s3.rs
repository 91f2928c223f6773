//! The local S3 through the real `aws-sdk-s3` client: listings carry the ETag HEAD gives, several
//! roots are served at once (a bucket from the first that has it), a bucket folder may be a
//! symbolic link, and a scratch bucket takes writes.

use redshift_local::s3;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

struct Roots(PathBuf);

impl Drop for Roots {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// `data/real-data/...` (linked in as bucket `data-bucket`) and `scratch/work-bucket/`.
fn roots() -> Roots {
    let base = std::env::temp_dir().join(format!(
        "redshift-local-s3-roots-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    write(&base.join("real-data/log_data/a.json"), b"{\"a\": 1}\n");
    write(&base.join("real-data/log_data/b.json"), b"{\"b\": 22}\n");
    std::fs::create_dir_all(base.join("data")).unwrap();
    std::os::unix::fs::symlink(base.join("real-data"), base.join("data/data-bucket")).unwrap();
    std::fs::create_dir_all(base.join("scratch/work-bucket")).unwrap();
    Roots(base)
}

#[tokio::test]
async fn listings_carry_etags_and_each_bucket_comes_from_its_root() {
    let roots = roots();
    let server = s3::serve(
        &[roots.0.join("data"), roots.0.join("scratch")],
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let client = s3::client(&format!("http://{}", server.addr));

    let listed = client
        .list_objects_v2()
        .bucket("data-bucket")
        .prefix("log_data/")
        .send()
        .await
        .unwrap();
    let objects = listed.contents();
    assert_eq!(objects.len(), 2);
    for object in objects {
        let key = object.key().unwrap();
        let head = client
            .head_object()
            .bucket("data-bucket")
            .key(key)
            .send()
            .await
            .unwrap();
        assert!(object.e_tag().is_some(), "{key} listed without an ETag");
        assert_eq!(object.e_tag(), head.e_tag(), "{key}");
        assert_eq!(object.size(), head.content_length());
    }
    let etags: Vec<_> = objects.iter().map(|o| o.e_tag().unwrap()).collect();
    assert_ne!(etags[0], etags[1]);

    client
        .put_object()
        .bucket("work-bucket")
        .key("manifests/run-1/objects.json")
        .body(b"{\"x\": 1}".to_vec().into())
        .send()
        .await
        .unwrap();
    let back = client
        .get_object()
        .bucket("work-bucket")
        .key("manifests/run-1/objects.json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        back.body.collect().await.unwrap().into_bytes().as_ref(),
        b"{\"x\": 1}"
    );
    assert!(
        roots
            .0
            .join("scratch/work-bucket/manifests/run-1/objects.json")
            .is_file()
    );
    assert!(!roots.0.join("real-data/manifests").exists());

    let missing = client.list_objects_v2().bucket("no-bucket").send().await;
    assert!(missing.is_err());
    server.stop().await;
}
