//! moto, the local environment's AWS: started on 127.0.0.1 from the project's venv, a
//! child of this process that dies with it. (The functions' processes are the Lambda
//! service's: `lambda::environment`.)

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::Error;

/// A free port on the loopback interface.
pub fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Process(format!("no free port: {e}")))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| Error::Process(e.to_string()))
}

/// Polls `url` until it answers at all (any status), or gives up at the deadline.
pub async fn wait_until_serving(url: &str, within: Duration) -> Result<(), Error> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap_or_default();
    let deadline = Instant::now() + within;
    loop {
        if http.get(url).send().await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Process(format!("{url} did not come up within {within:?}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until something accepts connections on 127.0.0.1:`port`.
pub async fn wait_until_listening(port: u16, within: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            return Err(Error::Process(format!("nothing listens on port {port} after {within:?}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Copies a child's output lines to our stderr, each prefixed with its source.
fn forward(stream: impl AsyncRead + Unpin + Send + 'static, prefix: String) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{prefix} {line}");
        }
    });
}

fn spawn_logged(mut command: Command, label: &str) -> Result<Child, Error> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| Error::Process(format!("cannot start {label}: {e}")))?;
    let prefix = format!("[{label}]");
    if let Some(out) = child.stdout.take() {
        forward(out, prefix.clone());
    }
    if let Some(err) = child.stderr.take() {
        forward(err, prefix);
    }
    Ok(child)
}

fn tool(venv: &Path, name: &str) -> Result<PathBuf, Error> {
    let path = venv.join("bin").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::Process(format!("{} is missing: run scripts/bootstrap to install the pinned tools", path.display())))
    }
}

/// Starts moto's server on 127.0.0.1.
pub async fn start_moto(venv: &Path, port: u16, quiet: bool) -> Result<Child, Error> {
    let mut command = Command::new(tool(venv, "moto_server")?);
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let child = if quiet {
        command.stdout(Stdio::null()).stderr(Stdio::null()).stdin(Stdio::null()).kill_on_drop(true);
        command.spawn().map_err(|e| Error::Process(format!("cannot start moto: {e}")))?
    } else {
        spawn_logged(command, "moto")?
    };
    wait_until_serving(&format!("http://127.0.0.1:{port}/moto-api/"), Duration::from_secs(60)).await?;
    Ok(child)
}
