//! What the stack tests drive: `scripts/build-images` (once per process), `docker build` of the
//! samples, a docker-compose project and a Swarm stack behind guards that take them down, the
//! gateway's HTTP API with basic auth, a callback receiver, and Prometheus inside its container.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use e2e::docker::TestResources;
use e2e::poll;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::sync::mpsc;

/// The repository.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate sits in the repository")
        .to_path_buf()
}

/// Runs `command` for at most `timeout`; its stdout, or an error with the command, status and
/// stderr.
pub async fn run(command: &mut Command, timeout: Duration) -> Result<String, String> {
    let shown = format!("{:?}", command.as_std());
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(timeout, command.output()).await {
        Err(_) => return Err(format!("{shown} still running after {timeout:?}")),
        Ok(Err(e)) => return Err(format!("{shown} did not start: {e}")),
        Ok(Ok(output)) => output,
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{shown} exited with {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// `scripts/build-images` (everything, the template bases too), once per test process. The
/// first run on a machine builds the Debian and Python stand-ins (minutes); later runs only
/// check that the images are current (seconds).
pub async fn build_images() {
    static BUILT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let script = root().join("scripts/build-images");
            let sizes = run(&mut Command::new(&script), Duration::from_secs(1800))
                .await
                .unwrap_or_else(|e| panic!("scripts/build-images failed: {e}"));
            println!("{sizes}");
        })
        .await;
}

/// `docker build -t <run prefix><name>:latest <dir>` as a user would run it; tracked so the
/// guard removes it. Returns the tag.
pub async fn docker_build(resources: &TestResources, dir: &str, name: &str) -> String {
    let tag = format!("{}:latest", resources.name(name));
    resources.track_image(tag.clone());
    let mut build = Command::new("docker");
    build
        .args(["build", "-q", "-t", &tag, "--label"])
        .arg(format!("{}={}", e2e::docker::RUN_LABEL, resources.run_id()))
        .arg(root().join(dir));
    run(&mut build, Duration::from_secs(600))
        .await
        .unwrap_or_else(|e| panic!("docker build of {dir} failed: {e}"));
    tag
}

/// A port nothing listens on now, for publishing through the Swarm ingress.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The gateway of network `name` (the host's address on it).
pub async fn network_gateway(name: &str) -> String {
    let mut inspect = Command::new("docker");
    inspect.args([
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Gateway}} {{end}}",
        name,
    ]);
    let out = run(&mut inspect, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("inspecting network {name}: {e}"));
    out.split_whitespace()
        .find(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
        .unwrap_or_else(|| panic!("network {name} has no IPv4 gateway: {out:?}"))
        .to_owned()
}

/// `docker inspect` state of each container: `name: status[/health]`.
pub async fn container_states(ids: &[String]) -> Result<Vec<(String, String)>, String> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut inspect = Command::new("docker");
    inspect.args([
        "inspect",
        "--format",
        "{{.Name}} {{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}/{{.State.ExitCode}}",
    ]);
    inspect.args(ids);
    let out = run(&mut inspect, Duration::from_secs(30)).await?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, s)| (n.trim_start_matches('/').to_owned(), s.to_owned()))
        .collect())
}

