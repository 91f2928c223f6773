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

/// Every key once, in order, across pages, as S3 lists them: ListObjectsV2's paginator over
/// 2,345 objects in nested folders gives pages of 1,000, 1,000 and 345; MaxKeys, StartAfter and a
/// prefix that ends inside a folder name are honoured. A listing's pages come from the snapshot
/// its first page took (where S3 reads each page live): a key that lands during a paginated
/// listing is in the next listing.
#[tokio::test]
async fn a_paginated_listing_gives_every_key_once_in_order() {
    let roots = roots();
    let bucket = roots.0.join("scratch/work-bucket");
    let mut expected = Vec::new();
    for folder in ["A/A", "A/B", "B/A"] {
        for n in 0..781 + usize::from(folder == "A/A") * 2 {
            let key = format!("song_data/{folder}/TR{n:05}.json");
            write(&bucket.join(&key), format!("{{\"n\": {n}}}").as_bytes());
            expected.push(key);
        }
    }
    write(&bucket.join("log_data/2018/11/x.json"), b"{}");
    expected.sort();
    assert_eq!(expected.len(), 2345);
    let server = s3::serve(
        &[roots.0.join("scratch")],
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let client = s3::client(&format!("http://{}", server.addr));

    let mut pages = client
        .list_objects_v2()
        .bucket("work-bucket")
        .prefix("song_data/")
        .into_paginator()
        .send();
    let mut listed = Vec::new();
    let mut sizes = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        sizes.push(page.key_count().unwrap());
        if sizes.len() == 1 {
            // Lands after the first page was read, under a key the third page covers.
            write(&bucket.join("song_data/B/A/TR00001a.json"), b"{}");
        }
        for object in page.contents() {
            assert!(object.e_tag().is_some());
            listed.push(object.key().unwrap().to_owned());
        }
    }
    assert_eq!(sizes, [1000, 1000, 345]);
    assert_eq!(listed, expected);

    let again = client
        .list_objects_v2()
        .bucket("work-bucket")
        .prefix("song_data/B/A/TR0000")
        .max_keys(3)
        .start_after("song_data/B/A/TR00001.json")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = again.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "song_data/B/A/TR00001a.json",
            "song_data/B/A/TR00002.json",
            "song_data/B/A/TR00003.json"
        ]
    );
    assert_eq!(again.is_truncated(), Some(true));
    let stale = client
        .list_objects_v2()
        .bucket("work-bucket")
        .continuation_token("not-a-token")
        .send()
        .await;
    assert!(stale.is_err(), "a malformed token must be refused");
    server.stop().await;
}

