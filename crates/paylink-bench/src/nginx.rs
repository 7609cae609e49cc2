//! Two instances behind nginx (the guide's site config, `docs/deploy/nginx.conf`), for the
//! two-instance figure. On two cores it measures what the proxy and a second process cost,
//! not how Paylink scales: the cores are shared by nginx, both instances, PostgreSQL and
//! the load.

use std::process::{Command, Stdio};

/// Starts nginx on `listen`, proxying to `a` and `b`; `None` when nginx is not installed.
pub fn start(listen: u16, a: u16, b: u16) -> anyhow::Result<Option<super::Proc>> {
    let Some(bin) = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|b| std::path::Path::new(b).exists())
    else {
        return Ok(None);
    };
    let dir = std::env::temp_dir().join(format!("paylink-bench-nginx-{listen}"));
    std::fs::create_dir_all(&dir)?;
    let site = include_str!("../../../docs/deploy/nginx.conf")
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{listen};"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{a}"))
        .replace("127.0.0.1:8082", &format!("127.0.0.1:{b}"))
        .lines()
        .filter(|l| !l.trim_start().starts_with("ssl_"))
        .collect::<Vec<_>>()
        .join("\n");
    let d = dir.display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log error;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{site}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    let child = Command::new(bin)
        .args(["-p", &d.to_string(), "-c", &path.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Some(super::Proc(child)))
}