/// Ids of the containers (all states) carrying `label`.
pub async fn containers_labelled(label: &str) -> Result<Vec<String>, String> {
    let mut ps = Command::new("docker");
    ps.args(["ps", "-aq", "--no-trunc", "--filter"])
        .arg(format!("label={label}"));
    Ok(run(&mut ps, Duration::from_secs(30))
        .await?
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// Names of the Docker objects of `kind` (network, volume, secret, service) matching `filter`.
pub async fn objects(kind: &str, filter: &str) -> Vec<String> {
    let mut ls = Command::new("docker");
    ls.args([kind, "ls", "--format", "{{.Name}}", "--filter", filter]);
    run(&mut ls, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("listing {kind}s: {e}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A docker-compose project of the repository's docker-compose.yml with this run's names: its
/// own project, function network and data dir, the gateway and Prometheus on random loopback
/// ports. Dropping it runs `down -v` if the test did not.
pub struct Compose {
    pub project: String,
    env: Vec<(String, String)>,
    _data_dir: tempfile::TempDir,
    down: bool,
}

impl Compose {
    pub fn new(resources: &TestResources) -> Compose {
        let data_dir = tempfile::tempdir().expect("a temporary data dir");
        let env = vec![
            ("IRONFAAS_GATEWAY_PORT".to_owned(), "127.0.0.1:".to_owned()),
            (
                "IRONFAAS_PROMETHEUS_PORT".to_owned(),
                "127.0.0.1:".to_owned(),
            ),
            ("IRONFAAS_FUNCTION_NETWORK".to_owned(), resources.name("fn")),
            (
                "IRONFAAS_DATA_DIR".to_owned(),
                data_dir.path().display().to_string(),
            ),
        ];
        Compose {
            project: resources.name("stack"),
            env,
            _data_dir: data_dir,
            down: false,
        }
    }

    pub fn function_network(&self) -> &str {
        &self.env[2].1
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("docker-compose");
        command
            .current_dir(root())
            .args(["-p", &self.project])
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    pub async fn run(&self, args: &[&str], timeout: Duration) -> Result<String, String> {
        run(&mut self.command(args), timeout).await
    }

    /// `up -d`: returns once every service is started, its dependencies healthy first.
    pub async fn up(&self) -> Result<String, String> {
        self.run(&["up", "-d", "--no-build"], Duration::from_secs(300))
            .await
    }

    /// The host port `service`'s `port` is published on.
    pub async fn port(&self, service: &str, port: u16) -> u16 {
        let out = self
            .run(
                &["port", service, &port.to_string()],
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|e| panic!("docker-compose port {service} {port}: {e}"));
        out.trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("docker-compose port {service} {port} printed {out:?}"))
    }

    /// The container of `service`.
    pub async fn container(&self, service: &str) -> String {
        let out = self
            .run(&["ps", "-q", service], Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("docker-compose ps -q {service}: {e}"));
        out.split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("{service} has no container"))
            .to_owned()
    }

    /// The project's containers (all states).
    pub async fn containers(&self) -> Result<Vec<String>, String> {
        containers_labelled(&format!("com.docker.compose.project={}", self.project)).await
    }

    /// `down -v`: containers, networks and volumes removed.
    pub async fn down(mut self) -> Result<String, String> {
        self.down = true;
        self.run(
            &["down", "-v", "--remove-orphans", "--timeout", "10"],
            Duration::from_secs(180),
        )
        .await
    }
}

impl Drop for Compose {
    /// After a failure functions may still hold the function network, which stops `down`:
    /// the stack's containers go first (the provider with them), then whatever is left on the
    /// function network, then `down -v` for networks and volumes.
    fn drop(&mut self) {
        if self.down {
            return;
        }
        let compose = |args: &[&str]| {
            let result = std::process::Command::new("docker-compose")
                .current_dir(root())
                .args(["-p", &self.project])
                .args(args)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .output();
            if let Err(e) = result {
                eprintln!("docker-compose -p {} {args:?} failed: {e}", self.project);
            }
        };
        compose(&["rm", "--force", "--stop", "-v"]);
        let on_network = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("network={}", self.function_network()))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ids: Vec<&str> = on_network.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&ids)
                .output();
        }
        compose(&["down", "-v", "--remove-orphans", "--timeout", "5"]);
    }
}

/// A Swarm stack of deploy/stack.yml deployed by `scripts/deploy-stack`, with this run's names:
/// stack, secrets (run prefix), function network and a free published port. Dropping it
/// removes the stack, its volumes and secrets if the test did not.
pub struct SwarmStack {
    pub name: String,
    pub gateway_port: u16,
    env: Vec<(String, String)>,
    removed: bool,
}

impl SwarmStack {
    pub fn new(resources: &TestResources) -> SwarmStack {
        let gateway_port = free_port();
        let env = vec![
            ("IRONFAAS_SECRET_PREFIX".to_owned(), resources.prefix()),
            ("IRONFAAS_GATEWAY_PORT".to_owned(), gateway_port.to_string()),
            (
                "IRONFAAS_FUNCTION_NETWORK".to_owned(),
                resources.name("swfn"),
            ),
        ];
        SwarmStack {
            name: resources.name("swarm"),
            gateway_port,
            env,
            removed: false,
        }
    }

    pub fn function_network(&self) -> &str {
        &self.env[2].1
    }

    /// `scripts/deploy-stack`; returns the password it created.
    pub async fn deploy(&self) -> Result<String, String> {
        let mut deploy = Command::new(root().join("scripts/deploy-stack"));
        deploy
            .arg(&self.name)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let out = run(&mut deploy, Duration::from_secs(180)).await?;
        out.lines()
            .find_map(|l| l.split_once("password ").map(|(_, p)| p.trim().to_owned()))
            .ok_or_else(|| format!("scripts/deploy-stack printed no password:\n{out}"))
    }

    /// The running task containers of the stack's `service`.
    pub async fn containers(&self, service: &str) -> Result<Vec<String>, String> {
        let mut ps = Command::new("docker");
        ps.args(["ps", "-q", "--no-trunc", "--filter"]).arg(format!(
            "label=com.docker.swarm.service.name={}_{service}",
            self.name
        ));
        Ok(run(&mut ps, Duration::from_secs(30))
            .await?
            .split_whitespace()
            .map(str::to_owned)
            .collect())
    }

    /// What is left of the stack: services, containers, networks, volumes, secrets.
    async fn leftovers(&self) -> Vec<String> {
        let label = format!("label=com.docker.stack.namespace={}", self.name);
        let mut left = Vec::new();
        for kind in ["service", "network", "volume"] {
            left.extend(
                objects(kind, &label)
                    .await
                    .into_iter()
                    .map(|n| format!("{kind} {n}")),
            );
        }
        let containers = containers_labelled(&format!("com.docker.stack.namespace={}", self.name))
            .await
            .unwrap_or_else(|e| vec![e]);
        left.extend(containers.into_iter().map(|c| format!("container {c}")));
        left.extend(
            objects("network", &format!("name={}", self.function_network()))
                .await
                .into_iter()
                .filter(|n| n == self.function_network())
                .map(|n| format!("network {n}")),
        );
        left.extend(
            objects("secret", &format!("name={}", self.env[0].1))
                .await
                .into_iter()
                .map(|n| format!("secret {n}")),
        );
        left
    }

    /// `docker stack rm`, then (once its containers are gone) its volumes and the secrets;
    /// returns whatever is still there afterwards.
    pub async fn remove(mut self) -> Result<Vec<String>, String> {
        self.removed = true;
        self.remove_all().await?;
        Ok(self.leftovers().await)
    }

    async fn remove_all(&self) -> Result<(), String> {
        // Functions a failed test left behind hold the function network: their services are
        // named with the secret prefix (the run prefix), the stack's with `<stack>_`.
        let stack_prefix = format!("{}_", self.name);
        for service in objects("service", &format!("name={}", self.env[0].1)).await {
            if !service.starts_with(&stack_prefix) {
                let _ = run(
                    Command::new("docker").args(["service", "rm", &service]),
                    Duration::from_secs(30),
                )
                .await;
            }
        }
        let mut rm = Command::new("docker");
        rm.args(["stack", "rm", &self.name]);
        run(&mut rm, Duration::from_secs(120)).await?;
        let label = format!("com.docker.stack.namespace={}", self.name);
        let gone = poll::until(Duration::from_secs(120), Duration::from_millis(500), || {
            let label = label.clone();
            async move {
                let left = containers_labelled(&label).await?;
                let networks = objects("network", &format!("label={label}")).await;
                if left.is_empty() && networks.is_empty() {
                    Ok(())
                } else {
                    Err(format!("containers {left:?}, networks {networks:?}"))
                }
            }
        })
        .await
        .map_err(|t| format!("stack {} still has {t}", self.name));
        // Volumes and secrets go even if something else stayed, so a failure leaves less.
        let mut failures = Vec::new();
        for volume in objects("volume", &format!("label={label}")).await {
            if let Err(e) = run(
                Command::new("docker").args(["volume", "rm", &volume]),
                Duration::from_secs(30),
            )
            .await
            {
                failures.push(e);
            }
        }
        for secret in ["basic-auth-user", "basic-auth-password"] {
            let name = format!("{}{secret}", self.env[0].1);
            let _ = run(
                Command::new("docker").args(["secret", "rm", &name]),
                Duration::from_secs(30),
            )
            .await;
        }
        gone?;
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("\n"))
        }
    }
}