/// Every path stays inside its bucket's folder: a key or a prefix with a `..` segment, or one
/// that starts at `/`, would name a file of another bucket or of the machine, so it is refused
/// (400 InvalidArgument) by ListObjectsV2 (prefix, StartAfter, with a delimiter or without),
/// GET, HEAD, PUT and DELETE; nothing outside the bucket is listed, read, written or removed.
#[tokio::test]
async fn keys_and_prefixes_stay_inside_their_bucket() {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let roots = roots();
    let served = roots.0.join("served");
    write(&served.join("home-bucket/in/a.json"), b"{\"a\": 1}\n");
    write(
        &served.join("other-bucket/secret.json"),
        b"{\"other\": 1}\n",
    );
    write(&roots.0.join("outside/secret.txt"), b"a host file\n");
    let server = s3::serve(
        std::slice::from_ref(&served),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let client = s3::client(&format!("http://{}", server.addr));
    let refused = |what: &str, code: Option<&str>, message: Option<&str>| {
        assert_eq!(code, Some("InvalidArgument"), "{what}: {message:?}");
    };

    for prefix in [
        "../",
        "../other-bucket/",
        "../../outside/",
        "in/../../",
        "/",
    ] {
        for delimiter in [None, Some("/")] {
            let listed = client
                .list_objects_v2()
                .bucket("home-bucket")
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_owned))
                .send()
                .await;
            match listed {
                Ok(page) => panic!(
                    "prefix {prefix} (delimiter {delimiter:?}) listed {:?}",
                    page.contents()
                        .iter()
                        .map(|o| o.key().unwrap_or(""))
                        .collect::<Vec<_>>()
                ),
                Err(err) => refused(prefix, err.code(), err.message()),
            }
        }
    }
    let after = client
        .list_objects_v2()
        .bucket("home-bucket")
        .start_after("../other-bucket/")
        .send()
        .await;
    match after {
        Ok(page) => panic!("StartAfter with .. listed {:?}", page.contents()),
        Err(err) => refused("StartAfter", err.code(), err.message()),
    }

    for key in [
        "../other-bucket/secret.json",
        "in/../../other-bucket/secret.json",
    ] {
        match client
            .get_object()
            .bucket("home-bucket")
            .key(key)
            .send()
            .await
        {
            Ok(_) => panic!("GET {key} read another bucket's object"),
            Err(err) => refused(key, err.code(), err.message()),
        }
        let head = client
            .head_object()
            .bucket("home-bucket")
            .key(key)
            .send()
            .await;
        // HEAD has no body: the status alone says it was refused.
        let status = head
            .as_ref()
            .err()
            .and_then(|err| err.raw_response())
            .map(|raw| raw.status().as_u16());
        assert_eq!(status, Some(400), "HEAD {key}: {head:?}");
    }
    let put = client
        .put_object()
        .bucket("home-bucket")
        .key("../other-bucket/planted.json")
        .body(b"{}".to_vec().into())
        .send()
        .await;
    match put {
        Ok(_) => panic!("PUT wrote into another bucket"),
        Err(err) => refused("PUT", err.code(), err.message()),
    }
    assert!(!served.join("other-bucket/planted.json").exists());
    let delete = client
        .delete_object()
        .bucket("home-bucket")
        .key("../other-bucket/secret.json")
        .send()
        .await;
    match delete {
        Ok(_) => panic!("DELETE reached another bucket"),
        Err(err) => refused("DELETE", err.code(), err.message()),
    }
    assert!(served.join("other-bucket/secret.json").is_file());

    // The bucket's own keys are served as before.
    let listed = client
        .list_objects_v2()
        .bucket("home-bucket")
        .prefix("in/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = listed.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(keys, ["in/a.json"]);
    server.stop().await;
}

/// A request naming the bucket's expected owner (`ExpectedBucketOwner`) is served only when it
/// names the local account, which owns every bucket served: another account is 403 AccessDenied.
#[tokio::test]
async fn a_request_naming_another_bucket_owner_is_access_denied() {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let roots = roots();
    let served = roots.0.join("served");
    write(&served.join("home-bucket/in/a.json"), b"{\"a\": 1}\n");
    let server = s3::serve(
        std::slice::from_ref(&served),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let client = s3::client(&format!("http://{}", server.addr));
    let head = |owner: Option<&'static str>| {
        client
            .head_object()
            .bucket("home-bucket")
            .key("in/a.json")
            .set_expected_bucket_owner(owner.map(str::to_owned))
            .send()
    };
    assert!(head(None).await.is_ok());
    assert!(head(Some(s3::LOCAL_ACCOUNT)).await.is_ok());
    let refused = head(Some("210987654321")).await.unwrap_err();
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403)
    );
    let listed = client
        .list_objects_v2()
        .bucket("home-bucket")
        .expected_bucket_owner("210987654321")
        .send()
        .await
        .unwrap_err();
    assert_eq!(listed.code(), Some("AccessDenied"), "{listed:?}");
    let put = client
        .put_object()
        .bucket("home-bucket")
        .key("in/b.json")
        .expected_bucket_owner("210987654321")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(put.code(), Some("AccessDenied"), "{put:?}");
    assert!(!served.join("home-bucket/in/b.json").exists());
    server.stop().await;
}
