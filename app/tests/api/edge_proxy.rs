//! deploy/nginx/clicknback.com.conf with a real Nginx in front of the real app: a certificate
//! made here, the file's ports and paths pointed at a scratch folder, and a stand-in blog's
//! server block beside it. The requests go through TLS with curl. Without Nginx (or curl and
//! openssl) the test says so and passes, except in CI, where it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TestDb, free_port, spawn, test_config};

/// Whether `CI` is set (to anything but empty, `0` or `false`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn program(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn ok(out: Output, what: &str) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed ({}):\n{text}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `text` with `from` replaced by `to`; the file must still contain `from`, so a change to the
/// config that this test no longer matches fails here, loudly.
fn swap(text: String, from: &str, to: &str) -> String {
    assert!(text.contains(from), "deploy/nginx/clicknback.com.conf no longer contains `{from}`");
    text.replace(from, to)
}

/// A running Nginx, stopped when dropped: SIGTERM to the master, which stops its workers (a
/// SIGKILL would leave them running, orphaned, on the ports); SIGKILL only if it hangs.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let master = rustix::process::Pid::from_child(&self.0);
        let _ = rustix::process::kill_process(master, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One curl request: the status line, headers and body (`-i`), the TLS certificate not verified
/// (it is made here), the names resolved to 127.0.0.1.
fn curl(url: &str, args: &[&str]) -> String {
    let host = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    let out = Command::new("curl")
        .args(["-sS", "-i", "-k", "--max-time", "10", "--resolve", &format!("{host}:127.0.0.1")])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    ok(out, &format!("curl {url}"))
}

fn status(response: &str) -> u16 {
    response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn header<'a>(response: &'a str, name: &str) -> Vec<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_serves_the_api_over_tls_redirects_http_limits_logins_in_the_error_shape_and_hides_metrics() {
    let missing: Vec<&str> = ["nginx", "curl", "openssl"].into_iter().filter(|p| program(p).is_none()).collect();
    if !missing.is_empty() {
        assert!(!in_ci(), "CI is set, and this test needs {missing:?} (`apt-get install nginx curl openssl`)");
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "skipped the edge proxy test: {missing:?} not installed");
        return;
    }
    let db = TestDb::migrated().await;
    let mut config = test_config(&db);
    config.server.behind_tls = true;
    config.rate_limit.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let app = spawn(config).await;
    let app_port = app.rsplit(':').next().unwrap().to_owned();

    let dir = std::env::temp_dir().join(format!("edge-proxy-{}", uuid::Uuid::new_v4().simple()));
    for sub in ["logs", "www", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let cert = |name: &str| {
        let (crt, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj"])
            .arg(format!("/CN={name}"))
            .arg("-addext")
            .arg(format!("subjectAltName=DNS:{name},DNS:www.{name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .output()
            .unwrap();
        ok(out, "openssl req");
        (crt, key)
    };
    let (crt, key) = cert("clicknback.com");
    let (blog_crt, blog_key) = cert("blog.example");
    let (http, https) = (free_port(), free_port());

    let site =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/clicknback.com.conf"))
            .unwrap();
    let site = swap(site, "    listen [::]:80;\n", "");
    let site = swap(site, "    listen [::]:443 ssl http2;\n", "");
    let site = swap(site, "listen 80;", &format!("listen 127.0.0.1:{http};"));
    let site = swap(site, "listen 443 ssl http2;", &format!("listen 127.0.0.1:{https} ssl http2;"));
    let site = swap(site, "/etc/letsencrypt/live/clicknback.com/fullchain.pem", crt.to_str().unwrap());
    let site = swap(site, "/etc/letsencrypt/live/clicknback.com/chain.pem", crt.to_str().unwrap());
    let site = swap(site, "/etc/letsencrypt/live/clicknback.com/privkey.pem", key.to_str().unwrap());
    let site = swap(site, "/var/www/html", dir.join("www").to_str().unwrap());
    // The upstream file as the docs install it (the scripts rewrite it at each deploy), on the app's port.
    let upstream =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/clicknback-upstream.conf"))
            .unwrap();
    let upstream = swap(upstream, "server 127.0.0.1:8001;", &format!("server 127.0.0.1:{app_port};"));
    std::fs::write(dir.join("clicknback-upstream.conf"), upstream).unwrap();
    let site = swap(
        site,
        "include /opt/clicknback/nginx/clicknback-upstream.conf;",
        &format!("include {};", dir.join("clicknback-upstream.conf").display()),
    );
    std::fs::write(dir.join("clicknback.com.conf"), site).unwrap();
    // Another site on the same Nginx, as the server's blog: its own names and certificate.
    std::fs::write(
        dir.join("blog.conf"),
        format!(
            "server {{\n    listen 127.0.0.1:{https} ssl;\n    server_name blog.example;\n    ssl_certificate {};\n    \
             ssl_certificate_key {};\n    location / {{ return 200 'the blog'; }}\n}}\n",
            blog_crt.display(),
            blog_key.display()
        ),
    )
    .unwrap();
    // As root, the workers would otherwise run as www-data, which cannot read the scratch folder.
    let user = if rustix::process::geteuid().is_root() { "user root;\n" } else { "" };
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "{user}worker_processes 1;\npid {0}/nginx.pid;\nerror_log {0}/logs/error.log warn;\nevents {{}}\n\
             http {{\n    access_log {0}/logs/access.log;\n    client_body_temp_path {0}/tmp/body;\n    \
             proxy_temp_path {0}/tmp/proxy;\n    fastcgi_temp_path {0}/tmp/fastcgi;\n    uwsgi_temp_path {0}/tmp/uwsgi;\n    \
             scgi_temp_path {0}/tmp/scgi;\n    include {0}/clicknback.com.conf;\n    include {0}/blog.conf;\n}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let nginx = program("nginx").unwrap();
    let conf = dir.join("nginx.conf");
    let test = Command::new(&nginx).arg("-t").arg("-p").arg(&dir).arg("-c").arg(&conf).arg("-e").arg("stderr").output();
    ok(test.unwrap(), "nginx -t");
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .args(["-e", "stderr", "-g", "daemon off;"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _nginx = Nginx(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "nginx did not listen on {https}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let api = |path: &str| format!("https://clicknback.com:{https}{path}");
    let (ready_url, http_url) = (api("/health/ready"), format!("http://clicknback.com:{http}/api/v1/merchants?x=1"));
    let (ready, redirect) =
        tokio::task::spawn_blocking(move || (curl(&ready_url, &[]), curl(&http_url, &[]))).await.unwrap();
    assert_eq!(status(&ready), 200, "{ready}");
    assert_eq!(body(&ready), r#"{"status":"ready"}"#);
    assert_eq!(header(&ready, "strict-transport-security"), ["max-age=63072000; includeSubDomains"], "once: {ready}");
    assert_eq!(header(&ready, "x-content-type-options"), ["nosniff"], "the app's headers pass: {ready}");
    assert_eq!(status(&redirect), 301, "{redirect}");
    assert_eq!(header(&redirect, "location"), ["https://clicknback.com/api/v1/merchants?x=1"], "{redirect}");

    let (doc_url, metrics_url, login_url) = (api("/api/v1/openapi.json"), api("/metrics"), api("/api/v1/auth/login"));
    let (doc, metrics, logins) = tokio::task::spawn_blocking(move || {
        let doc = curl(&doc_url, &["-H", "Accept-Encoding: gzip", "-o", "/dev/null", "-D", "-"]);
        let metrics = curl(&metrics_url, &[]);
        let body = r#"{"email":"nobody@example.com","password":"wrong-password"}"#;
        let logins: Vec<String> =
            (0..6).map(|_| curl(&login_url, &["-H", "Content-Type: application/json", "--data", body])).collect();
        (doc, metrics, logins)
    })
    .await
    .unwrap();
    assert_eq!(header(&doc, "content-encoding"), ["gzip"], "JSON is compressed: {doc}");
    assert_eq!(status(&metrics), 404, "{metrics}");
    assert!(!metrics.contains("http_requests"), "{metrics}");

    // 1 + a burst of 3 reach the app (wrong password: 401); the rest are held at the edge.
    let statuses: Vec<u16> = logins.iter().map(|r| status(r)).collect();
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429], "{logins:#?}");
    let limited = &logins[4];
    assert_eq!(header(limited, "content-type"), ["application/json"], "{limited}");
    assert_eq!(header(limited, "retry-after"), ["60"], "{limited}");
    assert_eq!(header(limited, "strict-transport-security").len(), 1, "{limited}");
    let error: serde_json::Value = serde_json::from_str(body(limited)).unwrap();
    assert_eq!(error["code"], "rate_limited");
    assert!(error["request_id"].as_str().is_some_and(|id| id.len() == 32), "{error}");

    // The blog beside it is untouched: its own name, its own certificate.
    let blog_url = format!("https://blog.example:{https}/");
    let blog = tokio::task::spawn_blocking(move || curl(&blog_url, &[])).await.unwrap();
    assert_eq!(body(&blog), "the blog");

    // Stopped, it leaves no worker behind on the ports.
    drop(_nginx);
    assert!(std::net::TcpStream::connect(("127.0.0.1", https)).is_err(), "nothing listens on {https} any more");
    let _ = std::fs::remove_dir_all(&dir);
}