impl Drop for SwarmStack {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let this = SwarmStack {
            name: self.name.clone(),
            gateway_port: self.gateway_port,
            env: self.env.clone(),
            removed: true,
        };
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(this.remove_all())
        })
        .join()
        .unwrap_or_else(|_| Err("the removal thread panicked".to_owned()));
        if let Err(e) = outcome {
            eprintln!("removing stack {}: {e}", self.name);
        }
    }
}

/// The gateway's HTTP API as faas-cli and curl use it.
pub struct Gateway {
    pub base: String,
    client: reqwest::Client,
    user: String,
    password: String,
}

/// A response: status, headers (lower-case names), body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Gateway {
    pub fn new(port: u16, user: &str, password: &str) -> Gateway {
        Gateway {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(90))
                .build()
                .expect("an HTTP client"),
            user: user.to_owned(),
            password: password.to_owned(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, String> {
        let response = request.send().await.map_err(|e| format!("{e:?}"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let body = response.text().await.map_err(|e| format!("{e:?}"))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    fn system(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.password))
    }

    pub async fn get(&self, path: &str, auth: bool) -> Result<Answer, String> {
        let request = if auth {
            self.system(reqwest::Method::GET, path)
        } else {
            self.client.get(format!("{}{path}", self.base))
        };
        self.send(request).await
    }

    /// `POST /system/functions`, as faas-cli deploy does after its PUT found nothing.
    pub async fn deploy(&self, name: &str, image: &str) -> Result<Answer, String> {
        let body = json!({"service": name, "image": image, "labels": null, "annotations": null});
        self.send(
            self.system(reqwest::Method::POST, "/system/functions")
                .json(&body),
        )
        .await
    }

    pub async fn remove(&self, name: &str) -> Result<Answer, String> {
        let body = json!({"functionName": name});
        self.send(
            self.system(reqwest::Method::DELETE, "/system/functions")
                .json(&body),
        )
        .await
    }

    /// `GET /system/function/<name>` as JSON.
    pub async fn status(&self, name: &str) -> Result<Value, String> {
        let answer = self.get(&format!("/system/function/{name}"), true).await?;
        if answer.status != 200 {
            return Err(format!("{} {}", answer.status, answer.body));
        }
        serde_json::from_str(&answer.body).map_err(|e| format!("{e}: {}", answer.body))
    }

    pub async fn invoke(&self, name: &str, body: &str) -> Result<Answer, String> {
        let request = self
            .client
            .post(format!("{}/function/{name}", self.base))
            .header("Content-Type", "text/plain")
            .body(body.to_owned());
        self.send(request).await
    }

    pub async fn invoke_async(
        &self,
        name: &str,
        body: &str,
        callback: &str,
    ) -> Result<Answer, String> {
        let request = self
            .client
            .post(format!("{}/async-function/{name}", self.base))
            .header("Content-Type", "text/plain")
            .header("X-Callback-Url", callback)
            .body(body.to_owned());
        self.send(request).await
    }

    /// Polls until `name` has a ready replica.
    pub async fn wait_ready(&self, name: &str, timeout: Duration) -> Result<(), poll::Timeout> {
        poll::until(timeout, Duration::from_millis(250), || async move {
            let status = self.status(name).await?;
            match status["availableReplicas"].as_u64() {
                Some(n) if n >= 1 => Ok(()),
                _ => Err(status.to_string()),
            }
        })
        .await
    }
}

/// A request the callback receiver got.
#[derive(Debug)]
pub struct Callback {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// An HTTP server on `ip` (a Docker network's gateway: the host as containers see it) that
/// answers 200 to every request and hands each over.
pub struct CallbackReceiver {
    pub url: String,
    received: mpsc::UnboundedReceiver<Callback>,
    task: tokio::task::JoinHandle<()>,
}

impl CallbackReceiver {
    pub async fn start(ip: &str) -> CallbackReceiver {
        let listener = TcpListener::bind((ip, 0))
            .await
            .unwrap_or_else(|e| panic!("binding the callback receiver on {ip}: {e}"));
        let port = listener.local_addr().expect("a bound address").port();
        let (tx, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(callback) = receive(stream).await {
                        let _ = tx.send(callback);
                    }
                });
            }
        });
        CallbackReceiver {
            url: format!("http://{ip}:{port}/callback"),
            received,
            task,
        }
    }

    pub async fn next(&mut self, timeout: Duration) -> Option<Callback> {
        tokio::time::timeout(timeout, self.received.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for CallbackReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body) and answers 200.
async fn receive(stream: TcpStream) -> std::io::Result<Callback> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut headers = HashMap::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = headers.get("content-length").and_then(|v| v.parse().ok()) {
        body.resize(length, 0);
        reader.read_exact(&mut body).await?;
    }
    reader
        .get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await?;
    Ok(Callback { headers, body })
}

/// `value` of the instant query `query`, asked of the Prometheus in `container` (its image has
/// busybox wget): the sum over the series, `None` when there is none.
pub async fn prometheus_query(container: &str, query: &str) -> Result<Option<f64>, String> {
    let url =
        reqwest::Url::parse_with_params("http://127.0.0.1:9090/api/v1/query", [("query", query)])
            .map_err(|e| e.to_string())?;
    let mut exec = Command::new("docker");
    exec.args(["exec", container, "wget", "-q", "-O", "-", url.as_str()]);
    let out = run(&mut exec, Duration::from_secs(30)).await?;
    let v: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
    let series = v["data"]["result"]
        .as_array()
        .ok_or_else(|| format!("not a query result: {out}"))?;
    if series.is_empty() {
        return Ok(None);
    }
    let sum = series
        .iter()
        .filter_map(|s| s["value"][1].as_str()?.parse::<f64>().ok())
        .sum();
    Ok(Some(sum))
}

/// The SHA-512 of `data` as `sha512sum` prints it for stdin.
pub fn sha512sum_line(data: &[u8]) -> String {
    let output = std::process::Command::new("sha512sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("a piped stdin").write_all(data)?;
            child.wait_with_output()
        })
        .expect("sha512sum runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
