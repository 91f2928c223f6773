//! A private PostgreSQL server: the machine's PostgreSQL server binaries (Debian's
//! `postgresql-15`, or those in `PG_BIN`) started on a free loopback port in a temp dir, and
//! stopped with its directory removed on drop. `redshift-local` runs on one when it is given no
//! database URL, and the tests start their own.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ManagedPostgres {
    dir: PathBuf,
    child: Child,
    pub port: u16,
}

fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|dir| dir.join("initdb").exists());
    versions.sort();
    versions.pop().ok_or_else(|| {
        "no PostgreSQL server binaries: install Debian's postgresql-15 (./dev does) or set PG_BIN, or give a database URL".to_owned()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout == b"0\n")
}

/// PostgreSQL will not run as root; as root, run it as the `postgres` account.
fn command(program: &Path) -> Command {
    if is_root() {
        // /usr/sbin is not on every root PATH (cron, CI runners, `env -i`).
        let runuser = ["/usr/sbin/runuser", "/sbin/runuser"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .unwrap_or("runuser");
        let mut cmd = Command::new(runuser);
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| format!("no free loopback port: {err}"))
}

/// The count in the next server folder's name.
static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A new, empty folder of this process's own for one server. Named by the process and a count,
/// and made with `create_dir`, which fails on a folder that exists, so that neither two servers
/// of one process (the name once held a free port, which two tests could both be given) nor a
/// folder an earlier process of the same id left behind is ever shared.
fn new_dir() -> Result<std::path::PathBuf, String> {
    loop {
        let dir = std::env::temp_dir().join(format!(
            "redshift-local-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(format!("{}: {err}", dir.display())),
        }
    }
}

impl ManagedPostgres {
    /// Creates a cluster in a new temp dir and starts it; waits until it accepts logins.
    pub fn start() -> Result<Self, String> {
        let bin = bin_dir()?;
        let dir = new_dir()?;
        if is_root() {
            let chowned = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status();
            if !chowned.is_ok_and(|status| status.success()) {
                return Err(format!(
                    "cannot hand {} to the postgres account",
                    dir.display()
                ));
            }
        }
        let data = dir.join("data");
        let initdb = command(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .map_err(|err| format!("initdb: {err}"))?;
        if !initdb.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&initdb.stderr)
            ));
        }
        let port = free_port()?;
        let child = command(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ])
            .arg("-k")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("postgres: {err}"))?;
        // From here on, dropping the value stops the server and removes the directory.
        let server = ManagedPostgres { dir, child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "PostgreSQL did not accept logins on port {port} within 30 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for ManagedPostgres {
    fn drop(&mut self) {
        // SIGTERM through kill(1): the server runs as another user when we are root.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_gets_a_new_empty_folder_even_beside_one_left_behind() {
        let next = NEXT.load(std::sync::atomic::Ordering::Relaxed);
        let left =
            std::env::temp_dir().join(format!("redshift-local-pg-{}-{next}", std::process::id()));
        std::fs::create_dir_all(left.join("data")).unwrap();
        let (a, b) = (new_dir().unwrap(), new_dir().unwrap());
        assert!(a != left && b != left && a != b, "{a:?} {b:?} {left:?}");
        assert_eq!(std::fs::read_dir(&a).unwrap().count(), 0);
        for dir in [a, b, left] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
