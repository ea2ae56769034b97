//! moto, the local environment's AWS: started on 127.0.0.1 from the project's venv, a
//! child of this process that dies with it. (The functions' processes are the Lambda
//! service's: `lambda::environment`.)

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::Error;

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

fn tool(venv: &Path, name: &str) -> Result<PathBuf, Error> {
    let path = venv.join("bin").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::Process(format!("{} is missing: run scripts/bootstrap to install the pinned tools", path.display())))
    }
}

/// Starts moto's server on 127.0.0.1 and returns it with its port. With port 0, moto
/// binds a free port itself and says which, so environments started side by side never
/// race for a port (or, worse, end up sharing one moto).
/// moto's server with DynamoDB's conditional writes made atomic (see the script).
const MOTO_SERVER: &str = include_str!("../moto/serve.py");

pub async fn start_moto(venv: &Path, port: u16, quiet: bool) -> Result<(Child, u16), Error> {
    let mut command = Command::new(tool(venv, "python")?);
    command
        .args(["-c", MOTO_SERVER, "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| Error::Process(format!("cannot start moto: {e}")))?;
    let stderr = child.stderr.take().ok_or_else(|| Error::Process("moto has no stderr".into()))?;
    let mut lines = BufReader::new(stderr).lines();
    let mut said = Vec::new();
    let bound = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(port) =
                line.split("Running on http://127.0.0.1:").nth(1).and_then(|p| p.trim().parse::<u16>().ok())
            {
                return Some(port);
            }
            said.push(line);
        }
        None
    })
    .await;
    let Ok(Some(bound)) = bound else {
        return Err(Error::Process(format!("moto did not start on port {port}: {}", said.join(" | "))));
    };
    // Keep reading its output, so a full pipe never blocks it.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if !quiet {
                eprintln!("[moto] {line}");
            }
        }
    });
    wait_until_serving(&format!("http://127.0.0.1:{bound}/moto-api/"), Duration::from_secs(60)).await?;
    Ok((child, bound))
}
