//! The benchmark's smoke mode: proves the harness still measures every function and the
//! Python peer (each answer is checked), never how fast anything is.

use std::process::Command;

#[test]
fn the_benchmark_measures_every_target() {
    let exe = std::env::current_exe().unwrap();
    let bin_dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
    let bench = bin_dir.join("bench");
    assert!(bench.exists(), "{} missing: run the tests with scripts/test", bench.display());
    let output = Command::new(bench)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(["--smoke", "--bin-dir"])
        .arg(&bin_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let results = stdout.lines().find_map(|l| l.strip_prefix("RESULTS ")).expect("a RESULTS line");
    let results: serde_json::Value = serde_json::from_str(results).unwrap();
    let labels: Vec<&str> = results.as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        [
            "floor: lambda_runtime alone (echo)",
            "flights GET /flights/{id}",
            "flights POST /flights (3 passengers)",
            "flights POST invalid (no I/O)",
            "alerts GET /alerts",
            "sms (3 texts)",
            "python GET /flights/{id}"
        ]
    );
    for row in results.as_array().unwrap() {
        for figure in ["init_p50_ms", "first_response_p50_ms", "warm_p50_ms", "peak_rss_mib"] {
            assert!(row[figure].as_f64().unwrap() > 0.0, "{} has no {figure}", row["label"]);
        }
    }
}
